//! The `opportunity.*` events, built from the pipeline's own types.

use shangji_contracts::events::opportunity::{
    ActivityAttachment, OpportunityActivityLogged, OpportunityCreated, OpportunityLost,
    OpportunityReopened, OpportunityStageChanged, OpportunityUpdated, OpportunityWon,
};
use shangji_contracts::time::from_millis;

use crate::domain::{Activity, Change, Opportunity, Stage, Status};

/// `opp` has just opened in `stage`.
pub fn created(opp: &Opportunity, stage: &Stage) -> OpportunityCreated {
    OpportunityCreated {
        opportunity_id: opp.opportunity_id.clone(),
        customer_id: opp.customer_id.clone(),
        owner_rep_id: opp.owner_rep_id.clone(),
        lead_id: opp.lead_id.clone(),
        pipeline_id: opp.pipeline_id.clone(),
        stage: opp.stage.clone(),
        stage_order: stage.order,
        amount: opp.amount,
        currency: opp.currency.clone(),
        name: opp.name.clone(),
        source: opp.source.clone(),
        region: opp.region.clone(),
        industry: opp.industry.clone(),
        team: opp.team.clone(),
        created_at: Some(from_millis(opp.created_at)),
        expected_close_at: opp.expected_close_at.map(from_millis),
        stage_probability: stage.win_probability,
    }
}

/// `opp` has just moved from `from_stage` to `to`.
pub fn stage_changed(
    opp: &Opportunity,
    from_stage: &str,
    from_stage_order: u32,
    to: &Stage,
    note: &str,
) -> OpportunityStageChanged {
    OpportunityStageChanged {
        opportunity_id: opp.opportunity_id.clone(),
        customer_id: opp.customer_id.clone(),
        owner_rep_id: opp.owner_rep_id.clone(),
        from_stage: from_stage.to_owned(),
        from_stage_order,
        to_stage: opp.stage.clone(),
        to_stage_order: to.order,
        amount: opp.amount,
        note: note.to_owned(),
        changed_at: Some(from_millis(opp.stage_entered_at)),
        to_stage_probability: to.win_probability,
        team: opp.team.clone(),
        currency: opp.currency.clone(),
        expected_close_at: opp.expected_close_at.map(from_millis),
    }
}

/// `activity` has just been logged on `opp`, with its follow-up template and attachments.
pub fn activity_logged(opp: &Opportunity, activity: &Activity) -> OpportunityActivityLogged {
    OpportunityActivityLogged {
        opportunity_id: opp.opportunity_id.clone(),
        customer_id: opp.customer_id.clone(),
        owner_rep_id: opp.owner_rep_id.clone(),
        activity_id: activity.activity_id.clone(),
        kind: activity.kind.as_str().to_owned(),
        summary: activity.summary.clone(),
        next_step: activity.next_step.clone(),
        next_follow_up_at: activity.next_follow_up_at.map(from_millis),
        lead_id: activity.lead_id.clone(),
        logged_at: Some(from_millis(activity.logged_at)),
        stage: opp.stage.clone(),
        purpose: activity.purpose.clone(),
        customer_questions: activity.customer_questions.clone(),
        attachments: activity
            .attachments
            .iter()
            .map(|a| ActivityAttachment {
                uri: a.uri.clone(),
                name: a.name.clone(),
                content_type: a.content_type.clone(),
                size_bytes: a.size_bytes,
            })
            .collect(),
    }
}

/// `opp` has just been won, coming from `from_stage`.
pub fn won(opp: &Opportunity, from_stage: &str) -> OpportunityWon {
    OpportunityWon {
        opportunity_id: opp.opportunity_id.clone(),
        customer_id: opp.customer_id.clone(),
        owner_rep_id: opp.owner_rep_id.clone(),
        amount: opp.amount,
        currency: opp.currency.clone(),
        from_stage: from_stage.to_owned(),
        closed_at: Some(from_millis(opp.stage_entered_at)),
        created_at: Some(from_millis(opp.created_at)),
    }
}

/// `opp` has just been lost, coming from `from_stage`.
pub fn lost(opp: &Opportunity, from_stage: &str, note: &str) -> OpportunityLost {
    OpportunityLost {
        opportunity_id: opp.opportunity_id.clone(),
        customer_id: opp.customer_id.clone(),
        owner_rep_id: opp.owner_rep_id.clone(),
        amount: opp.amount,
        currency: opp.currency.clone(),
        from_stage: from_stage.to_owned(),
        reason: opp.lost_reason.clone(),
        note: note.to_owned(),
        closed_at: Some(from_millis(opp.stage_entered_at)),
        created_at: Some(from_millis(opp.created_at)),
    }
}

/// `opp`'s fields have just changed as `changes` say.
pub fn updated(opp: &Opportunity, changes: &[Change]) -> OpportunityUpdated {
    let mut changed_fields: Vec<String> = changes.iter().map(|c| c.field.clone()).collect();
    changed_fields.dedup();
    OpportunityUpdated {
        opportunity_id: opp.opportunity_id.clone(),
        customer_id: opp.customer_id.clone(),
        owner_rep_id: opp.owner_rep_id.clone(),
        amount: opp.amount,
        currency: opp.currency.clone(),
        expected_close_at: opp.expected_close_at.map(from_millis),
        changed_fields,
        updated_at: Some(from_millis(opp.updated_at)),
        stage: opp.stage.clone(),
        team: opp.team.clone(),
    }
}

/// `opp` has just been reopened into `stage`; it was `was` (won or lost).
pub fn reopened(
    opp: &Opportunity,
    was: Status,
    stage: &Stage,
    reason: &str,
) -> OpportunityReopened {
    OpportunityReopened {
        opportunity_id: opp.opportunity_id.clone(),
        customer_id: opp.customer_id.clone(),
        owner_rep_id: opp.owner_rep_id.clone(),
        from_outcome: was.as_str().to_owned(),
        stage: stage.name.clone(),
        stage_order: stage.order,
        amount: opp.amount,
        currency: opp.currency.clone(),
        reason: reason.to_owned(),
        reopened_at: Some(from_millis(opp.updated_at)),
        team: opp.team.clone(),
    }
}
