//! Choosing the customer a lead belongs to: among the customers holding its exact keys
//! (this file), else by comparing it with the customers sharing a blocking key
//! ([`decision`]).

pub mod blocking;
pub mod compare;
pub mod decision;
pub mod profile;

pub use blocking::{blocking_keys, partitions};
pub use decision::{Decision, MatchThresholds, MatchVerdict, decide, judge};
pub use profile::{MatchProfile, ParsedProfile};

use std::collections::BTreeSet;

use super::match_key::MatchKey;

/// A known customer holding one of the lead's keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyOwner {
    pub key: MatchKey,
    pub customer_id: String,
    /// When the customer was created (UTC ms); the older customer wins a tie.
    pub customer_created_at: i64,
}

/// A customer the lead could belong to, with the lead's keys it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub customer_id: String,
    pub created_at: i64,
    pub keys: Vec<MatchKey>,
}

/// Customers holding any of the lead's keys, best first: the one holding most of the
/// keys, then the oldest, then the smallest id (ids are time-ordered), so every replica
/// ranks the same owners the same way.
pub fn rank_candidates(owners: &[KeyOwner]) -> Vec<Candidate> {
    let mut candidates: Vec<Candidate> = Vec::new();
    for owner in owners {
        match candidates
            .iter_mut()
            .find(|c| c.customer_id == owner.customer_id)
        {
            Some(candidate) => {
                if !candidate.keys.contains(&owner.key) {
                    candidate.keys.push(owner.key.clone());
                }
            }
            None => candidates.push(Candidate {
                customer_id: owner.customer_id.clone(),
                created_at: owner.customer_created_at,
                keys: vec![owner.key.clone()],
            }),
        }
    }
    for candidate in &mut candidates {
        candidate.keys.sort();
    }
    candidates.sort_by(|a, b| {
        b.keys
            .len()
            .cmp(&a.keys.len())
            .then(a.created_at.cmp(&b.created_at))
            .then_with(|| a.customer_id.cmp(&b.customer_id))
    });
    candidates
}

/// The lead's keys that no customer holds yet, which the chosen customer takes.
pub fn unowned_keys(lead_keys: &[MatchKey], owners: &[KeyOwner]) -> Vec<MatchKey> {
    let owned: BTreeSet<&MatchKey> = owners.iter().map(|o| &o.key).collect();
    lead_keys
        .iter()
        .filter(|k| !owned.contains(k))
        .cloned()
        .collect()
}

/// Why the lead went to `chosen`, in words, including the keys that point elsewhere
/// (two customers that are probably one, for a person to look at).
pub fn attach_reasons(chosen: &Candidate, others: &[Candidate]) -> Vec<String> {
    let mut reasons: Vec<String> = chosen
        .keys
        .iter()
        .map(|key| format!("{key} matches customer {} exactly", chosen.customer_id))
        .collect();
    for other in others {
        for key in &other.keys {
            reasons.push(format!(
                "{key} matches customer {} too; chose {}, which holds more of the lead's keys or is older",
                other.customer_id, chosen.customer_id
            ));
        }
    }
    reasons
}

/// Why a new customer was created for the lead.
pub fn created_reasons(customer_id: &str, keys: &[MatchKey]) -> Vec<String> {
    if keys.is_empty() {
        return vec![format!(
            "the lead has no valid phone or e-mail to match on; created customer {customer_id}"
        )];
    }
    let keys = keys
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" or ");
    vec![format!(
        "no known customer has {keys}; created customer {customer_id}"
    )]
}

/// Score of a match on an exact key: certainly the same customer.
pub const EXACT_MATCH_SCORE: f64 = 1.0;

/// How one field of the lead contributed to a match.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldEvidence {
    /// The lead field (`phone`, `email`).
    pub field: &'static str,
    /// 0..1, how alike the lead's value and the customer's are.
    pub similarity: f64,
    /// Share of the match score; the contributions of a match add up to its score.
    pub contribution: f64,
    pub detail: String,
}

