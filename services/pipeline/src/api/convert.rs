//! The pipeline's types as the gRPC contract shows them.

use prost_types::Timestamp;
use shangji_contracts::pipeline as pb;
use shangji_contracts::time::{from_millis, to_millis};
use shangji_platform::grpc::ApiError;

use crate::domain::approval::{Approval, ApprovalRule, ApprovalStatus, Approver};
use crate::domain::gate::{RequiredActivity, RequiredApproval, RequiredField};
use crate::domain::{
    Activity, ActivityKind, HistoryEntry, Opportunity, Pipeline, Stage, StageGate, Status,
};
use crate::store::collaborators::Collaborator;

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
        expected_close_at: o.expected_close_at.map(from_millis),
        pipeline_version: u64::try_from(o.pipeline_version).unwrap_or(0),
        fields: o.fields.clone(),
        team: o.team.clone(),
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
        purpose: a.purpose.clone(),
        customer_questions: a.customer_questions.clone(),
        attachments: a
            .attachments
            .iter()
            .map(|f| pb::Attachment {
                uri: f.uri.clone(),
                name: f.name.clone(),
                content_type: f.content_type.clone(),
                size_bytes: f.size_bytes,
            })
            .collect(),
    }
}

pub fn comment(c: &crate::store::comments::Comment) -> pb::Comment {
    pb::Comment {
        comment_id: c.comment_id.clone(),
        opportunity_id: c.opportunity_id.clone(),
        author_id: c.author_id.clone(),
        body: c.body.clone(),
        created_at: Some(from_millis(c.created_at)),
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
        gate: Some(gate(&s.gate)),
    }
}

fn gate(g: &StageGate) -> pb::StageGate {
    pb::StageGate {
        required_fields: g
            .required_fields
            .iter()
            .map(|f| pb::RequiredField {
                field: f.field.clone(),
                label_zh: f.label_zh.clone(),
                label_en: f.label_en.clone(),
            })
            .collect(),
        required_activities: g
            .required_activities
            .iter()
            .map(|a| pb::RequiredActivity {
                kind: a.kind.as_str().to_owned(),
                min_count: a.min_count,
            })
            .collect(),
        required_approvals: g
            .required_approvals
            .iter()
            .map(|a| pb::RequiredApproval {
                approval_type: a.approval_type.clone(),
                label_zh: a.label_zh.clone(),
                label_en: a.label_en.clone(),
            })
            .collect(),
    }
}

/// A gate from a request; an unknown activity kind is reported against `field`.
pub fn gate_from(g: Option<&pb::StageGate>) -> Result<StageGate, String> {
    let Some(g) = g else {
        return Ok(StageGate::default());
    };
    let required_activities = g
        .required_activities
        .iter()
        .map(|a| {
            ActivityKind::parse_loggable(&a.kind)
                .map(|kind| RequiredActivity {
                    kind,
                    min_count: a.min_count,
                })
                .map_err(|err| err.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StageGate {
        required_fields: g
            .required_fields
            .iter()
            .map(|f| RequiredField {
                field: f.field.clone(),
                label_zh: f.label_zh.clone(),
                label_en: f.label_en.clone(),
            })
            .collect(),
        required_activities,
        required_approvals: g
            .required_approvals
            .iter()
            .map(|a| RequiredApproval {
                approval_type: a.approval_type.clone(),
                label_zh: a.label_zh.clone(),
                label_en: a.label_en.clone(),
            })
            .collect(),
    })
}

pub fn pipeline(p: &Pipeline) -> pb::GetPipelineResponse {
    pb::GetPipelineResponse {
        pipeline_id: p.pipeline_id.clone(),
        name: p.name.clone(),
        stages: p.stages.iter().map(stage).collect(),
        version: u64::try_from(p.version).unwrap_or(0),
        team: p.team.clone(),
    }
}

pub fn collaborator(c: &Collaborator) -> pb::Collaborator {
    pb::Collaborator {
        rep_id: c.rep_id.clone(),
        role: c.role.clone(),
        added_by: c.added_by.clone(),
        added_at: Some(from_millis(c.added_at)),
    }
}

fn approver_kind(a: &Approver) -> pb::ApproverKind {
    match a {
        Approver::TeamManager => pb::ApproverKind::TeamManager,
        Approver::Admin => pb::ApproverKind::Admin,
        Approver::Named(_) => pb::ApproverKind::Named,
    }
}

/// The approver a rule names, or why it names none.
pub fn approver_from(kind: i32, named: &[String]) -> Result<Approver, &'static str> {
    match pb::ApproverKind::try_from(kind) {
        Ok(pb::ApproverKind::TeamManager) => Ok(Approver::TeamManager),
        Ok(pb::ApproverKind::Admin) => Ok(Approver::Admin),
        Ok(pb::ApproverKind::Named) if !named.is_empty() => Ok(Approver::Named(
            named.iter().map(|r| r.trim().to_owned()).collect(),
        )),
        Ok(pb::ApproverKind::Named) => {
            Err("APPROVER_KIND_NAMED needs at least one rep in approver_rep_ids")
        }
        _ => Err("is required: TEAM_MANAGER, ADMIN or NAMED (with approver_rep_ids)"),
    }
}

pub fn approval_rule(r: &ApprovalRule) -> pb::ApprovalRule {
    pb::ApprovalRule {
        rule_id: r.rule_id.clone(),
        approval_type: r.approval_type.clone(),
        discount_over_percent: r.discount_over_percent,
        amount_over: r.amount_over,
        approver: approver_kind(&r.approver) as i32,
        approver_rep_ids: r.approver.named().to_vec(),
    }
}

pub fn approval(a: &Approval) -> pb::Approval {
    let status = match a.status {
        ApprovalStatus::Pending => pb::ApprovalStatus::Pending,
        ApprovalStatus::Approved => pb::ApprovalStatus::Approved,
        ApprovalStatus::Rejected => pb::ApprovalStatus::Rejected,
    };
    pb::Approval {
        approval_id: a.approval_id.clone(),
        opportunity_id: a.opportunity_id.clone(),
        approval_type: a.approval_type.clone(),
        status: status as i32,
        rule_id: a.rule_id.clone(),
        approver: approver_kind(&a.approver) as i32,
        approver_rep_ids: a.approver.named().to_vec(),
        discount_percent: a.discount_percent,
        amount: a.amount,
        note: a.note.clone(),
        requested_by: a.requested_by.clone(),
        requested_at: Some(from_millis(a.requested_at)),
        decided_by: a.decided_by.clone(),
        decided_at: a.decided_at.map(from_millis),
        decision_note: a.decision_note.clone(),
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
