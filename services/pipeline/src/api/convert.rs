//! The pipeline's types as the gRPC contract shows them.

use prost_types::Timestamp;
use shangji_contracts::pipeline as pb;
use shangji_contracts::time::{from_millis, to_millis};
use shangji_platform::grpc::ApiError;

use crate::domain::{Activity, HistoryEntry, Opportunity, Pipeline, Stage, Status};

pub fn opportunity(o: &Opportunity) -> pb::Opportunity {
    pb::Opportunity {
        opportunity_id: o.opportunity_id.clone(),
        customer_id: o.customer_id.clone(),
        owner_rep_id: o.owner_rep_id.clone(),
        stage: o.stage.clone(),
        amount: o.amount,
        name: o.name.clone(),
        status: status(o.status) as i32,
        currency: o.currency.clone(),
        lead_id: o.lead_id.clone(),
        pipeline_id: o.pipeline_id.clone(),
        created_at: Some(from_millis(o.created_at)),
        updated_at: Some(from_millis(o.updated_at)),
        stage_entered_at: Some(from_millis(o.stage_entered_at)),
        next_follow_up_at: o.next_follow_up_at.map(from_millis),
        lost_reason: o.lost_reason.clone(),
        source: o.source.clone(),
    }
}

fn status(s: Status) -> pb::OpportunityStatus {
    match s {
        Status::Open => pb::OpportunityStatus::Open,
        Status::Won => pb::OpportunityStatus::Won,
        Status::Lost => pb::OpportunityStatus::Lost,
    }
}

/// A status filter: unspecified means any.
pub fn status_filter(value: i32) -> Result<Option<Status>, ApiError> {
    match pb::OpportunityStatus::try_from(value) {
        Ok(pb::OpportunityStatus::Unspecified) => Ok(None),
        Ok(pb::OpportunityStatus::Open) => Ok(Some(Status::Open)),
        Ok(pb::OpportunityStatus::Won) => Ok(Some(Status::Won)),
        Ok(pb::OpportunityStatus::Lost) => Ok(Some(Status::Lost)),
        Err(_) => Err(ApiError::invalid_field(
            "status",
            format!(
                "{value} is not an opportunity status; use OPEN, WON or LOST, or leave it unset for any"
            ),
        )),
    }
}

pub fn activity(a: &Activity) -> pb::Activity {
    pb::Activity {
        activity_id: a.activity_id.clone(),
        opportunity_id: a.opportunity_id.clone(),
        kind: a.kind.as_str().to_owned(),
        summary: a.summary.clone(),
        next_step: a.next_step.clone(),
        next_follow_up_at: a.next_follow_up_at.map(from_millis),
        lead_id: a.lead_id.clone(),
        user_id: a.user_id.clone(),
        logged_at: Some(from_millis(a.logged_at)),
    }
}

pub fn history_entry(h: &HistoryEntry) -> pb::HistoryEntry {
    pb::HistoryEntry {
        field: h.field.clone(),
        old_value: h.old_value.clone(),
        new_value: h.new_value.clone(),
        user_id: h.user_id.clone(),
        at: Some(from_millis(h.at)),
        note: h.note.clone(),
    }
}

pub fn stage(s: &Stage) -> pb::Stage {
    pb::Stage {
        name: s.name.clone(),
        order: s.order,
        win_probability: s.win_probability,
        terminal: s.terminal,
    }
}

pub fn pipeline(p: &Pipeline) -> pb::GetPipelineResponse {
    pb::GetPipelineResponse {
        pipeline_id: p.pipeline_id.clone(),
        name: p.name.clone(),
        stages: p.stages.iter().map(stage).collect(),
    }
}

/// A timestamp from a request, as UTC milliseconds, or why it is not a valid one.
pub fn timestamp(ts: Option<&Timestamp>) -> Result<Option<i64>, &'static str> {
    let Some(ts) = ts else {
        return Ok(None);
    };
    // Years 1 to 9999, as the Timestamp contract defines them.
    const MIN_SECONDS: i64 = -62_135_596_800;
    const MAX_SECONDS: i64 = 253_402_300_799;
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&ts.seconds) || !(0..1_000_000_000).contains(&ts.nanos)
    {
        return Err(
            "is not a valid timestamp (seconds within years 1 to 9999, nanos 0 to 999999999)",
        );
    }
    Ok(Some(to_millis(ts)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_timestamps_must_be_real_ones() {
        let ts = |seconds, nanos| Timestamp { seconds, nanos };
        assert_eq!(timestamp(None), Ok(None));
        assert_eq!(
            timestamp(Some(&ts(1_700_000_000, 5_000_000))),
            Ok(Some(1_700_000_000_005))
        );
        assert!(timestamp(Some(&ts(1, -1))).is_err());
        assert!(timestamp(Some(&ts(i64::MAX, 0))).is_err());
    }

    #[test]
    fn status_filters_accept_the_enum_or_nothing() {
        assert_eq!(status_filter(0).ok(), Some(None));
        assert_eq!(status_filter(3).ok(), Some(Some(Status::Lost)));
        assert!(status_filter(42).is_err());
    }
}
