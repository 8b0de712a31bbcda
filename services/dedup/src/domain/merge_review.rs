//! The review queue's vocabulary: a possible match a person must judge, and the states
//! of that question. Pure.

/// Where a question about two customers stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReviewStatus {
    /// Waiting for a person.
    Open,
    /// Judged one customer; the two were merged.
    Same,
    /// Judged two customers; the pair is not asked about again.
    Different,
}

impl ReviewStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Open => "open",
            ReviewStatus::Same => "same",
            ReviewStatus::Different => "different",
        }
    }

    pub fn parse(stored: &str) -> Option<ReviewStatus> {
        match stored {
            "open" => Some(ReviewStatus::Open),
            "same" => Some(ReviewStatus::Same),
            "different" => Some(ReviewStatus::Different),
            _ => None,
        }
    }
}

/// How one field supported the possible match, as the matcher explained it.
#[derive(Clone, Debug, PartialEq)]
pub struct ReviewEvidence {
    pub field: String,
    pub similarity: f64,
    pub contribution: f64,
    pub detail: String,
}

/// The matcher's verdict "possibly the same" for a lead: it went on with `customer_id`
/// (a provisional customer, or the one its exact keys chose), and `candidate_customer_id`
/// might be the same person or organisation.
#[derive(Clone, Debug, PartialEq)]
pub struct PossibleMatch {
    pub lead_id: String,
    pub customer_id: String,
    pub candidate_customer_id: String,
    /// The matcher's combined score, 0..1.
    pub score: f64,
    pub reasons: Vec<String>,
    pub evidence: Vec<ReviewEvidence>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_unknown_ones_are_refused() {
        for status in [
            ReviewStatus::Open,
            ReviewStatus::Same,
            ReviewStatus::Different,
        ] {
            assert_eq!(ReviewStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(ReviewStatus::parse("maybe"), None);
    }
}
