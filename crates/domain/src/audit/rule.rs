//! What a detector is: the shape the threat detectors (`alerts`) and the backup
//! watch (`backup_watch`) declare their alert kinds in.

use crate::ports::alerts::SubjectKind;

/// A detector: `threshold` events with one of `actions` by one subject within
/// `window` raise an alert of `kind`.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Alert kind.
    pub kind: &'static str,
    /// What it means, for people.
    pub description: &'static str,
    /// The actions counted.
    pub actions: &'static [&'static str],
    /// Who they are counted by.
    pub by: SubjectKind,
    /// How many raise the alert.
    pub threshold: i64,
    /// Over how long, in minutes.
    pub window_minutes: i64,
}
