//! UpdateOpportunity's rules: which fields a rep may change on an open opportunity, and
//! the history line each change leaves (who and when are added by the caller).

use std::collections::BTreeMap;

use super::gate::valid_field_key;
use super::opportunity::{
    Change, ChangeError, Opportunity, ensure_open, format_amount, format_time,
};

/// Longest custom field value.
pub const FIELD_VALUE_MAX_CHARS: usize = 500;
/// Most custom fields one opportunity may carry.
pub const MAX_FIELDS: usize = 50;

/// What happens to the expected close date.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CloseDate {
    #[default]
    Keep,
    Set(i64),
    Clear,
}

/// The changes asked for; `None` keeps a field.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldUpdate {
    pub amount: Option<f64>,
    pub currency: Option<String>,
    pub expected_close_at: CloseDate,
    pub name: Option<String>,
    /// Custom fields to set; an empty value removes one.
    pub fields: BTreeMap<String, String>,
    pub note: String,
}

/// An ISO 4217 code: three uppercase letters.
pub fn valid_currency(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

/// Why a custom field cannot be set.
pub fn check_custom_field(key: &str, value: &str) -> Result<(), String> {
    if !valid_field_key(key) {
        return Err(format!(
            "`{key}` is not a field key: use lowercase letters, digits or '_' (decision_maker)"
        ));
    }
    if value.trim().chars().count() > FIELD_VALUE_MAX_CHARS {
        return Err(format!(
            "value is longer than {FIELD_VALUE_MAX_CHARS} characters"
        ));
    }
    Ok(())
}

/// Applies `update` to the open `opp` at `now`; returns one change per field that
/// actually changed (an update that changes nothing returns none).
pub fn apply(
    opp: &mut Opportunity,
    update: &FieldUpdate,
    now: i64,
) -> Result<Vec<Change>, UpdateError> {
    ensure_open(opp)?;
    let note = update.note.as_str();
    let mut changes = Vec::new();
    if let Some(amount) = update.amount
        && amount != opp.amount
    {
        changes.push(
            Change::new("amount", format_amount(opp.amount), format_amount(amount)).with_note(note),
        );
        opp.amount = amount;
    }
    if let Some(currency) = &update.currency
        && *currency != opp.currency
    {
        changes
            .push(Change::new("currency", opp.currency.clone(), currency.clone()).with_note(note));
        opp.currency = currency.clone();
    }
    let close_at = match update.expected_close_at {
        CloseDate::Keep => opp.expected_close_at,
        CloseDate::Set(at) => Some(at),
        CloseDate::Clear => None,
    };
    if close_at != opp.expected_close_at {
        changes.push(
            Change::new(
                "expected_close_at",
                format_time(opp.expected_close_at),
                format_time(close_at),
            )
            .with_note(note),
        );
        opp.expected_close_at = close_at;
    }
    if let Some(name) = &update.name
        && *name != opp.name
    {
        changes.push(Change::new("name", opp.name.clone(), name.clone()).with_note(note));
        opp.name = name.clone();
    }
    for (key, value) in &update.fields {
        let value = value.trim();
        let old = opp.fields.get(key).cloned().unwrap_or_default();
        if old == value {
            continue;
        }
        changes.push(Change::new(format!("fields.{key}"), old, value).with_note(note));
        if value.is_empty() {
            opp.fields.remove(key);
        } else {
            opp.fields.insert(key.clone(), value.to_owned());
        }
    }
    if opp.fields.len() > MAX_FIELDS {
        return Err(UpdateError::TooManyFields);
    }
    if !changes.is_empty() {
        opp.updated_at = now;
    }
    Ok(changes)
}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum UpdateError {
    #[error(transparent)]
    Closed(#[from] ChangeError),
    #[error("an opportunity carries at most {MAX_FIELDS} custom fields; remove some first")]
    TooManyFields,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::opportunity::tests_support::open_opportunity;
    use crate::domain::opportunity::{Outcome, close};

    #[test]
    fn each_changed_field_leaves_a_history_line_with_the_previous_value() {
        let mut opp = open_opportunity();
        let update = FieldUpdate {
            amount: Some(650_000.0),
            currency: Some("USD".into()),
            expected_close_at: CloseDate::Set(1_800_000_000_000),
            name: Some(opp.name.clone()),
            fields: BTreeMap::from([("decision_maker".into(), " 李总 ".into())]),
            note: "after the visit".into(),
        };
        let changes = apply(&mut opp, &update, 42).unwrap();
        let lines: Vec<_> = changes
            .iter()
            .map(|c| (c.field.as_str(), c.old_value.as_str(), c.new_value.as_str()))
            .collect();
        assert_eq!(
            lines,
            [
                ("amount", "500000", "650000"),
                ("currency", "CNY", "USD"),
                ("expected_close_at", "", "1800000000000"),
                ("fields.decision_maker", "", "李总"),
            ]
        );
        assert!(changes.iter().all(|c| c.note == "after the visit"));
        assert_eq!(opp.updated_at, 42);
        assert_eq!(opp.fields["decision_maker"], "李总");
        // The same update again changes nothing.
        assert_eq!(apply(&mut opp, &update, 43).unwrap(), vec![]);
        assert_eq!(opp.updated_at, 42);
    }

    #[test]
    fn fields_and_dates_can_be_removed() {
        let mut opp = open_opportunity();
        opp.expected_close_at = Some(7);
        opp.fields.insert("budget_confirmed".into(), "yes".into());
        let update = FieldUpdate {
            expected_close_at: CloseDate::Clear,
            fields: BTreeMap::from([("budget_confirmed".into(), String::new())]),
            ..FieldUpdate::default()
        };
        let changes = apply(&mut opp, &update, 1).unwrap();
        assert_eq!(changes.len(), 2);
        assert_eq!(opp.expected_close_at, None);
        assert!(opp.fields.is_empty());
    }

    #[test]
    fn closed_opportunities_and_bad_values_are_refused() {
        let mut opp = open_opportunity();
        close(&mut opp, Outcome::Won, "", None, "", 1).unwrap();
        let update = FieldUpdate {
            amount: Some(1.0),
            ..FieldUpdate::default()
        };
        assert!(matches!(
            apply(&mut opp, &update, 2),
            Err(UpdateError::Closed(_))
        ));
        assert!(valid_currency("CNY"));
        assert!(!valid_currency("cny"));
        assert!(check_custom_field("decision_maker", "李总").is_ok());
        assert!(check_custom_field("Decision", "x").is_err());
        assert!(check_custom_field("k", &"x".repeat(501)).is_err());
    }
}
