//! The contracts' messages as JSON for `--json`: field names as in the protos, enums as
//! lowercase labels, timestamps as RFC 3339 strings.

use serde_json::{Value, json};
use shangji_contracts::assignment::{Rep, RepLoad};
use shangji_contracts::common::Lead;
use shangji_contracts::dedup::{Customer, CustomerMatch, MatchDecision};
use shangji_contracts::intake::{GetLeadResponse, LeadStatus, StatusStep};
use shangji_contracts::pipeline::{Activity, HistoryEntry, Opportunity, OpportunityStatus};
use shangji_contracts::reminders::{Reminder, ReminderState};

use crate::format::{enum_label, timestamp_json};

pub fn lead_status(status: i32) -> String {
    LeadStatus::try_from(status).map_or_else(
        |_| format!("unknown_{status}"),
        |s| enum_label(s.as_str_name(), "LEAD_STATUS_"),
    )
}

pub fn opportunity_status(status: i32) -> String {
    OpportunityStatus::try_from(status).map_or_else(
        |_| format!("unknown_{status}"),
        |s| enum_label(s.as_str_name(), "OPPORTUNITY_STATUS_"),
    )
}

pub fn match_decision(decision: i32) -> String {
    MatchDecision::try_from(decision).map_or_else(
        |_| format!("unknown_{decision}"),
        |d| enum_label(d.as_str_name(), "MATCH_DECISION_"),
    )
}

pub fn reminder_state(state: i32) -> String {
    ReminderState::try_from(state).map_or_else(
        |_| format!("unknown_{state}"),
        |s| enum_label(s.as_str_name(), "REMINDER_STATE_"),
    )
}

pub fn lead(lead: &Lead) -> Value {
    json!({
        "contact_name": lead.contact_name,
        "phone": lead.phone,
        "email": lead.email,
        "company": lead.company,
        "title": lead.title,
        "region": lead.region,
        "industry": lead.industry,
        "source": lead.source,
        "need": lead.need,
        "budget": lead.budget,
        "timeline": lead.timeline,
        "custom_fields": lead.custom_fields,
    })
}

fn status_step(step: &StatusStep) -> Value {
    json!({
        "status": lead_status(step.status),
        "detail": step.detail,
        "at": timestamp_json(step.at.as_ref()),
        "service": step.service,
        "event_id": step.event_id,
    })
}

pub fn lead_view(view: &GetLeadResponse) -> Value {
    json!({
        "lead_id": view.lead_id,
        "lead": view.lead.as_ref().map(lead),
        "status": lead_status(view.status),
        "customer_id": view.customer_id,
        "owner_rep_id": view.owner_rep_id,
        "opportunity_id": view.opportunity_id,
        "new_customer": view.new_customer,
        "score": view.score,
        "grade": view.grade,
        "received_at": timestamp_json(view.received_at.as_ref()),
        "trail": view.trail.iter().map(status_step).collect::<Vec<_>>(),
    })
}

pub fn rep(rep: &Rep) -> Value {
    json!({
        "rep_id": rep.rep_id,
        "name": rep.name,
        "team": rep.team,
        "regions": rep.regions,
        "industries": rep.industries,
        "capacity": rep.capacity,
        "active": rep.active,
    })
}

pub fn rep_with_load(rep_value: &Rep, load: Option<&RepLoad>) -> Value {
    let mut value = rep(rep_value);
    value["open_count"] = json!(load.map(|l| l.open_count));
    value["assigned_total"] = json!(load.map(|l| l.assigned_total));
    value
}

pub fn opportunity(opp: &Opportunity) -> Value {
    json!({
        "opportunity_id": opp.opportunity_id,
        "customer_id": opp.customer_id,
        "owner_rep_id": opp.owner_rep_id,
        "stage": opp.stage,
        "amount": opp.amount,
        "currency": opp.currency,
        "name": opp.name,
        "status": opportunity_status(opp.status),
        "lead_id": opp.lead_id,
        "pipeline_id": opp.pipeline_id,
        "source": opp.source,
        "lost_reason": opp.lost_reason,
        "created_at": timestamp_json(opp.created_at.as_ref()),
        "updated_at": timestamp_json(opp.updated_at.as_ref()),
        "stage_entered_at": timestamp_json(opp.stage_entered_at.as_ref()),
        "next_follow_up_at": timestamp_json(opp.next_follow_up_at.as_ref()),
    })
}

pub fn activity(activity: &Activity) -> Value {
    json!({
        "activity_id": activity.activity_id,
        "opportunity_id": activity.opportunity_id,
        "kind": activity.kind,
        "summary": activity.summary,
        "next_step": activity.next_step,
        "next_follow_up_at": timestamp_json(activity.next_follow_up_at.as_ref()),
        "lead_id": activity.lead_id,
        "user_id": activity.user_id,
        "logged_at": timestamp_json(activity.logged_at.as_ref()),
    })
}

pub fn history_entry(entry: &HistoryEntry) -> Value {
    json!({
        "field": entry.field,
        "old_value": entry.old_value,
        "new_value": entry.new_value,
        "user_id": entry.user_id,
        "at": timestamp_json(entry.at.as_ref()),
        "note": entry.note,
    })
}

pub fn customer(customer: &Customer) -> Value {
    json!({
        "customer_id": customer.customer_id,
        "name": customer.name,
        "company": customer.company,
        "phones": customer.phones,
        "emails": customer.emails,
        "lead_count": customer.lead_count,
        "created_at": timestamp_json(customer.created_at.as_ref()),
        "updated_at": timestamp_json(customer.updated_at.as_ref()),
    })
}

pub fn customer_match(found: &CustomerMatch) -> Value {
    json!({
        "customer_id": found.customer_id,
        "score": found.score,
        "decision": match_decision(found.decision),
        "reasons": found.reasons,
        "evidence": found.evidence.iter().map(|e| json!({
            "field": e.field,
            "similarity": e.similarity,
            "contribution": e.contribution,
            "detail": e.detail,
        })).collect::<Vec<_>>(),
        "customer": found.customer.as_ref().map(customer),
    })
}

pub fn reminder(reminder: &Reminder) -> Value {
    json!({
        "reminder_id": reminder.reminder_id,
        "opportunity_id": reminder.opportunity_id,
        "lead_id": reminder.lead_id,
        "owner_rep_id": reminder.owner_rep_id,
        "kind": reminder.kind,
        "due_at": timestamp_json(reminder.due_at.as_ref()),
        "state": reminder_state(reminder.state),
        "message": reminder.message,
        "created_at": timestamp_json(reminder.created_at.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_become_lowercase_labels() {
        assert_eq!(
            lead_status(LeadStatus::AttachedToOpportunity as i32),
            "attached_to_opportunity"
        );
        assert_eq!(opportunity_status(OpportunityStatus::Won as i32), "won");
        assert_eq!(match_decision(MatchDecision::Possible as i32), "possible");
        assert_eq!(reminder_state(ReminderState::Fired as i32), "fired");
        assert_eq!(lead_status(99), "unknown_99");
    }

    #[test]
    fn leads_keep_their_custom_fields() {
        let mut value = Lead {
            contact_name: "王先生".into(),
            ..Default::default()
        };
        value.custom_fields.insert("微信".into(), "w01".into());
        let json = lead(&value);
        assert_eq!(json["contact_name"], "王先生");
        assert_eq!(json["custom_fields"]["微信"], "w01");
    }
}
