//! Field checks for the review, merge and scoring requests, collected so that one
//! answer names every bad field at once.

use shangji_platform::grpc::{ApiError, FieldViolation};

/// Ids are a prefix and 32 hex digits; anything far longer is not one of ours.
const MAX_ID_CHARS: usize = 128;
/// Notes and reasons are for people reading the history, not documents.
pub const MAX_NOTE_CHARS: usize = 1000;

#[derive(Default)]
pub struct Fields {
    violations: Vec<FieldViolation>,
}

impl Fields {
    /// A required id, trimmed; empty when it is missing or implausible (and noted).
    pub fn id<'a>(&mut self, field: &str, raw: &'a str, what: &str) -> &'a str {
        let id = raw.trim();
        if id.is_empty() {
            self.violate(field, format!("is required: pass the id of a {what}"));
        } else if id.chars().count() > MAX_ID_CHARS {
            self.violate(
                field,
                format!("is longer than {MAX_ID_CHARS} characters, so it names no {what}"),
            );
        }
        id
    }

    /// Free text for the history, trimmed, at most [`MAX_NOTE_CHARS`].
    pub fn note<'a>(&mut self, field: &str, raw: &'a str) -> &'a str {
        let note = raw.trim();
        let chars = note.chars().count();
        if chars > MAX_NOTE_CHARS {
            self.violate(
                field,
                format!("is {chars} characters long; at most {MAX_NOTE_CHARS} are allowed"),
            );
        }
        note
    }

    pub fn violate(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.violations
            .push(FieldViolation::new(field, description));
    }

    /// Fails with every violation found, or passes.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.violations.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(self.violations))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_field_is_named_at_once() {
        let mut fields = Fields::default();
        assert_eq!(fields.id("review_id", " rev_1 ", "review item"), "rev_1");
        fields.id("merge_id", "", "merge");
        fields.note("note", &"字".repeat(1001));
        let ApiError::InvalidArgument { violations, .. } = fields.finish().unwrap_err() else {
            panic!("expected invalid argument")
        };
        let named: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(named, ["merge_id", "note"]);
        assert!(violations[1].description.contains("1001 characters"));
        assert!(Fields::default().finish().is_ok());
    }
}
