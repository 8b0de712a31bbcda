//! What matching knows about a lead or a customer: cleaned names and companies, exact
//! phone and e-mail keys, and a few identifying custom fields. A customer's profile
//! gathers every lead attached to it (capped), and is stored as JSON.

use std::sync::{Arc, LazyLock};

use serde::{Deserialize, Serialize};
use shangji_contracts::common::Lead;

use crate::domain::match_key::{KeyKind, lead_keys};
use crate::domain::normalize::clean_text;
use crate::domain::text::{CompanyName, PersonName, fold};
use crate::memo::Memo;

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
    /// Digits only (`19800101`). This and the identifying fields below keep every
    /// value the customer's leads gave (a corrected birth date, a second address), at
    /// most [`MAX_VALUES`], first known first. Stored profiles from before they were
    /// lists hold a single string, which reads as a list of one; a single value is still
    /// written that way, so the previous release reads it during a rolling upgrade.
    #[serde(
        rename = "birth_date",
        default,
        deserialize_with = "one_or_many",
        serialize_with = "one_or_many_out",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub birth_dates: Vec<String>,
    #[serde(
        rename = "national_id",
        default,
        deserialize_with = "one_or_many",
        serialize_with = "one_or_many_out",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub national_ids: Vec<String>,
    #[serde(
        rename = "postcode",
        default,
        deserialize_with = "one_or_many",
        serialize_with = "one_or_many_out",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub postcodes: Vec<String>,
    #[serde(
        rename = "locality",
        default,
        deserialize_with = "one_or_many",
        serialize_with = "one_or_many_out",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub localities: Vec<String>,
    #[serde(
        rename = "address",
        default,
        deserialize_with = "one_or_many",
        serialize_with = "one_or_many_out",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub addresses: Vec<String>,
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
            let (slot, value) = if BIRTH_DATE_FIELDS.contains(&field) {
                (&mut profile.birth_dates, digits(value))
            } else if NATIONAL_ID_FIELDS.contains(&field) {
                (&mut profile.national_ids, alphanumeric(value))
            } else if POSTCODE_FIELDS.contains(&field) {
                (&mut profile.postcodes, alphanumeric(value))
            } else if LOCALITY_FIELDS.contains(&field) {
                (&mut profile.localities, fold(value))
            } else if ADDRESS_FIELDS.contains(&field) {
                (&mut profile.addresses, fold(value))
            } else {
                continue;
            };
            // A lead gives one value per field: the first of its synonyms that has one.
            if slot.is_empty() && !value.is_empty() {
                slot.push(value);
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
            (&mut self.birth_dates, &other.birth_dates),
            (&mut self.national_ids, &other.national_ids),
            (&mut self.postcodes, &other.postcodes),
            (&mut self.localities, &other.localities),
            (&mut self.addresses, &other.addresses),
        ] {
            for value in theirs {
                if mine.len() < MAX_VALUES && !mine.contains(value) {
                    mine.push(value.clone());
                }
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

fn digits(raw: &str) -> String {
    clean_text(raw)
        .chars()
        .filter(char::is_ascii_digit)
        .take(16)
        .collect()
}

fn alphanumeric(raw: &str) -> String {
    clean_text(raw)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(32)
        .collect::<String>()
        .to_ascii_uppercase()
}

/// A list, or the single string (or null) that profiles stored before held.
fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(deserializer)? {
        None => Vec::new(),
        Some(OneOrMany::One(value)) => vec![value],
        Some(OneOrMany::Many(values)) => values,
    })
}

/// Writes one value as a plain string (the shape profiles had before they kept lists,
/// which a replica of the previous release can still read during a rolling upgrade) and
/// only a field that really has several values as a list.
#[allow(clippy::ptr_arg)] // serde's `serialize_with` hands over the field as it is
fn one_or_many_out<S: serde::Serializer>(values: &Vec<String>, s: S) -> Result<S::Ok, S::Error> {
    match values.as_slice() {
        [one] => s.serialize_str(one),
        many => many.serialize(s),
    }
}

