//! The clocks of the policy rules: which rule reminders an event restarts, and the
//! ladders of fired reminders that an activity or stage change sets back to the start.

use shangji_platform::Tx;
use shangji_platform::db::Together;
use shangji_platform::ids::new_id;

use crate::domain::{
    BusinessCalendar, Policy, ReminderKind, ReminderState, TimeCount, close_overdue_due_at,
    next_fire_at, no_activity_due_at, rule_message, stage_age_due_at,
};
use crate::store::{self, NewReminder, OpportunityFacts};

/// The policy rules whose clocks an event restarts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Restart {
    pub no_activity: bool,
    pub stage_age: bool,
    pub close_overdue: bool,
}

impl Restart {
    pub const ALL: Restart = Restart {
        no_activity: true,
        stage_age: true,
        close_overdue: true,
    };
}

/// (Re)schedules the restarted rules of an open opportunity under `policy`, from what is
/// known about it: a rule the policy switches off (or with nothing to count from)
/// cancels its open reminder. Days count by the tenant's calendar. The writes go to
/// `writes`, which the caller runs (with its own writes that need no answer either).
#[allow(clippy::too_many_arguments)] // one event's whole context; a struct would only rename it
pub fn restart_rules(
    writes: &mut Together,
    tenant_id: &str,
    opportunity_id: &str,
    facts: &OpportunityFacts,
    policy: &Policy,
    calendar: &BusinessCalendar,
    restart: Restart,
    now: i64,
) -> Result<(), sqlx::Error> {
    if facts.closed {
        return Ok(());
    }
    let rules = &policy.rules;
    let count = TimeCount {
        calendar,
        business_time: rules.business_time,
    };
    // The no-activity clock counts from the last activity or stage change.
    let touched_at = facts.last_activity_at.max(facts.stage_as_of);
    let plan = [
        (
            restart.no_activity,
            ReminderKind::NoActivity,
            touched_at.and_then(|t| no_activity_due_at(t, rules, &count)),
            rules.no_activity_days,
        ),
        (
            restart.stage_age,
            ReminderKind::StageAge,
            facts
                .stage_as_of
                .and_then(|t| stage_age_due_at(t, rules, &count)),
            rules.stage_age_days,
        ),
        (
            restart.close_overdue,
            ReminderKind::CloseOverdue,
            close_overdue_due_at(facts.expected_close_at, rules),
            0,
        ),
    ];
    let mut cancelled = Vec::new();
    for (wanted, kind, due_at, days) in plan {
        if !wanted {
            continue;
        }
        match due_at {
            Some(due_at) => {
                let reminder_id = new_id("rem");
                let message = rule_message(kind, opportunity_id, &facts.stage, days);
                writes.push(store::reminders::schedule_rule_statement(&NewReminder {
                    tenant_id,
                    reminder_id: &reminder_id,
                    opportunity_id,
                    owner_rep_id: &facts.owner_rep_id,
                    kind,
                    due_at,
                    state: ReminderState::Pending,
                    message: &message,
                    policy_id: &policy.policy_id,
                    policy_version: policy.version,
                    now,
                }))?;
                tracing::debug!(
                    tenant_id,
                    opportunity_id,
                    kind = kind.as_str(),
                    due_at,
                    "rule reminder scheduled"
                );
            }
            None => cancelled.push(kind),
        }
    }
    for statement in
        store::reminders::cancel_rules_statements(tenant_id, opportunity_id, &cancelled, now)
    {
        writes.push(statement)?;
    }
    Ok(())
}

/// A policy just stored reaches the open opportunities it governs (those in its stage,
/// or, for the tenant default, in stages without a policy of their own) at once, not at
/// their next event: a deal sitting still is exactly the one that sends no events. A rule
/// is (re)scheduled where it has no reminder yet, its reminder was cancelled, or it waits
/// under an older policy; a reminder that already fired (and may be climbing its ladder)
/// or was done is left as it is. Returns the opportunities looked at.
pub async fn apply_new_policy(
    tx: &mut Tx,
    tenant_id: &str,
    policy: &Policy,
    now: i64,
) -> Result<usize, sqlx::Error> {
    let open = store::opportunities::open_of_tenant(tx, tenant_id).await?;
    let calendar = store::calendars::in_force(tx, tenant_id).await?;
    let mut governs: std::collections::HashMap<String, bool> = Default::default();
    let mut reached = 0;
    for (opportunity_id, facts) in open {
        let governed = match governs.get(&facts.stage) {
            Some(known) => *known,
            None => {
                let in_force = store::policies::in_force(tx, tenant_id, &facts.stage).await?;
                let known = in_force.is_some_and(|p| p.policy_id == policy.policy_id);
                governs.insert(facts.stage.clone(), known);
                known
            }
        };
        if !governed {
            continue;
        }
        let mut restart = Restart::ALL;
        for (kind, state, policy_id, version) in
            store::reminders::rule_reminders_of(tx, tenant_id, &opportunity_id).await?
        {
            let settled = match ReminderState::parse(&state) {
                Some(ReminderState::Fired | ReminderState::Done) => true,
                Some(ReminderState::Pending) => {
                    policy_id == policy.policy_id && version == i64::from(policy.version)
                }
                Some(ReminderState::Cancelled) | None => false,
            };
            if settled {
                match ReminderKind::parse(&kind) {
                    Some(ReminderKind::NoActivity) => restart.no_activity = false,
                    Some(ReminderKind::StageAge) => restart.stage_age = false,
                    Some(ReminderKind::CloseOverdue) => restart.close_overdue = false,
                    _ => {}
                }
            }
        }
        if restart == Restart::default() {
            continue;
        }
        let mut writes = Together::new(tx);
        restart_rules(
            &mut writes,
            tenant_id,
            &opportunity_id,
            &facts,
            policy,
            &calendar,
            restart,
            now,
        )?;
        writes.execute(tx).await?;
        reached += 1;
    }
    Ok(reached)
}

/// An activity or stage change at `at`: every fired reminder of the opportunity that is
/// climbing a ladder starts it again from `at` (its steps counted by the tenant's calendar).
pub async fn restart_ladders(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    calendar: &BusinessCalendar,
    at: i64,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let mut restarted = 0;
    for reminder in store::reminders::fired_of_opportunity(tx, tenant_id, opportunity_id).await? {
        let rules = if reminder.policy_id.is_empty() {
            continue;
        } else {
            match store::policies::rules_of_version(
                tx,
                tenant_id,
                &reminder.policy_id,
                reminder.policy_version,
            )
            .await?
            {
                Some(rules) => rules,
                None => continue,
            }
        };
        if rules.escalation.is_empty() {
            continue;
        }
        let count = TimeCount {
            calendar,
            business_time: rules.business_time,
        };
        let next = next_fire_at(ReminderState::Fired, reminder.due_at, at, 0, &rules, &count);
        if store::reminders::restart_ladder(tx, tenant_id, &reminder.reminder_id, at, next, now)
            .await?
        {
            restarted += 1;
        }
    }
    Ok(restarted)
}
