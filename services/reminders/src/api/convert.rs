//! Between the wire messages and the domain.

use shangji_contracts::reminders as pb;
use shangji_contracts::time::from_millis;
use shangji_platform::grpc::FieldViolation;

use crate::domain::{EscalationAction, EscalationStep, Policy, PolicyRules, ReminderState};
use crate::store::{ReminderRow, StoredPolicy};

pub fn reminder_to_proto(row: &ReminderRow) -> pb::Reminder {
    let state = match row.state {
        ReminderState::Pending => pb::ReminderState::Pending,
        ReminderState::Fired => pb::ReminderState::Fired,
        ReminderState::Done => pb::ReminderState::Done,
        ReminderState::Cancelled => pb::ReminderState::Cancelled,
    };
    pb::Reminder {
        reminder_id: row.reminder_id.clone(),
        opportunity_id: row.opportunity_id.clone(),
        owner_rep_id: row.owner_rep_id.clone(),
        kind: row.kind.as_str().to_owned(),
        due_at: Some(from_millis(row.due_at)),
        state: state as i32,
        message: row.message.clone(),
        created_at: Some(from_millis(row.created_at)),
        escalation_step: row.escalation_step,
        policy_id: row.policy_id.clone(),
        lead_id: row.lead_id.clone(),
    }
}

pub fn policy_to_proto(policy: &Policy, updated_at: Option<i64>) -> pb::Policy {
    let rules = &policy.rules;
    pb::Policy {
        stage: policy.stage.clone(),
        first_contact_hours: rules.first_contact_hours,
        no_activity_days: rules.no_activity_days,
        stage_age_days: rules.stage_age_days,
        close_overdue: rules.close_overdue,
        escalation: rules
            .escalation
            .iter()
            .map(|s| pb::EscalationStep {
                after_days: s.after_days,
                notify_manager: s.notify_manager,
                action: action_to_proto(s.action) as i32,
            })
            .collect(),
        policy_id: policy.policy_id.clone(),
        version: policy.version,
        updated_at: updated_at.map(from_millis),
        business_time: rules.business_time,
    }
}

pub fn stored_policy_to_proto(stored: &StoredPolicy) -> pb::Policy {
    policy_to_proto(&stored.policy, Some(stored.updated_at))
}

fn action_to_proto(action: EscalationAction) -> pb::EscalationAction {
    match action {
        EscalationAction::Notify => pb::EscalationAction::Notify,
        EscalationAction::MarkHighRisk => pb::EscalationAction::MarkHighRisk,
        EscalationAction::ReturnToPool => pb::EscalationAction::ReturnToPool,
    }
}

/// The stage and rules a request's policy asks for; an unknown or missing action is a
/// violation of its step's field.
pub fn policy_from_proto(
    policy: &pb::Policy,
) -> Result<(String, PolicyRules), Vec<FieldViolation>> {
    let mut violations = Vec::new();
    let mut escalation = Vec::new();
    for (i, step) in policy.escalation.iter().enumerate() {
        let action = match pb::EscalationAction::try_from(step.action) {
            Ok(pb::EscalationAction::Notify) => EscalationAction::Notify,
            Ok(pb::EscalationAction::MarkHighRisk) => EscalationAction::MarkHighRisk,
            Ok(pb::EscalationAction::ReturnToPool) => EscalationAction::ReturnToPool,
            Ok(pb::EscalationAction::Unspecified) | Err(_) => {
                violations.push(FieldViolation::new(
                    format!("policy.escalation[{i}].action"),
                    "must be NOTIFY, MARK_HIGH_RISK or RETURN_TO_POOL",
                ));
                continue;
            }
        };
        escalation.push(EscalationStep {
            after_days: step.after_days,
            notify_manager: step.notify_manager,
            action,
        });
    }
    if !violations.is_empty() {
        return Err(violations);
    }
    Ok((
        policy.stage.clone(),
        PolicyRules {
            first_contact_hours: policy.first_contact_hours,
            no_activity_days: policy.no_activity_days,
            stage_age_days: policy.stage_age_days,
            close_overdue: policy.close_overdue,
            escalation,
            business_time: policy.business_time,
        },
    ))
}
