//! Purpose of use: a clinic may require every clinical read to say why
//! (`purpose_of_use_required`, off by default). The caller names its purpose in
//! the `X-Purpose-Of-Use` header with a code of HL7 v3's PurposeOfUse value set
//! (the vocabulary of IHE's and FHIR's security labels); the read's audit event
//! keeps it, and a clinical read without one is refused (403
//! `purpose_of_use_required`) in the clinic that requires it. Every clinical
//! read passes `Core::audit_patient_read` or `Core::audit_clinical_read`
//! (or, for a whole record's export, [`require`]), where the rule is applied.
//! A leaf: it imports nothing of the services.

use crate::DomainError;

/// The header that carries the purpose.
pub const HEADER: &str = "X-Purpose-Of-Use";

/// Why a member reads clinical data: the codes of HL7 v3 PurposeOfUse
/// (2.16.840.1.113883.1.11.20448) a clinic's staff has a use for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurposeOfUse {
    /// `TREAT`: treatment.
    Treatment,
    /// `ETREAT`: emergency treatment.
    EmergencyTreatment,
    /// `CAREMGT`: care management.
    CareManagement,
    /// `COC`: coordination of care.
    CoordinationOfCare,
    /// `PATRQT`: the patient asked.
    PatientRequested,
    /// `HOPERAT`: healthcare operations.
    Operations,
    /// `HPAYMT`: payment.
    Payment,
    /// `HQUALIMP`: quality improvement.
    QualityImprovement,
    /// `HRESCH`: research.
    Research,
    /// `PUBHLTH`: public health.
    PublicHealth,
    /// `LEGAL`: a legal obligation.
    Legal,
}

impl PurposeOfUse {
    /// Every purpose, in the order the contract lists them.
    pub const ALL: [Self; 11] = [
        Self::Treatment,
        Self::EmergencyTreatment,
        Self::CareManagement,
        Self::CoordinationOfCare,
        Self::PatientRequested,
        Self::Operations,
        Self::Payment,
        Self::QualityImprovement,
        Self::Research,
        Self::PublicHealth,
        Self::Legal,
    ];

    /// The HL7 code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Treatment => "TREAT",
            Self::EmergencyTreatment => "ETREAT",
            Self::CareManagement => "CAREMGT",
            Self::CoordinationOfCare => "COC",
            Self::PatientRequested => "PATRQT",
            Self::Operations => "HOPERAT",
            Self::Payment => "HPAYMT",
            Self::QualityImprovement => "HQUALIMP",
            Self::Research => "HRESCH",
            Self::PublicHealth => "PUBHLTH",
            Self::Legal => "LEGAL",
        }
    }

    /// The purpose an HL7 code names, exactly as written.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.code() == code)
    }
}

/// Refuses a clinical read when the clinic `required` a purpose of use and the
/// caller `stated` none (the actor's and the client's fields).
pub fn require(required: bool, stated: Option<PurposeOfUse>) -> Result<(), DomainError> {
    if required && stated.is_none() {
        return Err(DomainError::forbidden(
            "purpose_of_use_required",
            "This clinic requires every clinical read to state its purpose: send the \
             X-Purpose-Of-Use header with an HL7 PurposeOfUse code such as TREAT.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::PurposeOfUse;

    #[test]
    fn every_code_names_its_purpose_and_nothing_else_does() {
        for purpose in PurposeOfUse::ALL {
            assert_eq!(PurposeOfUse::from_code(purpose.code()), Some(purpose));
        }
        for other in ["", "treat", "TREAT ", "BTG", "X"] {
            assert_eq!(PurposeOfUse::from_code(other), None, "{other:?}");
        }
    }
}
