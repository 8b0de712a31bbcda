//! Between the contract's messages and the domain's types.

use shangji_contracts::assignment::{
    GetAssignmentResponse, Rep as RepMessage, RepLoad as RepLoadMessage,
};
use shangji_contracts::time::from_millis;
use shangji_platform::grpc::{ApiError, FieldViolation};

use crate::domain::{Invalid, Rep, RepDraft, RepProfile};
use crate::store::assignments::AssignmentRecord;

pub fn draft_from_proto(rep: RepMessage) -> RepDraft {
    RepDraft {
        rep_id: rep.rep_id,
        name: rep.name,
        team: rep.team,
        regions: rep.regions,
        industries: rep.industries,
        capacity: rep.capacity,
        active: rep.active,
    }
}

pub fn rep_to_proto(rep: &RepProfile) -> RepMessage {
    RepMessage {
        rep_id: rep.rep_id.clone(),
        name: rep.name.clone(),
        team: rep.team.clone(),
        regions: rep.regions.clone(),
        industries: rep.industries.clone(),
        capacity: rep.capacity,
        active: rep.active,
    }
}

pub fn load_to_proto(rep: &Rep) -> RepLoadMessage {
    RepLoadMessage {
        rep: Some(rep_to_proto(&rep.profile)),
        // Counts are never negative; saturate rather than wrap if one ever were huge.
        open_count: u32::try_from(rep.load.open_count.max(0)).unwrap_or(u32::MAX),
        assigned_total: u64::try_from(rep.load.assigned_total).unwrap_or(0),
    }
}

pub fn assignment_to_proto(record: AssignmentRecord) -> GetAssignmentResponse {
    GetAssignmentResponse {
        lead_id: record.lead_id,
        customer_id: record.customer_id,
        rep_id: record.rep_id.unwrap_or_default(),
        rule: record.rule,
        reason: record.reason,
        pooled: record.pooled,
        candidate_rep_ids: record.candidates,
        decided_at: Some(from_millis(record.decided_at)),
    }
}

/// The domain names fields relative to the rep; the request nests it under `rep`.
pub fn invalid_rep(problems: Vec<Invalid>) -> ApiError {
    ApiError::invalid(
        problems
            .into_iter()
            .map(|p| FieldViolation::new(format!("rep.{}", p.field), p.reason))
            .collect(),
    )
}
