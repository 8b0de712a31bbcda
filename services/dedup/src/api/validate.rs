//! Request checks, with messages that name the field and say what to do.

use shangji_contracts::common::Lead;
use shangji_platform::grpc::{ApiError, FieldViolation};

use crate::domain::normalize::clean_text;

/// No field of a lead is longer than this; longer values are pasted documents, not
/// contact details, and would bloat every row and event they reach.
pub const MAX_FIELD_CHARS: usize = 1000;
/// Customer ids are `cus_` and 32 hex digits; anything far longer is not one.
const MAX_ID_CHARS: usize = 128;

/// The lead to check, once it has something to match on and no oversized field.
pub fn lead_to_check(lead: Option<&Lead>) -> Result<&Lead, ApiError> {
    let Some(lead) = lead else {
        return Err(ApiError::invalid_field(
            "lead",
            "is required: give at least one of phone, email, contact_name or company",
        ));
    };
    let mut violations: Vec<FieldViolation> = [
        ("lead.contact_name", &lead.contact_name),
        ("lead.phone", &lead.phone),
        ("lead.email", &lead.email),
        ("lead.company", &lead.company),
        ("lead.title", &lead.title),
        ("lead.region", &lead.region),
        ("lead.industry", &lead.industry),
        ("lead.source", &lead.source),
        ("lead.need", &lead.need),
        ("lead.budget", &lead.budget),
        ("lead.timeline", &lead.timeline),
    ]
    .into_iter()
    .filter_map(|(field, value)| too_long(field, value))
    .collect();
    for (key, value) in &lead.custom_fields {
        let field = format!(
            "lead.custom_fields.{}",
            key.chars().take(64).collect::<String>()
        );
        violations.extend(too_long(&field, key).or_else(|| too_long(&field, value)));
    }
    if !violations.is_empty() {
        return Err(ApiError::invalid(violations));
    }
    let identifying = [&lead.phone, &lead.email, &lead.contact_name, &lead.company];
    if identifying.iter().all(|value| clean_text(value).is_empty()) {
        return Err(ApiError::invalid_field(
            "lead",
            "has nothing to match on: give at least one of phone, email, contact_name or company",
        ));
    }
    Ok(lead)
}

fn too_long(field: &str, value: &str) -> Option<FieldViolation> {
    let chars = value.chars().count();
    (chars > MAX_FIELD_CHARS).then(|| {
        FieldViolation::new(
            field,
            format!("is {chars} characters long; at most {MAX_FIELD_CHARS} are allowed"),
        )
    })
}

/// A customer id to look up.
pub fn customer_id(raw: &str) -> Result<&str, ApiError> {
    let id = raw.trim();
    if id.is_empty() {
        return Err(ApiError::invalid_field(
            "customer_id",
            "is required: pass the id of a customer (cus_…)",
        ));
    }
    if id.chars().count() > MAX_ID_CHARS {
        return Err(ApiError::invalid_field(
            "customer_id",
            format!("is longer than {MAX_ID_CHARS} characters, so it names no customer"),
        ));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violations(err: ApiError) -> Vec<FieldViolation> {
        match err {
            ApiError::InvalidArgument { violations, .. } => violations,
            other => panic!("expected invalid argument, got {other:?}"),
        }
    }

    #[test]
    fn a_lead_needs_something_to_match_on() {
        let err = lead_to_check(None).unwrap_err();
        assert_eq!(violations(err)[0].field, "lead");
        let blank = Lead {
            phone: " \u{3000}".into(),
            title: "CEO".into(),
            ..Lead::default()
        };
        let v = violations(lead_to_check(Some(&blank)).unwrap_err());
        assert_eq!(v[0].field, "lead");
        assert!(
            v[0].description
                .contains("phone, email, contact_name or company")
        );
        let named = Lead {
            contact_name: "王伟".into(),
            ..Lead::default()
        };
        assert!(lead_to_check(Some(&named)).is_ok());
    }

    #[test]
    fn oversized_fields_are_named() {
        let lead = Lead {
            phone: "1".repeat(1001),
            need: "需".repeat(1000),
            custom_fields: [("note".to_owned(), "x".repeat(2000))]
                .into_iter()
                .collect(),
            ..Lead::default()
        };
        let v = violations(lead_to_check(Some(&lead)).unwrap_err());
        let fields: Vec<&str> = v.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["lead.phone", "lead.custom_fields.note"]);
        assert!(v[0].description.contains("1001 characters"));
    }

    #[test]
    fn customer_ids_must_be_present_and_plausible() {
        assert_eq!(customer_id(" cus_1 ").unwrap(), "cus_1");
        assert_eq!(
            violations(customer_id("").unwrap_err())[0].field,
            "customer_id"
        );
        assert!(customer_id(&"c".repeat(500)).is_err());
    }
}
