//! Email addresses: normalised (trimmed, lower-cased) so one person has one account.

use crate::DomainError;

/// Normalises and checks an email address; the error names the field.
pub fn normalise(field: &str, raw: &str) -> Result<String, DomainError> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && local.len() <= 64
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.matches('@').count() == 1;
    if valid {
        Ok(email)
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