/// Evidence for a match on exact keys: every key is equal (similarity 1), and the keys
/// share the score equally.
pub fn exact_evidence(candidate: &Candidate) -> Vec<FieldEvidence> {
    let share = EXACT_MATCH_SCORE / candidate.keys.len().max(1) as f64;
    candidate
        .keys
        .iter()
        .map(|key| FieldEvidence {
            field: key.kind.as_str(),
            similarity: 1.0,
            contribution: share,
            detail: format!(
                "normalised {key} equals one of customer {}'s",
                candidate.customer_id
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::match_key::KeyKind;

    fn phone() -> MatchKey {
        MatchKey::new(KeyKind::Phone, "13800138000")
    }
    fn email() -> MatchKey {
        MatchKey::new(KeyKind::Email, "wang@example.com")
    }
    fn owner(key: MatchKey, customer: &str, created_at: i64) -> KeyOwner {
        KeyOwner {
            key,
            customer_id: customer.into(),
            customer_created_at: created_at,
        }
    }

    #[test]
    fn the_customer_holding_most_keys_wins_even_if_younger() {
        let owners = [
            owner(phone(), "cus_old", 1),
            owner(email(), "cus_young", 9),
            owner(phone(), "cus_young", 9),
        ];
        let ranked = rank_candidates(&owners);
        assert_eq!(ranked[0].customer_id, "cus_young");
        assert_eq!(ranked[0].keys, vec![email(), phone()]);
        assert_eq!(ranked[1].customer_id, "cus_old");
    }

    #[test]
    fn a_tie_goes_to_the_oldest_customer_then_the_smallest_id() {
        let ranked = rank_candidates(&[owner(email(), "cus_b", 5), owner(phone(), "cus_a", 3)]);
        assert_eq!(ranked[0].customer_id, "cus_a");
        let ranked = rank_candidates(&[owner(email(), "cus_b", 5), owner(phone(), "cus_a", 5)]);
        assert_eq!(ranked[0].customer_id, "cus_a");
    }

    #[test]
    fn no_owners_no_candidates() {
        assert!(rank_candidates(&[]).is_empty());
        assert_eq!(
            unowned_keys(&[email(), phone()], &[]),
            vec![email(), phone()]
        );
    }

    #[test]
    fn only_keys_nobody_holds_are_handed_to_the_customer() {
        let owners = [owner(phone(), "cus_a", 1)];
        assert_eq!(unowned_keys(&[email(), phone()], &owners), vec![email()]);
    }

    #[test]
    fn reasons_name_the_key_and_the_customer() {
        let ranked = rank_candidates(&[owner(phone(), "cus_a", 1), owner(email(), "cus_b", 2)]);
        let reasons = attach_reasons(&ranked[0], &ranked[1..]);
        assert_eq!(
            reasons[0],
            "phone 13800138000 matches customer cus_a exactly"
        );
        assert!(reasons[1].starts_with("e-mail wang@example.com matches customer cus_b too"));
        assert_eq!(
            created_reasons("cus_n", &[email(), phone()]),
            vec![
                "no known customer has e-mail wang@example.com or phone 13800138000; created customer cus_n"
            ]
        );
        assert!(created_reasons("cus_n", &[])[0].contains("no valid phone or e-mail"));
    }

    #[test]
    fn exact_evidence_names_each_field_and_shares_the_score() {
        let ranked = rank_candidates(&[owner(phone(), "cus_a", 1), owner(email(), "cus_a", 1)]);
        let evidence = exact_evidence(&ranked[0]);
        assert_eq!(
            evidence.iter().map(|e| e.field).collect::<Vec<_>>(),
            ["email", "phone"]
        );
        assert!(evidence.iter().all(|e| e.similarity == 1.0));
        let total: f64 = evidence.iter().map(|e| e.contribution).sum();
        assert!((total - EXACT_MATCH_SCORE).abs() < 1e-9);
        assert_eq!(
            evidence[1].detail,
            "normalised phone 13800138000 equals one of customer cus_a's"
        );
    }
}
