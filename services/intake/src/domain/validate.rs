//! What intake accepts. A lead must be reachable (a phone, an e-mail or a WeChat
//! OpenID) and name somebody (a contact or a company); every field has a sane length;
//! text carries no control characters. Violations are collected, not stopped at the first, so the
//! caller can fix everything in one go. Intake stores the lead as written: making
//! "王先生" and "Wang" meet is dedup's job, not a reason to reject.

use shangji_contracts::common::Lead;
use shangji_platform::grpc::FieldViolation;

use crate::domain::field_value::is_email;

/// The custom field holding a WeChat follower's OpenID (set by the Official Account
/// connector): enough to reach the lead.
pub const WECHAT_OPENID: &str = "wechat_openid";

/// Longest accepted value per field, in characters.
const LIMITS: &[(&str, usize)] = &[
    ("contact_name", 100),
    ("phone", 40),
    ("email", 254),
    ("company", 200),
    ("title", 100),
    ("region", 100),
    ("industry", 100),
    ("source", 100),
    ("need", 2000),
    ("budget", 100),
    ("timeline", 100),
];
const MAX_CUSTOM_FIELDS: usize = 50;
const MAX_CUSTOM_KEY: usize = 64;
const MAX_CUSTOM_VALUE: usize = 1000;
pub const MAX_IDEMPOTENCY_KEY: usize = 128;

fn field<'a>(lead: &'a Lead, name: &str) -> &'a str {
    match name {
        "contact_name" => &lead.contact_name,
        "phone" => &lead.phone,
        "email" => &lead.email,
        "company" => &lead.company,
        "title" => &lead.title,
        "region" => &lead.region,
        "industry" => &lead.industry,
        "source" => &lead.source,
        "need" => &lead.need,
        "budget" => &lead.budget,
        _ => &lead.timeline,
    }
}

/// Checks a submitted lead; `prefix` names it in violations (e.g. `lead`).
pub fn validate_lead(lead: &Lead, prefix: &str) -> Vec<FieldViolation> {
    let mut violations = Vec::new();
    let path = |name: &str| format!("{prefix}.{name}");
    for (name, limit) in LIMITS {
        let value = field(lead, name);
        let chars = value.chars().count();
        if chars > *limit {
            violations.push(FieldViolation::new(
                path(name),
                format!("is {chars} characters long; at most {limit} are accepted"),
            ));
        }
        // Free text (need) may span lines; other fields are single-line.
        let multiline = *name == "need";
        if value
            .chars()
            .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
        {
            violations.push(FieldViolation::new(
                path(name),
                "contains control characters; send plain text",
            ));
        }
    }
    let phone = lead.phone.trim();
    let email = lead.email.trim();
    // A follower of the tenant's WeChat Official Account can be answered there.
    let wechat = lead
        .custom_fields
        .get(WECHAT_OPENID)
        .map_or("", |v| v.trim());
    if phone.is_empty() && email.is_empty() && wechat.is_empty() {
        violations.push(FieldViolation::new(
            prefix,
            "needs a phone or an e-mail (or a WeChat OpenID in custom field wechat_openid), so that someone can follow the lead up",
        ));
    }
    if lead.contact_name.trim().is_empty() && lead.company.trim().is_empty() {
        violations.push(FieldViolation::new(
            prefix,
            "needs a contact_name or a company, so that the lead names somebody",
        ));
    }
    if !phone.is_empty() {
        let digits = phone.chars().filter(|c| c.is_numeric()).count();
        if !(7..=20).contains(&digits) {
            violations.push(FieldViolation::new(
                path("phone"),
                format!(
                    "`{phone}` has {digits} digits; a phone number has 7 to 20 (extension included)"
                ),
            ));
        }
    }
    if !email.is_empty() && !is_email(email) {
        violations.push(FieldViolation::new(
            path("email"),
            format!("`{email}` is not an e-mail address (expected name@domain.tld)"),
        ));
    }
    if lead.custom_fields.len() > MAX_CUSTOM_FIELDS {
        violations.push(FieldViolation::new(
            path("custom_fields"),
            format!(
                "has {} entries; at most {MAX_CUSTOM_FIELDS} are accepted",
                lead.custom_fields.len()
            ),
        ));
    }
    for (key, value) in &lead.custom_fields {
        if key.trim().is_empty() || key.chars().count() > MAX_CUSTOM_KEY {
            violations.push(FieldViolation::new(
                path("custom_fields"),
                format!("key `{key}` must be 1 to {MAX_CUSTOM_KEY} characters"),
            ));
        }
        if value.chars().count() > MAX_CUSTOM_VALUE || value.chars().any(char::is_control) {
            violations.push(FieldViolation::new(
                format!("{prefix}.custom_fields[{key}]"),
                format!("must be plain text of at most {MAX_CUSTOM_VALUE} characters"),
            ));
        }
    }
    violations
}

/// Checks the idempotency key of a submission.
pub fn validate_idempotency_key(key: &str) -> Option<FieldViolation> {
    if key.chars().count() > MAX_IDEMPOTENCY_KEY || key.chars().any(char::is_control) {
        Some(FieldViolation::new(
            "idempotency_key",
            format!("must be plain text of at most {MAX_IDEMPOTENCY_KEY} characters"),
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead() -> Lead {
        Lead {
            contact_name: "王伟".into(),
            phone: "+86 138-0013-8000".into(),
            company: "北京华为科技有限公司".into(),
            ..Default::default()
        }
    }

    fn fields(v: &[FieldViolation]) -> Vec<&str> {
        v.iter().map(|v| v.field.as_str()).collect()
    }

    #[test]
    fn a_reachable_named_lead_is_valid() {
        assert!(validate_lead(&lead(), "lead").is_empty());
        let full_width = Lead {
            phone: "１３８ ００１３ ８０００".into(),
            ..lead()
        };
        assert!(validate_lead(&full_width, "lead").is_empty());
    }

    #[test]
    fn unreachable_or_anonymous_leads_are_rejected_with_reasons() {
        let v = validate_lead(&Lead::default(), "lead");
        assert_eq!(fields(&v), ["lead", "lead"]);
        assert!(v[0].description.contains("phone or an e-mail"));
        assert!(v[1].description.contains("contact_name or a company"));
        let follower = Lead {
            contact_name: "微信用户 a1b2c3".into(),
            custom_fields: [(WECHAT_OPENID.to_owned(), "oAbC-a1b2c3".to_owned())].into(),
            ..Lead::default()
        };
        assert!(validate_lead(&follower, "lead").is_empty());
        let blank = Lead {
            custom_fields: [(WECHAT_OPENID.to_owned(), "  ".to_owned())].into(),
            ..follower
        };
        assert_eq!(fields(&validate_lead(&blank, "lead")), ["lead"]);
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = Lead {
            phone: "12".into(),
            email: "wang at example".into(),
            need: "x".repeat(2001),
            title: "CEO\u{0007}".into(),
            ..lead()
        };
        let v = validate_lead(&bad, "lead");
        assert_eq!(
            fields(&v),
            ["lead.title", "lead.need", "lead.phone", "lead.email"]
        );
    }

    #[test]
    fn multi_line_need_is_fine_but_emoji_anywhere_is_fine_too() {
        let ok = Lead {
            need: "需要 CRM\n预算已批 🎉".into(),
            contact_name: "小王 😀".into(),
            ..lead()
        };
        assert!(validate_lead(&ok, "lead").is_empty());
    }

    #[test]
    fn idempotency_keys_are_bounded() {
        assert!(validate_idempotency_key("erp-4711").is_none());
        assert!(validate_idempotency_key(&"k".repeat(129)).is_some());
    }
}
