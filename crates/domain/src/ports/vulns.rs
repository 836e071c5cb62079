//! Storage of known vulnerabilities (promise N3): a platform table, one row per
//! advisory, package and version (implemented by the persistence crate).

use crate::DomainError;
use crate::ids::VulnerabilityId;
use crate::vulns::model::Finding;

/// Storage of findings.
pub trait VulnsRepo {
    /// Stores a new finding (a conflict when its advisory, package and version
    /// are recorded already).
    fn insert_vulnerability(&mut self, finding: &Finding) -> Result<(), DomainError>;
    /// The finding of this advisory, package and version, locked until the
    /// transaction ends.
    fn lock_vulnerability_of(
        &mut self,
        advisory_id: &str,
        package: &str,
        version: &str,
    ) -> Result<Option<Finding>, DomainError>;
    /// The finding, locked until the transaction ends.
    fn lock_vulnerability(&mut self, id: VulnerabilityId) -> Result<Option<Finding>, DomainError>;
    /// Writes what may change of a finding: what the last import reported
    /// (title, severity, source, last seen, deadline) and its resolution.
    fn update_vulnerability(&mut self, finding: &Finding) -> Result<(), DomainError>;
    /// Every finding (with the fixed ones when `fixed`), the earliest deadline
    /// first.
    fn vulnerabilities(&mut self, fixed: bool) -> Result<Vec<Finding>, DomainError>;
}
