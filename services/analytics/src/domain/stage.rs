//! Stages and the status of an opportunity.

/// Pipelines end in the terminal stages `won` and `lost`; the funnel counts closed
/// opportunities by status instead, so these names never enter the stage catalog.
pub fn is_terminal_stage(stage: &str) -> bool {
    let stage = stage.trim();
    stage.eq_ignore_ascii_case("won") || stage.eq_ignore_ascii_case("lost")
}

/// Open until won or lost; a closed opportunity stays closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpportunityStatus {
    Open,
    Won,
    Lost,
}

impl OpportunityStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OpportunityStatus::Open => "open",
            OpportunityStatus::Won => "won",
            OpportunityStatus::Lost => "lost",
        }
    }

    pub fn parse(value: &str) -> Option<OpportunityStatus> {
        match value {
            "open" => Some(OpportunityStatus::Open),
            "won" => Some(OpportunityStatus::Won),
            "lost" => Some(OpportunityStatus::Lost),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn won_and_lost_are_terminal_stages() {
        assert!(is_terminal_stage("won") && is_terminal_stage(" Lost "));
        assert!(!is_terminal_stage("negotiation") && !is_terminal_stage("lead"));
    }

    #[test]
    fn statuses_round_trip_their_stored_names() {
        for s in [
            OpportunityStatus::Open,
            OpportunityStatus::Won,
            OpportunityStatus::Lost,
        ] {
            assert_eq!(OpportunityStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(OpportunityStatus::parse("stalled"), None);
    }
}
