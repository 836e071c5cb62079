//! Plans: seat limits and feature gates. The plan is set by an operator
//! (`salus clinic set-plan`); billing is outside this product.

use crate::DomainError;

/// A clinic's plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Small practices.
    Free,
    /// Growing clinics: custom roles.
    Pro,
    /// Large clinics: custom roles and per-member overrides.
    Business,
}

impl Plan {
    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "free" => Some(Self::Free),
            "pro" => Some(Self::Pro),
            "business" => Some(Self::Business),
            _ => None,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Pro => "pro",
            Self::Business => "business",
        }
    }

    /// Active members plus pending invitations allowed.
    pub fn seats(self) -> i64 {
        match self {
            Self::Free => 5,
            Self::Pro => 25,
            Self::Business => 500,
        }
    }

    /// Refuses when `used` seats leave no room for one more.
    pub fn require_seat(self, used: i64) -> Result<(), DomainError> {
        if used < self.seats() {
            Ok(())
        } else {
            Err(DomainError::forbidden(
                "plan_upgrade_required",
                format!(
                    "The {} plan allows {} members; upgrade to add more.",
                    self.as_str(),
                    self.seats()
                ),
            ))
        }
    }
}

/// Refuses unless the clinic's plan (its stored name) is the business plan:
/// the gate of the business plan's features (`feature` names them, plural).
pub fn require_business(plan: &str, feature: &str) -> Result<(), DomainError> {
    match Plan::parse(plan) {
        Some(Plan::Business) => Ok(()),
        _ => Err(DomainError::forbidden(
            "plan_upgrade_required",
            format!("{feature} need the business plan (this clinic is on {plan})."),
        )),
    }
}
