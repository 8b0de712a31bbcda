//! Request validation that reports every bad field at once, each with what is wrong.

use shangji_platform::grpc::{ApiError, FieldViolation};

use crate::domain::opportunity::{self, ChangeError};

/// Collects field violations; a check that fails returns an empty value that is never
/// used, because [`Checks::finish`] then refuses the request.
#[derive(Debug, Default)]
pub struct Checks(Vec<FieldViolation>);

impl Checks {
    pub fn violation(&mut self, field: &str, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    /// A required identifier, trimmed.
    pub fn id(&mut self, field: &str, value: &str) -> String {
        let value = value.trim();
        if value.is_empty() {
            self.violation(field, "is required");
        } else if value.len() > 128 {
            self.violation(
                field,
                "is longer than 128 bytes; it is not an id this service issued",
            );
        }
        value.to_owned()
    }

    /// Required free text, trimmed.
    pub fn required_text(&mut self, field: &str, value: &str, max_chars: usize) -> String {
        opportunity::required_text(value, max_chars).unwrap_or_else(|err| {
            self.violation(field, err.to_string());
            String::new()
        })
    }

    /// Optional free text, trimmed.
    pub fn text(&mut self, field: &str, value: &str, max_chars: usize) -> String {
        opportunity::optional_text(value, max_chars).unwrap_or_else(|err| {
            self.violation(field, err.to_string());
            String::new()
        })
    }

    /// An optional amount.
    pub fn amount(&mut self, field: &str, value: Option<f64>) -> Option<f64> {
        let amount = value?;
        match opportunity::valid_amount(amount) {
            Ok(amount) => Some(amount),
            Err(err) => {
                self.violation(field, format!("{err}, got {amount}"));
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(self.0))
        }
    }
}

pub fn not_found(opportunity_id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "opportunity {opportunity_id} not found; ListOpportunities shows the ones you can see"
    ))
}

/// A change the opportunity's state does not allow.
pub fn refused(err: ChangeError) -> ApiError {
    ApiError::FailedPrecondition {
        message: err.to_string(),
        missing: Vec::new(),
    }
}

/// Every attempt lost to a concurrent change of the same opportunity.
pub fn contended(opportunity_id: &str) -> ApiError {
    ApiError::Unavailable(format!(
        "opportunity {opportunity_id} is being changed by others right now; retry with the same idempotency key"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_field_is_reported() {
        let mut checks = Checks::default();
        assert_eq!(checks.id("opportunity_id", "  opp_1 "), "opp_1");
        checks.id("customer_id", " ");
        checks.required_text("summary", "", 10);
        checks.text("note", &"x".repeat(11), 10);
        assert_eq!(checks.amount("amount", Some(-3.0)), None);
        assert_eq!(checks.amount("amount", None), None);
        let err = checks.finish().unwrap_err().to_string();
        for field in ["customer_id", "summary", "note", "amount"] {
            assert!(err.contains(field), "{field} missing from {err}");
        }
        assert!(!err.contains("opportunity_id"), "{err}");
        assert!(Checks::default().finish().is_ok());
    }
}
