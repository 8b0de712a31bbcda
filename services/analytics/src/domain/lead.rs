//! What analytics knows about one lead, merged from lead events in any order: its
//! source, when it arrived, whether it qualified, who holds it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::opportunity::Touch;
use super::versioned::Versioned;

/// The source recorded for a lead no event has named a source for.
pub const UNKNOWN_SOURCE: &str = "unknown";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadState {
    /// The source intake recorded (the lead's own, else its channel): authoritative.
    pub received_source: Option<String>,
    /// The source later events repeat, used until `lead.received` arrives.
    pub other_source: Versioned<String>,
    pub received_at: Option<i64>,
    pub first_seen_at: i64,
    pub qualified: bool,
    /// The holder: rep (empty in the pool) and team.
    pub holder: Versioned<(String, String)>,
    pub assigned: bool,
    pub pooled: bool,
    /// Reminders that fell due or escalated for the lead before it had an opportunity,
    /// by reminder and step. States kept before this field read as none.
    #[serde(default)]
    pub reminders: BTreeMap<String, Touch>,
}

/// What one lead event states.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeadFacts {
    pub at: i64,
    pub received_source: Option<String>,
    pub source: Option<String>,
    pub received_at: Option<i64>,
    pub qualified: bool,
    pub holder: Option<(String, String)>,
    pub assigned: bool,
    pub pooled: bool,
    pub reminder: Option<(String, Touch)>,
}

impl LeadState {
    pub fn new(first_seen_at: i64) -> LeadState {
        LeadState {
            received_source: None,
            other_source: Versioned::unknown(),
            received_at: None,
            first_seen_at,
            qualified: false,
            holder: Versioned::unknown(),
            assigned: false,
            pooled: false,
            reminders: BTreeMap::new(),
        }
    }

    pub fn merge(&mut self, f: &LeadFacts) {
        self.first_seen_at = self.first_seen_at.min(f.at);
        if let Some(source) = f.received_source.as_ref().filter(|s| !s.is_empty()) {
            // One lead.received per lead; redelivered copies say the same.
            if self.received_source.as_ref().is_none_or(|s| source > s) {
                self.received_source = Some(source.clone());
            }
        }
        if let Some(source) = f.source.as_ref().filter(|s| !s.is_empty()) {
            self.other_source.merge(source.clone(), f.at);
        }
        if let Some(at) = f.received_at {
            self.received_at = Some(self.received_at.map_or(at, |r| r.min(at)));
        }
        if let Some(holder) = &f.holder {
            self.holder.merge(holder.clone(), f.at);
        }
        self.qualified |= f.qualified;
        self.assigned |= f.assigned;
        self.pooled |= f.pooled;
        if let Some((id, touch)) = &f.reminder {
            self.reminders
                .entry(id.clone())
                .or_insert_with(|| touch.clone());
        }
    }

    pub fn source(&self) -> &str {
        self.received_source
            .as_deref()
            .or_else(|| {
                self.other_source
                    .is_known()
                    .then_some(self.other_source.value.as_str())
            })
            .unwrap_or(UNKNOWN_SOURCE)
    }

    /// The month cohort: when it arrived, else the first event seen.
    pub fn cohort_at(&self) -> i64 {
        self.received_at.unwrap_or(self.first_seen_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_received_source_wins_whenever_it_arrives() {
        let received = LeadFacts {
            at: 10,
            received_source: Some("trade_show".into()),
            received_at: Some(10),
            ..Default::default()
        };
        let qualified = LeadFacts {
            at: 20,
            source: Some("web".into()),
            qualified: true,
            ..Default::default()
        };
        let mut a = LeadState::new(i64::MAX);
        a.merge(&qualified);
        assert_eq!(a.source(), "web");
        assert_eq!(a.cohort_at(), 20);
        a.merge(&received);
        let mut b = LeadState::new(i64::MAX);
        b.merge(&received);
        b.merge(&qualified);
        assert_eq!(a, b);
        assert_eq!(
            (a.source(), a.cohort_at(), a.qualified),
            ("trade_show", 10, true)
        );
        assert_eq!(LeadState::new(0).source(), UNKNOWN_SOURCE);
    }
}
