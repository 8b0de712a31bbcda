//! Where a value from a form or a webhook payload goes: a built-in lead field, an
//! attribution field, or else a custom field. Forms map posted names to targets;
//! connectors map targets to paths in the payload. Pure: no I/O.

use shangji_contracts::common::{Attribution, Lead};
use shangji_platform::grpc::FieldViolation;

use crate::domain::lead_fields;

/// Attribution fields a form or payload may carry.
pub const ATTRIBUTION_FIELDS: [&str; 7] = [
    "campaign",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "referrer",
];
const MAX_KEY: usize = 64;
/// Capture refuses longer attribution values.
const MAX_ATTRIBUTION: usize = 500;
const MAX_MAPPING: usize = 200;
const MAX_PATH: usize = 256;

/// A lead and its attribution being filled from a channel's payload.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Filled {
    pub lead: Lead,
    pub attribution: Attribution,
}

impl Filled {
    /// Puts `value` (trimmed; empty values are skipped) where `target` says.
    pub fn set(&mut self, target: &str, value: &str) {
        let value = value.trim();
        if value.is_empty() {
            return;
        }
        // Attribution comes from page URLs and headers the sender does not control
        // field by field; a long one is cut rather than refused.
        let value = if ATTRIBUTION_FIELDS.contains(&target) {
            value.chars().take(MAX_ATTRIBUTION).collect()
        } else {
            value.to_owned()
        };
        let a = &mut self.attribution;
        match target {
            "campaign" => a.campaign = value,
            "utm_source" => a.utm_source = value,
            "utm_medium" => a.utm_medium = value,
            "utm_campaign" => a.utm_campaign = value,
            "utm_term" => a.utm_term = value,
            "utm_content" => a.utm_content = value,
            "referrer" => a.referrer = value,
            field => lead_fields::set(&mut self.lead, field, value),
        }
    }

    /// Sets `target` only when it is still empty (defaults, values from a page URL).
    pub fn set_if_empty(&mut self, target: &str, value: &str) {
        if self.get(target).is_empty() {
            self.set(target, value);
        }
    }

    pub fn get(&self, target: &str) -> &str {
        let a = &self.attribution;
        match target {
            "campaign" => &a.campaign,
            "utm_source" => &a.utm_source,
            "utm_medium" => &a.utm_medium,
            "utm_campaign" => &a.utm_campaign,
            "utm_term" => &a.utm_term,
            "utm_content" => &a.utm_content,
            "referrer" => &a.referrer,
            field => lead_fields::get(&self.lead, field),
        }
    }
}

/// Whether a name is taken as it is when no mapping names it.
pub fn is_known_target(name: &str) -> bool {
    lead_fields::is_built_in(name) || ATTRIBUTION_FIELDS.contains(&name)
}

/// An id in a URL: 1 to 64 letters, digits, '-', '_' or '.'.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_KEY
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

pub fn check_id(field: &str, id: &str) -> Option<FieldViolation> {
    (!is_valid_id(id)).then(|| {
        FieldViolation::new(
            field,
            format!("must be 1 to {MAX_KEY} characters of letters, digits, '-', '_' or '.'"),
        )
    })
}

/// Checks a mapping's keys and values: both non-empty single-line text, targets short
/// enough to be field keys (`targets_are_keys` says which side holds the targets).
pub fn check_mapping(
    path: &str,
    mapping: &std::collections::BTreeMap<String, String>,
    targets_are_keys: bool,
) -> Vec<FieldViolation> {
    let mut violations = Vec::new();
    if mapping.len() > MAX_MAPPING {
        violations.push(FieldViolation::new(
            path,
            format!("at most {MAX_MAPPING} fields can be mapped"),
        ));
    }
    for (key, value) in mapping {
        let (target, source) = if targets_are_keys {
            (key, value)
        } else {
            (value, key)
        };
        if !is_plain(target, MAX_KEY) {
            violations.push(FieldViolation::new(
                format!("{path}[{key}]"),
                format!(
                    "the target must be a lead field, an attribution field or a custom field key (1 to {MAX_KEY} characters)"
                ),
            ));
        }
        if !is_plain(source, MAX_PATH) {
            violations.push(FieldViolation::new(
                format!("{path}[{key}]"),
                format!("the source must be 1 to {MAX_PATH} characters of plain text"),
            ));
        }
    }
    violations
}

fn is_plain(text: &str, max: usize) -> bool {
    let trimmed = text.trim();
    !trimmed.is_empty() && trimmed.chars().count() <= max && !trimmed.chars().any(char::is_control)
}

/// Short single-line text for defaults (source, campaign).
pub fn check_default(field: &str, value: &str) -> Option<FieldViolation> {
    (value.chars().count() > 100 || value.chars().any(char::is_control))
        .then(|| FieldViolation::new(field, "must be one line of at most 100 characters"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_land_in_lead_attribution_or_custom_fields() {
        let mut f = Filled::default();
        f.set("contact_name", " 王伟 ");
        f.set("utm_source", "baidu");
        f.set("微信", "wangwei88");
        f.set("phone", "   ");
        assert_eq!(f.lead.contact_name, "王伟");
        assert_eq!(f.attribution.utm_source, "baidu");
        assert_eq!(f.lead.custom_fields["微信"], "wangwei88");
        assert!(f.lead.phone.is_empty());
        f.set_if_empty("utm_source", "google");
        f.set_if_empty("campaign", "双十一");
        assert_eq!(f.get("utm_source"), "baidu");
        assert_eq!(f.get("campaign"), "双十一");
    }

    #[test]
    fn ids_are_url_safe() {
        assert!(is_valid_id("contact-us_2026.v1"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("a/b"));
        assert!(!is_valid_id("表单"));
        assert!(!is_valid_id(&"x".repeat(65)));
    }

    #[test]
    fn mappings_name_both_sides() {
        let mut m = std::collections::BTreeMap::new();
        m.insert("your-name".to_owned(), "contact_name".to_owned());
        m.insert("bad".to_owned(), " ".to_owned());
        let v = check_mapping("form.field_mapping", &m, false);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].field, "form.field_mapping[bad]");
    }
}
