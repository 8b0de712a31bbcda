//! A lead's status: each downstream step moves it forward, never back, whatever order
//! the events arrive in.

use shangji_contracts::intake::LeadStatus;

/// How far along the journey a status is. Pooled and assigned are alternatives at
/// the same depth; so are "opportunity created" and "attached to an opportunity".
pub fn depth(status: LeadStatus) -> u8 {
    match status {
        // A flagged lead has not been announced yet: once released it is received.
        LeadStatus::Unspecified | LeadStatus::Flagged => 0,
        LeadStatus::Received => 1,
        LeadStatus::Qualified => 2,
        LeadStatus::Assigned | LeadStatus::Pooled => 3,
        LeadStatus::OpportunityCreated | LeadStatus::AttachedToOpportunity => 4,
        // Discarded leads were never announced, so nothing downstream can move them on.
        LeadStatus::Discarded => 5,
    }
}

/// The status after a step: the step's, unless the lead is already further along.
pub fn advance(current: LeadStatus, step: LeadStatus) -> LeadStatus {
    if depth(step) >= depth(current) {
        step
    } else {
        current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_never_moves_back() {
        use LeadStatus::*;
        assert_eq!(advance(Received, Qualified), Qualified);
        assert_eq!(advance(OpportunityCreated, Assigned), OpportunityCreated);
        assert_eq!(advance(Qualified, OpportunityCreated), OpportunityCreated);
        // A pooled lead that is assigned later shows as assigned.
        assert_eq!(advance(Pooled, Assigned), Assigned);
        assert_eq!(advance(Flagged, Received), Received);
        assert_eq!(advance(Discarded, Qualified), Discarded);
    }
}
