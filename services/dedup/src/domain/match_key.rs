//! Match keys: the normalised phone and e-mail of a lead. Two leads with one equal key
//! are the same customer; the database keeps each key unique per tenant.

use shangji_contracts::common::Lead;

use super::normalize::{email_key, phone_key};

/// What a key was made from. The order (e-mail before phone) is the order in which a
/// lead's keys are claimed, the same in every replica, so concurrent claims cannot
/// deadlock on each other's keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyKind {
    Email,
    Phone,
}

impl KeyKind {
    /// As stored in `match_keys.kind`; also the lead field the key comes from.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Email => "email",
            KeyKind::Phone => "phone",
        }
    }

    pub fn parse(stored: &str) -> Option<KeyKind> {
        match stored {
            "email" => Some(KeyKind::Email),
            "phone" => Some(KeyKind::Phone),
            _ => None,
        }
    }

    /// How people call it, for reasons written in words.
    pub fn label(self) -> &'static str {
        match self {
            KeyKind::Email => "e-mail",
            KeyKind::Phone => "phone",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MatchKey {
    pub kind: KeyKind,
    pub value: String,
}

impl MatchKey {
    pub fn new(kind: KeyKind, value: impl Into<String>) -> MatchKey {
        MatchKey {
            kind,
            value: value.into(),
        }
    }
}

impl std::fmt::Display for MatchKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind.label(), self.value)
    }
}

/// The lead's keys in claiming order; empty when it has no usable phone or e-mail.
pub fn lead_keys(lead: &Lead) -> Vec<MatchKey> {
    let mut keys: Vec<MatchKey> = [
        email_key(&lead.email).map(|v| MatchKey::new(KeyKind::Email, v)),
        phone_key(&lead.phone).map(|v| MatchKey::new(KeyKind::Phone, v)),
    ]
    .into_iter()
    .flatten()
    .collect();
    keys.sort();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lead_has_a_key_per_usable_contact_detail() {
        let lead = Lead {
            phone: "+86 138-0013-8000".into(),
            email: " Wang@Example.com".into(),
            ..Lead::default()
        };
        assert_eq!(
            lead_keys(&lead),
            vec![
                MatchKey::new(KeyKind::Email, "wang@example.com"),
                MatchKey::new(KeyKind::Phone, "13800138000"),
            ]
        );
        let unusable = Lead {
            phone: "n/a".into(),
            email: "wang at example".into(),
            ..Lead::default()
        };
        assert!(lead_keys(&unusable).is_empty());
    }

    #[test]
    fn kinds_round_trip_through_storage() {
        for kind in [KeyKind::Email, KeyKind::Phone] {
            assert_eq!(KeyKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(KeyKind::parse("fax"), None);
        assert_eq!(
            MatchKey::new(KeyKind::Email, "a@b.cn").to_string(),
            "e-mail a@b.cn"
        );
    }
}
