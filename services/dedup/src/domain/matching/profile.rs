//! What matching knows about a lead or a customer: cleaned names and companies, exact
//! phone and e-mail keys, and a few identifying custom fields. A customer's profile
//! gathers every lead attached to it (capped), and is stored as JSON.

use serde::{Deserialize, Serialize};
use shangji_contracts::common::Lead;

use crate::domain::match_key::{KeyKind, lead_keys};
use crate::domain::normalize::clean_text;
use crate::domain::text::{CompanyName, PersonName, fold};

/// Values kept per field: enough for the spellings one person is known by, small
/// enough that comparing stays cheap.
pub const MAX_VALUES: usize = 6;

/// Custom field names (lower-case) that identify a person, and what they are.
const BIRTH_DATE_FIELDS: &[&str] = &[
    "birth_date",
    "date_of_birth",
    "dob",
    "birthday",
    "出生日期",
    "生日",
];
const NATIONAL_ID_FIELDS: &[&str] = &[
    "national_id",
    "id_number",
    "soc_sec_id",
    "身份证",
    "身份证号",
];
const POSTCODE_FIELDS: &[&str] = &["postcode", "postal_code", "zip", "zip_code", "邮编"];
const LOCALITY_FIELDS: &[&str] = &["locality", "city", "suburb", "town", "城市"];
const ADDRESS_FIELDS: &[&str] = &["address", "street", "street_address", "地址"];

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchProfile {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub companies: Vec<String>,
    /// Exact phone keys (see `normalize::phone_key`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<String>,
    /// Digits only (`19800101`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub national_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postcode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl MatchProfile {
    pub fn from_lead(lead: &Lead) -> MatchProfile {
        let mut profile = MatchProfile::default();
        push_text(&mut profile.names, &lead.contact_name);
        push_text(&mut profile.companies, &lead.company);
        for key in lead_keys(lead) {
            match key.kind {
                KeyKind::Phone => profile.phones.push(key.value),
                KeyKind::Email => profile.emails.push(key.value),
            }
        }
        // Sorted so that a lead's fields are read the same way every time.
        let mut custom: Vec<(String, &String)> = lead
            .custom_fields
            .iter()
            .map(|(k, v)| (clean_text(k).to_lowercase(), v))
            .collect();
        custom.sort();
        for (field, value) in custom {
            let field = field.as_str();
            let slot = if BIRTH_DATE_FIELDS.contains(&field) {
                (&mut profile.birth_date, digits(value))
            } else if NATIONAL_ID_FIELDS.contains(&field) {
                (&mut profile.national_id, alphanumeric(value))
            } else if POSTCODE_FIELDS.contains(&field) {
                (&mut profile.postcode, alphanumeric(value))
            } else if LOCALITY_FIELDS.contains(&field) {
                (&mut profile.locality, Some(fold(value)))
            } else if ADDRESS_FIELDS.contains(&field) {
                (&mut profile.address, Some(fold(value)))
            } else {
                continue;
            };
            if let (slot @ None, Some(value)) = slot
                && !value.is_empty()
            {
                *slot = Some(value);
            }
        }
        profile
    }

    /// Takes in what another lead of the same customer said, keeping earlier values
    /// first and at most [`MAX_VALUES`] of each.
    pub fn absorb(&mut self, other: &MatchProfile) {
        for (mine, theirs) in [
            (&mut self.names, &other.names),
            (&mut self.companies, &other.companies),
            (&mut self.phones, &other.phones),
            (&mut self.emails, &other.emails),
        ] {
            for value in theirs {
                if mine.len() < MAX_VALUES && !mine.contains(value) {
                    mine.push(value.clone());
                }
            }
        }
        for (mine, theirs) in [
            (&mut self.birth_date, &other.birth_date),
            (&mut self.national_id, &other.national_id),
            (&mut self.postcode, &other.postcode),
            (&mut self.locality, &other.locality),
            (&mut self.address, &other.address),
        ] {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
    }

    /// Nothing to match on besides exact keys.
    pub fn is_empty(&self) -> bool {
        *self == MatchProfile::default()
    }
}

fn push_text(values: &mut Vec<String>, raw: &str) {
    let text = clean_text(
        &raw.chars()
            .take(super::super::text::script::MAX_FOLD_CHARS)
            .collect::<String>(),
    );
    if !text.is_empty() {
        values.push(text);
    }
}

fn digits(raw: &str) -> Option<String> {
    Some(
        clean_text(raw)
            .chars()
            .filter(char::is_ascii_digit)
            .take(16)
            .collect(),
    )
}

fn alphanumeric(raw: &str) -> Option<String> {
    Some(
        clean_text(raw)
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(32)
            .collect::<String>()
            .to_ascii_uppercase(),
    )
}

/// A profile with its names and companies parsed, ready to compare.
#[derive(Clone, Debug)]
pub struct ParsedProfile {
    pub names: Vec<PersonName>,
    pub companies: Vec<CompanyName>,
    pub phones: Vec<String>,
    pub emails: Vec<String>,
    pub birth_date: Option<String>,
    pub national_id: Option<String>,
    pub postcode: Option<String>,
    pub locality: Option<String>,
    pub address: Option<String>,
}

impl From<&MatchProfile> for ParsedProfile {
    fn from(profile: &MatchProfile) -> ParsedProfile {
        ParsedProfile {
            names: profile
                .names
                .iter()
                .filter_map(|n| PersonName::parse(n))
                .collect(),
            companies: profile
                .companies
                .iter()
                .filter_map(|c| CompanyName::parse(c))
                .collect(),
            phones: profile.phones.clone(),
            emails: profile.emails.clone(),
            birth_date: profile.birth_date.clone(),
            national_id: profile.national_id.clone(),
            postcode: profile.postcode.clone(),
            locality: profile.locality.clone(),
            address: profile.address.clone(),
        }
    }
}

impl ParsedProfile {
    /// The account key of the first company that has one.
    pub fn account_key(&self) -> Option<&str> {
        self.companies.first().map(|c| c.key.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lead_gives_its_names_keys_and_identifying_custom_fields() {
        let lead = Lead {
            contact_name: " 王伟 ".into(),
            company: "华为".into(),
            phone: "+86 138 0013 8000".into(),
            email: "Wang@Huawei.com".into(),
            custom_fields: [
                ("Date_of_Birth".to_owned(), "1980-01-02".to_owned()),
                ("postcode".to_owned(), " 2600 ".to_owned()),
                ("favourite colour".to_owned(), "red".to_owned()),
            ]
            .into_iter()
            .collect(),
            ..Lead::default()
        };
        let profile = MatchProfile::from_lead(&lead);
        assert_eq!(profile.names, ["王伟"]);
        assert_eq!(profile.phones, ["13800138000"]);
        assert_eq!(profile.emails, ["wang@huawei.com"]);
        assert_eq!(profile.birth_date.as_deref(), Some("19800102"));
        assert_eq!(profile.postcode.as_deref(), Some("2600"));
        assert_eq!(profile.national_id, None);
        let json = serde_json::to_string(&profile).unwrap();
        assert_eq!(
            serde_json::from_str::<MatchProfile>(&json).unwrap(),
            profile
        );
    }

    #[test]
    fn absorbing_keeps_earlier_values_first_and_caps_them() {
        let mut profile = MatchProfile {
            names: vec!["王伟".into()],
            birth_date: Some("19800102".into()),
            ..MatchProfile::default()
        };
        for i in 0..10 {
            profile.absorb(&MatchProfile {
                names: vec![format!("name {i}"), "王伟".into()],
                birth_date: Some("19990101".into()),
                ..MatchProfile::default()
            });
        }
        assert_eq!(profile.names.len(), MAX_VALUES);
        assert_eq!(profile.names[0], "王伟");
        assert_eq!(profile.birth_date.as_deref(), Some("19800102"));
    }
}
