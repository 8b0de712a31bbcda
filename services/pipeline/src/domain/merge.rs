//! Customer merges, as the pipeline follows them: every opportunity of a merged
//! customer moves to the survivor, and an unmerge moves back exactly those.
//!
//! The one rule a merge cannot keep by itself is "one open opportunity per customer":
//! the survivor and a merged customer may each have a deal in flight. Closing one would
//! throw away a live deal (and count as a loss in the win/loss figures) because of a
//! data-quality fix, which no sales manager wants. So **both stay open**: the survivor's
//! open opportunity stays the customer's *primary* one (new leads attach to it), and
//! the one that came with the merge becomes a *parallel deal* of it, flagged in both
//! histories, for the owner to consolidate (close one) or keep (a second need). When
//! the survivor had none open, the merged customers' primary (first in the merge's
//! order) becomes the survivor's primary. The database keeps one primary open
//! opportunity per customer, so every lead still attaches to exactly one.

use super::opportunity::Change;

/// Who history names for a merge when neither the merge nor its envelope names anyone.
pub const SYSTEM_USER: &str = "dedup";

/// Who decided the merge (or the unmerge): the event's `decided_by` ("auto" for an
/// automatic merge), else the envelope's user, else the dedup service.
pub fn actor<'a>(decided_by: &'a str, envelope_user: &'a str) -> &'a str {
    [decided_by.trim(), envelope_user.trim()]
        .into_iter()
        .find(|u| !u.is_empty())
        .unwrap_or(SYSTEM_USER)
}

/// The customer's primary open opportunity while opportunities are placed with it, one
/// by one, primary candidates first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Primary(Option<String>);

impl Primary {
    pub fn new(primary: Option<String>) -> Primary {
        Primary(primary)
    }

    /// The parallel-deal link for the open opportunity `opportunity_id` joining the
    /// customer: '' when it is (or becomes) the primary, else the primary's id.
    pub fn place_open(&mut self, opportunity_id: &str) -> String {
        match &self.0 {
            Some(primary) if primary != opportunity_id => primary.clone(),
            Some(_) => String::new(),
            None => {
                self.0 = Some(opportunity_id.to_owned());
                String::new()
            }
        }
    }

    pub fn id(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// The history of one opportunity moving from `from` to `to` (customer and parallel
/// link), explained by `note`.
pub fn move_changes(
    from_customer: &str,
    to_customer: &str,
    from_parallel_of: &str,
    to_parallel_of: &str,
    note: &str,
) -> Vec<Change> {
    let mut changes = Vec::with_capacity(2);
    if from_customer != to_customer {
        changes.push(Change::new("customer_id", from_customer, to_customer).with_note(note));
    }
    if from_parallel_of != to_parallel_of {
        changes.push(
            Change::new("parallel_of", from_parallel_of, to_parallel_of)
                .with_note(parallel_note(to_parallel_of, to_customer)),
        );
    }
    changes
}

/// Why the customer changed on a merge.
pub fn merged_note(survivor: &str, merge_id: &str) -> String {
    format!("customer merged into {survivor} (merge {merge_id})")
}

/// Why the customer changed back on an unmerge.
pub fn restored_note(customer: &str, merge_id: &str) -> String {
    format!("merge {merge_id} undone: back to customer {customer}")
}

/// Why an opportunity's parallel link is what it is now.
pub fn parallel_note(parallel_of: &str, customer: &str) -> String {
    if parallel_of.is_empty() {
        format!("now the primary open opportunity of customer {customer}")
    } else {
        format!(
            "parallel deal: customer {customer} already has open opportunity {parallel_of}; \
             both stay open for the owner to consolidate or keep"
        )
    }
}

/// The primary's history line when a parallel deal joins it.
pub fn joined_change(parallel: &str, merged_customer: &str, merge_id: &str) -> Change {
    Change::new("parallel_deal", "", parallel).with_note(format!(
        "open opportunity {parallel} of merged customer {merged_customer} stays open as a parallel deal (merge {merge_id})"
    ))
}

/// The history line of an opportunity an unmerge leaves where it is, because its
/// customer was changed after the merge.
pub fn kept_change(current_customer: &str, pre_merge_customer: &str, merge_id: &str) -> Change {
    Change::new("unmerge_skipped", pre_merge_customer, current_customer).with_note(format!(
        "merge {merge_id} undone, but the customer was changed since the merge; \
         left with {current_customer} instead of going back to {pre_merge_customer}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_prefers_the_decider_then_the_envelope_user() {
        assert_eq!(actor("mgr_li", "someone"), "mgr_li");
        assert_eq!(actor(" ", "someone"), "someone");
        assert_eq!(actor("", ""), SYSTEM_USER);
        assert_eq!(actor("auto", ""), "auto");
    }

    #[test]
    fn the_survivors_open_opportunity_stays_primary() {
        let mut primary = Primary::new(Some("opp_s".into()));
        assert_eq!(primary.place_open("opp_m1"), "opp_s");
        assert_eq!(primary.place_open("opp_m2"), "opp_s");
        assert_eq!(primary.place_open("opp_s"), "");
        assert_eq!(primary.id(), Some("opp_s"));
    }

    #[test]
    fn without_one_the_first_open_opportunity_becomes_primary() {
        let mut primary = Primary::default();
        assert_eq!(primary.place_open("opp_m1"), "");
        assert_eq!(primary.place_open("opp_m2"), "opp_m1");
        assert_eq!(primary.id(), Some("opp_m1"));
    }

    #[test]
    fn a_move_records_only_what_changed() {
        let changes = move_changes("cus_m", "cus_s", "", "opp_s", "merged");
        let fields: Vec<_> = changes
            .iter()
            .map(|c| (c.field.as_str(), c.old_value.as_str(), c.new_value.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("customer_id", "cus_m", "cus_s"),
                ("parallel_of", "", "opp_s")
            ]
        );
        assert_eq!(changes[0].note, "merged");
        assert!(changes[1].note.starts_with("parallel deal"));
        assert!(move_changes("cus_s", "cus_s", "", "", "x").is_empty());
    }

    #[test]
    fn notes_name_the_merge() {
        assert_eq!(
            merged_note("cus_s", "m1"),
            "customer merged into cus_s (merge m1)"
        );
        assert_eq!(
            restored_note("cus_m", "m1"),
            "merge m1 undone: back to customer cus_m"
        );
        let kept = kept_change("cus_x", "cus_m", "m1");
        assert_eq!(
            (kept.old_value.as_str(), kept.new_value.as_str()),
            ("cus_m", "cus_x")
        );
    }
}
