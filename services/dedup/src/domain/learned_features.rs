//! The values of a lead that the learned model learns from: one value per field, few
//! enough distinct values that outcomes can accumulate on them (a source, an industry,
//! "decision maker: yes", "timeline: within 90 days" …). Recorded at qualification, so
//! the model learns from the lead as it was when it arrived.

use shangji_contracts::common::Lead;

use super::normalize::{clean_text, email_key, phone_key};
use super::score_rules::decision_maker_word;
use super::score_timeline::days_until;

/// Free-text categories (source, industry, region) are cut to this many characters, so
/// a pasted paragraph becomes one rare value instead of a huge one.
const CATEGORY_CHARS: usize = 24;
/// The value of a field the lead left empty.
pub const NONE: &str = "none";

/// Field -> value for every field the model looks at, in a fixed order.
pub fn lead_features(lead: &Lead, received_at_millis: i64) -> Vec<(String, String)> {
    let stated = |raw: &str| {
        if clean_text(raw).is_empty() {
            NONE
        } else {
            "stated"
        }
    };
    let category = |raw: &str| {
        let value: String = clean_text(raw)
            .to_lowercase()
            .chars()
            .take(CATEGORY_CHARS)
            .collect();
        if value.is_empty() {
            NONE.to_owned()
        } else {
            value
        }
    };
    let title = clean_text(&lead.title);
    let decision_maker = if decision_maker_word(&title, &[]).is_some() {
        "yes"
    } else if title.is_empty() {
        NONE
    } else {
        "no"
    };
    let timeline = match days_until(&lead.timeline, received_at_millis) {
        Some(days) if days <= 30 => "within 30 days",
        Some(days) if days <= 90 => "within 90 days",
        Some(days) if days <= 365 => "within a year",
        Some(_) => "over a year",
        None if clean_text(&lead.timeline).is_empty() => NONE,
        None => "unclear",
    };
    vec![
        ("source".to_owned(), category(&lead.source)),
        ("industry".to_owned(), category(&lead.industry)),
        ("region".to_owned(), category(&lead.region)),
        ("decision_maker".to_owned(), decision_maker.to_owned()),
        ("budget".to_owned(), stated(&lead.budget).to_owned()),
        ("need".to_owned(), stated(&lead.need).to_owned()),
        ("timeline".to_owned(), timeline.to_owned()),
        ("company".to_owned(), stated(&lead.company).to_owned()),
        (
            "phone".to_owned(),
            if phone_key(&lead.phone).is_some() {
                "valid"
            } else {
                NONE
            }
            .to_owned(),
        ),
        (
            "email".to_owned(),
            if email_key(&lead.email).is_some() {
                "valid"
            } else {
                NONE
            }
            .to_owned(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lead_becomes_one_value_per_field() {
        let lead = Lead {
            source: " 客户转介绍 ".into(),
            industry: "Manufacturing".into(),
            title: "采购总监".into(),
            budget: "50万".into(),
            timeline: "3个月内".into(),
            phone: "13800138000".into(),
            need: "x".repeat(500),
            ..Lead::default()
        };
        let features = lead_features(&lead, 1_795_420_800_000);
        let get = |field: &str| {
            features
                .iter()
                .find(|(f, _)| f == field)
                .map(|(_, v)| v.as_str())
                .unwrap()
        };
        assert_eq!(features.len(), 10);
        assert_eq!(get("source"), "客户转介绍");
        assert_eq!(get("industry"), "manufacturing");
        assert_eq!(get("region"), "none");
        assert_eq!(get("decision_maker"), "yes");
        assert_eq!(get("budget"), "stated");
        assert_eq!(get("need"), "stated");
        assert_eq!(get("timeline"), "within 90 days");
        assert_eq!((get("phone"), get("email")), ("valid", "none"));
        let long = Lead {
            source: "展".repeat(200),
            timeline: "看情况".into(),
            title: "engineer".into(),
            ..Lead::default()
        };
        let features = lead_features(&long, 0);
        assert_eq!(features[0].1.chars().count(), CATEGORY_CHARS);
        assert_eq!(features[3].1, "no");
        assert_eq!(features[6].1, "unclear");
    }
}
