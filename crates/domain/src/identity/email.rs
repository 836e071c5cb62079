//! Email addresses: normalised (trimmed, lower-cased) so one person has one account.

use crate::DomainError;

/// Checks an email address ([`crate::formats::email_pattern`]) and lower-cases
/// it; the error names the field.
pub fn normalise(field: &str, raw: &str) -> Result<String, DomainError> {
    check(field, raw.trim()).map(|()| raw.trim().to_lowercase())
}

/// Checks an email address as given ([`crate::formats::email_pattern`]).
pub fn check(field: &str, email: &str) -> Result<(), DomainError> {
    if crate::formats::is_email(email) {
        Ok(())
    } else {
        Err(DomainError::invalid(
            field,
            "email",
            "is not a valid email address",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn case_and_spaces_do_not_make_a_new_address() {
        assert_eq!(
            normalise("email", "  Ada@Clinic.TEST ").unwrap(),
            "ada@clinic.test"
        );
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@clinic.test",
            "ada@clinic",
            "a b@clinic.test",
            "a@b@c.test",
            "ada@.test",
        ] {
            assert!(normalise("email", bad).is_err(), "{bad}");
        }
    }
}