/// Names and companies parsed, by their text. A check parses the names and companies of
/// dozens of stored candidates, and most are written alike across customers (王伟 is a
/// common name, 有限公司 ends most companies, a company has many contacts): folding,
/// pinyin readings and company parsing were a quarter of a check's CPU at a million
/// customers. A parse depends on the text alone, so a remembered one is never stale.
/// Entries are a few hundred bytes: two generations of 50,000 stay under ~50 MB each.
static NAMES: LazyLock<Memo<Option<Arc<PersonName>>>> = LazyLock::new(|| Memo::new(50_000));
static COMPANIES: LazyLock<Memo<Option<Arc<CompanyName>>>> = LazyLock::new(|| Memo::new(50_000));

/// A profile with its names and companies parsed, ready to compare. The parses are
/// shared with every other profile that holds the same text.
#[derive(Clone, Debug)]
pub struct ParsedProfile {
    pub names: Vec<Arc<PersonName>>,
    pub companies: Vec<Arc<CompanyName>>,
    pub phones: Vec<String>,
    pub emails: Vec<String>,
    pub birth_dates: Vec<String>,
    pub national_ids: Vec<String>,
    pub postcodes: Vec<String>,
    pub localities: Vec<String>,
    pub addresses: Vec<String>,
}

impl From<&MatchProfile> for ParsedProfile {
    fn from(profile: &MatchProfile) -> ParsedProfile {
        ParsedProfile {
            names: profile
                .names
                .iter()
                .filter_map(|n| NAMES.get_or_compute(n, |n| PersonName::parse(n).map(Arc::new)))
                .collect(),
            companies: profile
                .companies
                .iter()
                .filter_map(|c| {
                    COMPANIES.get_or_compute(c, |c| CompanyName::parse(c).map(Arc::new))
                })
                .collect(),
            phones: profile.phones.clone(),
            emails: profile.emails.clone(),
            birth_dates: profile.birth_dates.clone(),
            national_ids: profile.national_ids.clone(),
            postcodes: profile.postcodes.clone(),
            localities: profile.localities.clone(),
            addresses: profile.addresses.clone(),
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
        assert_eq!(profile.birth_dates, ["19800102"]);
        assert_eq!(profile.postcodes, ["2600"]);
        assert!(profile.national_ids.is_empty());
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
            birth_dates: vec!["19800102".into()],
            ..MatchProfile::default()
        };
        for i in 0..10 {
            profile.absorb(&MatchProfile {
                names: vec![format!("name {i}"), "王伟".into()],
                birth_dates: vec![format!("1999010{i}"), "19800102".into()],
                ..MatchProfile::default()
            });
        }
        assert_eq!(profile.names.len(), MAX_VALUES);
        assert_eq!(profile.names[0], "王伟");
        assert_eq!(profile.birth_dates.len(), MAX_VALUES);
        assert_eq!(profile.birth_dates[..2], ["19800102", "19990100"]);
    }

    #[test]
    fn profiles_stored_with_single_identifying_values_still_read() {
        let old = r#"{"names":["王伟"],"birth_date":"19800102","postcode":null}"#;
        let profile: MatchProfile = serde_json::from_str(old).unwrap();
        assert_eq!(profile.birth_dates, ["19800102"]);
        assert!(profile.postcodes.is_empty());
        // One value is written as the previous release wrote it, so it can read it.
        let json = serde_json::to_string(&profile).unwrap();
        assert_eq!(json, r#"{"names":["王伟"],"birth_date":"19800102"}"#);
        let mut two = profile.clone();
        two.birth_dates.push("19800201".into());
        let json = serde_json::to_string(&two).unwrap();
        assert_eq!(
            json,
            r#"{"names":["王伟"],"birth_date":["19800102","19800201"]}"#
        );
        assert_eq!(serde_json::from_str::<MatchProfile>(&json).unwrap(), two);
    }
}
