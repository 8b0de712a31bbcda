//! Merging customers found to be one: who survives, what moves, and the rules that keep
//! a merge undoable. Pure; the store applies what is decided here.

use std::collections::BTreeSet;

/// What a merge moves from a merged customer to the survivor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MovedKind {
    /// A lead attached to the merged customer (item: the lead id).
    Lead,
    /// A match key the merged customer held (item: `kind:value`).
    Key,
    /// The merged customer's contact identity, its name and company (item: its id). The
    /// row stays, marked merged, so undoing the merge can bring it back.
    Contact,
}

impl MovedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MovedKind::Lead => "lead",
            MovedKind::Key => "key",
            MovedKind::Contact => "contact",
        }
    }

    pub fn parse(stored: &str) -> Option<MovedKind> {
        match stored {
            "lead" => Some(MovedKind::Lead),
            "key" => Some(MovedKind::Key),
            "contact" => Some(MovedKind::Contact),
            _ => None,
        }
    }
}

/// One thing a merge moves (or would move, in a dry run).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MovedItem {
    pub kind: MovedKind,
    /// Lead id, `kind:value` of a key, or the merged customer's id.
    pub item: String,
    pub from_customer_id: String,
    /// Human words for the item: the key as written, the contact's name and company.
    pub detail: String,
}

/// Everything a merge moves, in a stable order (kind, then item).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MergePlan {
    pub survivor_customer_id: String,
    pub merged_customer_ids: Vec<String>,
    pub moves: Vec<MovedItem>,
}

impl MergePlan {
    pub fn count(&self, kind: MovedKind) -> usize {
        self.moves.iter().filter(|m| m.kind == kind).count()
    }
}

/// Why the customers named in a merge request cannot be merged as asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MergeRequestError {
    #[error("no customer to merge into the survivor")]
    NothingToMerge,
    #[error("customer {0} is the survivor; it cannot also be merged into itself")]
    SurvivorListed(String),
    #[error("customer {0} is listed twice")]
    Repeated(String),
}

/// The merged customers in request order, once the request makes sense: at least one,
/// none twice, never the survivor.
pub fn merged_ids<'a>(
    survivor: &str,
    merged: &'a [String],
) -> Result<Vec<&'a str>, MergeRequestError> {
    let mut seen = BTreeSet::new();
    let mut ids = Vec::with_capacity(merged.len());
    for id in merged.iter().map(|id| id.trim()) {
        if id == survivor {
            return Err(MergeRequestError::SurvivorListed(id.to_owned()));
        }
        if !seen.insert(id) {
            return Err(MergeRequestError::Repeated(id.to_owned()));
        }
        ids.push(id);
    }
    if ids.is_empty() {
        return Err(MergeRequestError::NothingToMerge);
    }
    Ok(ids)
}

/// A customer as far as choosing a survivor goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeSide {
    pub customer_id: String,
    pub created_at: i64,
}

/// Of two customers judged one, the older survives (then the smaller id, ids being
/// time-ordered): its id is the one other services have held longest, so the fewest
/// references need re-pointing. Returns (survivor, merged).
pub fn survivor_of(a: MergeSide, b: MergeSide) -> (MergeSide, MergeSide) {
    if (a.created_at, &a.customer_id) <= (b.created_at, &b.customer_id) {
        (a, b)
    } else {
        (b, a)
    }
}

/// A pair of customers in id order, so (a, b) and (b, a) are one question.
pub fn ordered_pair<'a>(a: &'a str, b: &'a str) -> (&'a str, &'a str) {
    if a <= b { (a, b) } else { (b, a) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_merge_request_needs_distinct_customers_other_than_the_survivor() {
        assert_eq!(
            merged_ids("cus_a", &ids(&["cus_b", " cus_c "])).unwrap(),
            ["cus_b", "cus_c"]
        );
        assert_eq!(
            merged_ids("cus_a", &[]),
            Err(MergeRequestError::NothingToMerge)
        );
        assert_eq!(
            merged_ids("cus_a", &ids(&["cus_b", "cus_a"])),
            Err(MergeRequestError::SurvivorListed("cus_a".into()))
        );
        assert_eq!(
            merged_ids("cus_a", &ids(&["cus_b", "cus_b"])),
            Err(MergeRequestError::Repeated("cus_b".into()))
        );
    }

    #[test]
    fn the_older_customer_survives_and_ties_go_to_the_smaller_id() {
        let side = |id: &str, at| MergeSide {
            customer_id: id.into(),
            created_at: at,
        };
        let (survivor, merged) = survivor_of(side("cus_b", 5), side("cus_a", 9));
        assert_eq!(
            (survivor.customer_id.as_str(), merged.customer_id.as_str()),
            ("cus_b", "cus_a")
        );
        let (survivor, _) = survivor_of(side("cus_b", 5), side("cus_a", 5));
        assert_eq!(survivor.customer_id, "cus_a");
    }

    #[test]
    fn pairs_are_ordered_and_kinds_round_trip() {
        assert_eq!(ordered_pair("cus_b", "cus_a"), ("cus_a", "cus_b"));
        assert_eq!(ordered_pair("cus_a", "cus_b"), ("cus_a", "cus_b"));
        for kind in [MovedKind::Lead, MovedKind::Key, MovedKind::Contact] {
            assert_eq!(MovedKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(MovedKind::parse("opportunity"), None);
    }
}
