//! Opportunity events -> reminders.
//!
//! Events of one opportunity may arrive in any order (several pipeline replicas, a
//! redelivery after a failure). Each handler therefore first records what the event says
//! about the opportunity (its owner as of the event's time, whether it closed) in
//! `opportunities`, keeping the newest facts, and then acts on what is known in total:
//! a closed opportunity gets no new reminders, open reminders follow the newest owner,
//! an activity seen before `created` still counts as the first contact.
//!
//! The tenant's policy for the opportunity's stage decides which rule reminders it gets
//! (see [`super::rule_clocks`]); an activity or stage change restarts their clocks.

use prost_types::Timestamp;
use shangji_contracts::events::Event;
use shangji_contracts::events::opportunity::{
    OpportunityActivityLogged, OpportunityCreated, OpportunityLost, OpportunityOwnerChanged,
    OpportunityReopened, OpportunityStageChanged, OpportunityUpdated, OpportunityWon,
};
use shangji_contracts::time::{now_millis, to_millis};
use shangji_platform::Tx;
use shangji_platform::bus::{BatchHandler, HandlerError, IncomingEvent};
use shangji_platform::db::Together;
use shangji_platform::ids::new_id;

use super::rule_clocks::{Restart, restart_ladders, restart_rules};
use super::settings::BatchSettings;
use crate::domain::{
    ReminderKind, ReminderState, TimeCount, activity_effects, first_contact_due_at,
    first_contact_message, follow_up_message,
};
use crate::store::{self, Closure, NewReminder, OpportunityFacts};

/// The opportunity events this handler uses (the consumer's filter).
pub const CONSUMED_EVENTS: &[&str] = &[
    "created",
    "activity_logged",
    "stage_changed",
    "owner_changed",
    "updated",
    "reopened",
    "won",
    "lost",
];

/// Applies opportunity events to reminders.
#[derive(Clone, Debug)]
pub struct OpportunityEvents {
    first_contact_hours: u32,
}

impl OpportunityEvents {
    pub fn new(first_contact_hours: u32) -> OpportunityEvents {
        OpportunityEvents {
            first_contact_hours,
        }
    }
}

impl BatchHandler for OpportunityEvents {
    /// One [`BatchSettings`] for the batch: its policies and calendars are read once.
    type Batch = BatchSettings;

    fn new_batch(&self) -> BatchSettings {
        BatchSettings::new(self.first_contact_hours)
    }

    async fn apply(
        &self,
        tx: &mut Tx,
        event: &IncomingEvent,
        settings: &mut BatchSettings,
    ) -> Result<(), HandlerError> {
        if event.tenant_id().is_empty() {
            return Err(reject("the envelope names no tenant"));
        }
        let ty = event.event_type();
        if ty == OpportunityCreated::TYPE {
            self.created(tx, event, event.decode()?, settings).await
        } else if ty == OpportunityActivityLogged::TYPE {
            self.activity_logged(tx, event, event.decode()?, settings)
                .await
        } else if ty == OpportunityStageChanged::TYPE {
            self.stage_changed(tx, event, event.decode()?, settings)
                .await
        } else if ty == OpportunityUpdated::TYPE {
            self.updated(tx, event, event.decode()?, settings).await
        } else if ty == OpportunityReopened::TYPE {
            self.reopened(tx, event, event.decode()?, settings).await
        } else if ty == OpportunityOwnerChanged::TYPE {
            let e: OpportunityOwnerChanged = event.decode()?;
            let at = time_of(e.changed_at.as_ref(), event);
            follow_owner(tx, event, &e.opportunity_id, &e.to_rep_id, at).await
        } else if ty == OpportunityWon::TYPE {
            let e: OpportunityWon = event.decode()?;
            let at = time_of(e.closed_at.as_ref(), event);
            closed(
                tx,
                event,
                &e.opportunity_id,
                &e.owner_rep_id,
                Closure::Won,
                at,
            )
            .await
        } else if ty == OpportunityLost::TYPE {
            let e: OpportunityLost = event.decode()?;
            let at = time_of(e.closed_at.as_ref(), event);
            closed(
                tx,
                event,
                &e.opportunity_id,
                &e.owner_rep_id,
                Closure::Lost,
                at,
            )
            .await
        } else {
            // Another event of the domain that reminders has no use for.
            Ok(())
        }
    }
}

impl OpportunityEvents {
    /// A new opportunity: its owner must make first contact within the configured hours.
    async fn created(
        &self,
        tx: &mut Tx,
        event: &IncomingEvent,
        e: OpportunityCreated,
        settings: &mut BatchSettings,
    ) -> Result<(), HandlerError> {
        let tenant_id = event.tenant_id();
        let opened_at = time_of(e.created_at.as_ref(), event);
        let now = now_millis();
        let opportunity_id = e.opportunity_id.as_str();
        if opportunity_id.is_empty() {
            return Err(reject("the event names no opportunity_id"));
        }
        // Owner, customer, team and the stage it opened in, in one statement; an owner or
        // stage change seen earlier stays (it is newer).
        let mut facts = store::opportunities::record_opening(
            tx,
            tenant_id,
            opportunity_id,
            &store::opportunities::Opening {
                owner_rep_id: &e.owner_rep_id,
                customer_id: &e.customer_id,
                team: &e.team,
                stage: &e.stage,
                opened_at,
            },
            now,
        )
        .await?;
        // Writes whose answers nothing below needs and that nothing below reads back go
        // to the database together at the end: one round trip instead of four.
        let mut writes = Together::new(tx);
        let lead_reminder_linked = link_opening_lead(
            tx,
            &mut writes,
            tenant_id,
            opportunity_id,
            &e.lead_id,
            &facts,
            now,
        )
        .await?;
        if facts.closed {
            writes.execute(tx).await?;
            tracing::info!(tenant_id, opportunity_id = %e.opportunity_id, "opportunity already closed; no first-contact reminder");
            return Ok(());
        }
        if let Some(close) = e.expected_close_at.as_ref()
            && store::opportunities::record_expected_close(
                tx,
                tenant_id,
                opportunity_id,
                Some(to_millis(close)),
                opened_at,
                now,
            )
            .await?
        {
            facts = current_facts(tx, tenant_id, opportunity_id).await?;
        }
        let policy = settings.policy(tx, tenant_id, &facts.stage).await?;
        let calendar = settings.calendar(tx, tenant_id).await?;
        restart_rules(
            &mut writes,
            tenant_id,
            opportunity_id,
            &facts,
            &policy,
            &calendar,
            Restart::ALL,
            now,
        )?;
        if !policy.wants_first_contact() {
            writes.execute(tx).await?;
            tracing::info!(tenant_id, opportunity_id, policy_id = %policy.policy_id, "policy asks for no first contact");
            return Ok(());
        }
        let reminder_id = new_id("rem");
        let message = first_contact_message(&e.name, &e.opportunity_id, &e.lead_id);
        // The lead's own reminder (`lead.assigned` came first) is the opportunity's now;
        // the insert would only find it.
        let created = !lead_reminder_linked
            && store::first_contact::insert(
                tx,
                &NewReminder {
                    tenant_id,
                    reminder_id: &reminder_id,
                    opportunity_id: &e.opportunity_id,
                    owner_rep_id: &facts.owner_rep_id,
                    kind: ReminderKind::FirstContact,
                    due_at: first_contact_due_at(
                        opened_at,
                        &policy.rules,
                        &TimeCount {
                            calendar: &calendar,
                            business_time: policy.rules.business_time,
                        },
                    ),
                    state: ReminderState::Pending,
                    message: &message,
                    policy_id: &policy.policy_id,
                    policy_version: policy.version,
                    now,
                },
                &e.lead_id,
            )
            .await?;
        if created {
            metrics::counter!("shangji_reminders_created_total", "kind" => ReminderKind::FirstContact.as_str()).increment(1);
            tracing::info!(tenant_id, opportunity_id = %e.opportunity_id, reminder_id, owner_rep_id = %facts.owner_rep_id, "first-contact reminder scheduled");
        } else {
            tracing::info!(tenant_id, opportunity_id = %e.opportunity_id, "first-contact reminder exists already");
        }
        // An owner change seen before `created` may have left the facts newer than this event.
        writes.push(store::reminders::reassign_open_statement(
            tenant_id,
            opportunity_id,
            &facts.owner_rep_id,
            now,
        ))?;
        if facts.last_activity_at.is_some() {
            // A contact came before `created`, after the lead's reminder was scheduled.
            writes.push(store::reminders::complete_first_contact_statement(
                tenant_id,
                opportunity_id,
                now,
            ))?;
        }
        writes.execute(tx).await?;
        Ok(())
    }

    /// A newer stage: the stage rules restart under the new stage's policy, and fired
    /// reminders climbing a ladder start it again.
    async fn stage_changed(
        &self,
        tx: &mut Tx,
        event: &IncomingEvent,
        e: OpportunityStageChanged,
        settings: &mut BatchSettings,
    ) -> Result<(), HandlerError> {
        let tenant_id = event.tenant_id();
        let opportunity_id = e.opportunity_id.as_str();
        let at = time_of(e.changed_at.as_ref(), event);
        let now = now_millis();
        follow_owner(tx, event, opportunity_id, &e.owner_rep_id, at).await?;
        store::opportunities::record_customer_and_team(
            tx,
            tenant_id,
            opportunity_id,
            &e.customer_id,
            &e.team,
        )
        .await?;
        if !store::opportunities::record_stage(tx, tenant_id, opportunity_id, &e.to_stage, at, now)
            .await?
        {
            tracing::info!(tenant_id, opportunity_id, to_stage = %e.to_stage, "a newer stage is known; keeping it");
            return Ok(());
        }
        if let Some(close) = e.expected_close_at.as_ref() {
            store::opportunities::record_expected_close(
                tx,
                tenant_id,
                opportunity_id,
                Some(to_millis(close)),
                at,
                now,
            )
            .await?;
        }
        let facts = current_facts(tx, tenant_id, opportunity_id).await?;
        let policy = settings.policy(tx, tenant_id, &facts.stage).await?;
        let calendar = settings.calendar(tx, tenant_id).await?;
        let mut writes = Together::new(tx);
        restart_rules(
            &mut writes,
            tenant_id,
            opportunity_id,
            &facts,
            &policy,
            &calendar,
            Restart::ALL,
            now,
        )?;
        writes.execute(tx).await?;
        let restarted = restart_ladders(tx, tenant_id, opportunity_id, &calendar, at, now).await?;
        tracing::info!(tenant_id, opportunity_id, stage = %facts.stage, policy_id = %policy.policy_id, restarted, "stage changed; rule clocks restarted");
        Ok(())
    }

    /// Amount, currency or expected close date changed: a new expected close date
    /// reschedules the close-overdue reminder.
    async fn updated(
        &self,
        tx: &mut Tx,
        event: &IncomingEvent,
        e: OpportunityUpdated,
        settings: &mut BatchSettings,
    ) -> Result<(), HandlerError> {
        let tenant_id = event.tenant_id();
        let opportunity_id = e.opportunity_id.as_str();
        let at = time_of(e.updated_at.as_ref(), event);
        let now = now_millis();
        let before =
            facts_with_owner(tx, tenant_id, opportunity_id, &e.owner_rep_id, at, now).await?;
        store::reminders::reassign_open(tx, tenant_id, opportunity_id, &before.owner_rep_id, now)
            .await?;
        store::opportunities::record_customer_and_team(
            tx,
            tenant_id,
            opportunity_id,
            &e.customer_id,
            &e.team,
        )
        .await?;
        let expected_close_at = e.expected_close_at.as_ref().map(to_millis);
        let newest = store::opportunities::record_expected_close(
            tx,
            tenant_id,
            opportunity_id,
            expected_close_at,
            at,
            now,
        )
        .await?;
        if !newest || before.expected_close_at == expected_close_at {
            return Ok(());
        }
        let facts = current_facts(tx, tenant_id, opportunity_id).await?;
        let policy = settings.policy(tx, tenant_id, &facts.stage).await?;
        let restart = Restart {
            close_overdue: true,
            ..Restart::default()
        };
        let calendar = settings.calendar(tx, tenant_id).await?;
        let mut writes = Together::new(tx);
        restart_rules(
            &mut writes,
            tenant_id,
            opportunity_id,
            &facts,
            &policy,
            &calendar,
            restart,
            now,
        )?;
        writes.execute(tx).await?;
        tracing::info!(
            tenant_id,
            opportunity_id,
            expected_close_at,
            "expected close date changed"
        );
        Ok(())
    }

    /// A closed opportunity is open again: its rules start afresh from the reopening.
    async fn reopened(
        &self,
        tx: &mut Tx,
        event: &IncomingEvent,
        e: OpportunityReopened,
        settings: &mut BatchSettings,
    ) -> Result<(), HandlerError> {
        let tenant_id = event.tenant_id();
        let opportunity_id = e.opportunity_id.as_str();
        let at = time_of(e.reopened_at.as_ref(), event);
        let now = now_millis();
        facts_with_owner(tx, tenant_id, opportunity_id, &e.owner_rep_id, at, now).await?;
        if !store::opportunities::record_reopened(tx, tenant_id, opportunity_id, at, now).await? {
            tracing::info!(
                tenant_id,
                opportunity_id,
                "not closed before the reopening; nothing to do"
            );
            return Ok(());
        }
        store::opportunities::record_stage(tx, tenant_id, opportunity_id, &e.stage, at, now)
            .await?;
        let facts = current_facts(tx, tenant_id, opportunity_id).await?;
        let policy = settings.policy(tx, tenant_id, &facts.stage).await?;
        let calendar = settings.calendar(tx, tenant_id).await?;
        let mut writes = Together::new(tx);
        restart_rules(
            &mut writes,
            tenant_id,
            opportunity_id,
            &facts,
            &policy,
            &calendar,
            Restart::ALL,
            now,
        )?;
        writes.execute(tx).await?;
        tracing::info!(
            tenant_id,
            opportunity_id,
            "opportunity reopened; rule reminders scheduled"
        );
        Ok(())
    }

    /// An activity: a contact completes the first-contact reminder (and answers follow-ups
    /// that had fallen due), restarts the no-activity clock and the ladders; a planned
    /// next follow-up replaces the pending one.
    async fn activity_logged(
        &self,
        tx: &mut Tx,
        event: &IncomingEvent,
        e: OpportunityActivityLogged,
        settings: &mut BatchSettings,
    ) -> Result<(), HandlerError> {
        if !e.lead_id.is_empty() && !e.opportunity_id.is_empty() {
            // A touchpoint: a new lead attached to this open opportunity, and the lead's
            // first contact is done by this opportunity's activities from now on.
            let now = now_millis();
            let tenant_id = event.tenant_id();
            store::leads::link_opportunity(
                tx,
                tenant_id,
                &e.lead_id,
                &e.opportunity_id,
                false,
                now,
            )
            .await?;
            store::first_contact::link_to_opportunity(
                tx,
                tenant_id,
                &e.lead_id,
                &e.opportunity_id,
                now,
            )
            .await?;
        }
        activity_logged(tx, event, &e).await?;
        let tenant_id = event.tenant_id();
        let opportunity_id = e.opportunity_id.as_str();
        let logged_at = time_of(e.logged_at.as_ref(), event);
        let facts = current_facts(tx, tenant_id, opportunity_id).await?;
        let contact =
            activity_effects(&e.kind, logged_at, None, facts.closed).completes_first_contact;
        let now = now_millis();
        if !contact
            || !store::opportunities::record_activity(tx, tenant_id, opportunity_id, logged_at, now)
                .await?
        {
            return Ok(());
        }
        let facts = current_facts(tx, tenant_id, opportunity_id).await?;
        let policy = settings.policy(tx, tenant_id, &facts.stage).await?;
        let restart = Restart {
            no_activity: true,
            ..Restart::default()
        };
        let calendar = settings.calendar(tx, tenant_id).await?;
        let mut writes = Together::new(tx);
        restart_rules(
            &mut writes,
            tenant_id,
            opportunity_id,
            &facts,
            &policy,
            &calendar,
            restart,
            now,
        )?;
        writes.execute(tx).await?;
        restart_ladders(tx, tenant_id, opportunity_id, &calendar, logged_at, now).await?;
        Ok(())
    }
}

/// The reminder changes of an activity that need no policy: first contact, follow-ups.
async fn activity_logged(
    tx: &mut Tx,
    event: &IncomingEvent,
    e: &OpportunityActivityLogged,
) -> Result<(), HandlerError> {
    let tenant_id = event.tenant_id();
    let opportunity_id = e.opportunity_id.as_str();
    let logged_at = time_of(e.logged_at.as_ref(), event);
    let now = now_millis();
    let facts = facts_with_owner(
        tx,
        tenant_id,
        opportunity_id,
        &e.owner_rep_id,
        logged_at,
        now,
    )
    .await?;
    store::reminders::reassign_open(tx, tenant_id, opportunity_id, &facts.owner_rep_id, now)
        .await?;
    let next_follow_up_at = e.next_follow_up_at.as_ref().map(to_millis);
    let effects = activity_effects(&e.kind, logged_at, next_follow_up_at, facts.closed);

    if effects.completes_first_contact {
        let completed =
            store::reminders::complete_first_contact(tx, tenant_id, opportunity_id, now).await?;
        if completed == 0
            && !store::first_contact::exists_for_opportunity(tx, tenant_id, opportunity_id).await?
        {
            // The activity came before `created` (or `created` never reached us): record
            // the first contact as done, so a late `created` finds it and adds nothing.
            let reminder_id = new_id("rem");
            store::reminders::insert(
                tx,
                &NewReminder {
                    tenant_id,
                    reminder_id: &reminder_id,
                    opportunity_id,
                    owner_rep_id: &facts.owner_rep_id,
                    kind: ReminderKind::FirstContact,
                    due_at: logged_at,
                    state: ReminderState::Done,
                    message: &first_contact_message("", opportunity_id, ""),
                    policy_id: "",
                    policy_version: 0,
                    now,
                },
            )
            .await?;
        }
        tracing::info!(tenant_id, opportunity_id, activity_id = %e.activity_id, kind = %e.kind, "first contact made");
    }
    if let Some(due_by) = effects.completes_follow_ups_due_by {
        store::reminders::complete_follow_ups_due_by(tx, tenant_id, opportunity_id, due_by, now)
            .await?;
    }
    if let Some(due_at) = effects.schedules_follow_up_at {
        if !store::opportunities::claim_follow_up(tx, tenant_id, opportunity_id, logged_at, now)
            .await?
        {
            tracing::info!(tenant_id, opportunity_id, activity_id = %e.activity_id, "a later activity planned the follow-up already; keeping it");
            return Ok(());
        }
        let replaced =
            store::reminders::cancel_pending_follow_ups(tx, tenant_id, opportunity_id, now).await?;
        let reminder_id = new_id("rem");
        store::reminders::insert(
            tx,
            &NewReminder {
                tenant_id,
                reminder_id: &reminder_id,
                opportunity_id,
                owner_rep_id: &facts.owner_rep_id,
                kind: ReminderKind::FollowUp,
                due_at,
                state: ReminderState::Pending,
                message: &follow_up_message(opportunity_id, &e.next_step, &e.summary),
                policy_id: "",
                policy_version: 0,
                now,
            },
        )
        .await?;
        metrics::counter!("shangji_reminders_created_total", "kind" => ReminderKind::FollowUp.as_str()).increment(1);
        tracing::info!(
            tenant_id,
            opportunity_id,
            reminder_id,
            due_at,
            replaced,
            "follow-up reminder scheduled"
        );
    }
    Ok(())
}

/// `opportunity.created` names the lead that opened it: the lead's reminder (when
/// `lead.assigned` came first) now belongs to the opportunity, and a first contact
/// recorded before `created` without a lead becomes the lead's. True when the lead's own
/// reminder was linked here. The lead's link to the opportunity goes to `writes`.
async fn link_opening_lead(
    tx: &mut Tx,
    writes: &mut Together,
    tenant_id: &str,
    opportunity_id: &str,
    lead_id: &str,
    facts: &OpportunityFacts,
    now: i64,
) -> Result<bool, HandlerError> {
    if lead_id.is_empty() {
        return Ok(false);
    }
    writes.push(store::leads::link_opportunity_statement(
        tenant_id,
        lead_id,
        opportunity_id,
        true,
        now,
    ))?;
    let linked =
        store::first_contact::link_to_opportunity(tx, tenant_id, lead_id, opportunity_id, now)
            .await?;
    // A lead-less first contact is written only by an activity that counted as contact,
    // and that activity also recorded `last_activity_at`: without one there is none.
    if facts.last_activity_at.is_some() {
        store::first_contact::adopt_lead_less(tx, tenant_id, opportunity_id, lead_id, now).await?;
    }
    Ok(linked > 0)
}

/// An event that names the owner as of `at`: open reminders follow the newest owner.
async fn follow_owner(
    tx: &mut Tx,
    event: &IncomingEvent,
    opportunity_id: &str,
    owner_rep_id: &str,
    at: i64,
) -> Result<(), HandlerError> {
    let tenant_id = event.tenant_id();
    let now = now_millis();
    let facts = facts_with_owner(tx, tenant_id, opportunity_id, owner_rep_id, at, now).await?;
    let moved =
        store::reminders::reassign_open(tx, tenant_id, opportunity_id, &facts.owner_rep_id, now)
            .await?;
    if moved > 0 {
        tracing::info!(tenant_id, opportunity_id, owner_rep_id = %facts.owner_rep_id, moved, "reminders moved to the new owner");
    }
    Ok(())
}

/// Won or lost: the opportunity's open reminders are cancelled and no new ones come.
async fn closed(
    tx: &mut Tx,
    event: &IncomingEvent,
    opportunity_id: &str,
    owner_rep_id: &str,
    closure: Closure,
    closed_at: i64,
) -> Result<(), HandlerError> {
    let tenant_id = event.tenant_id();
    let now = now_millis();
    facts_with_owner(tx, tenant_id, opportunity_id, owner_rep_id, closed_at, now).await?;
    store::opportunities::record_closed(tx, tenant_id, opportunity_id, closure, closed_at, now)
        .await?;
    let cancelled = store::reminders::cancel_open(tx, tenant_id, opportunity_id, now).await?;
    tracing::info!(
        tenant_id,
        opportunity_id,
        outcome = closure.as_str(),
        cancelled,
        "opportunity closed; reminders cancelled"
    );
    Ok(())
}

/// Records the owner an event states and returns what is known about the opportunity.
/// An event without an owner still creates the row, but can never win over a named one.
async fn facts_with_owner(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    owner_rep_id: &str,
    as_of: i64,
    now: i64,
) -> Result<OpportunityFacts, HandlerError> {
    if opportunity_id.is_empty() {
        return Err(reject("the event names no opportunity_id"));
    }
    let as_of = if owner_rep_id.is_empty() {
        i64::MIN
    } else {
        as_of
    };
    Ok(
        store::opportunities::record_owner(tx, tenant_id, opportunity_id, owner_rep_id, as_of, now)
            .await?,
    )
}

/// Everything known about an opportunity whose row the handler has just written.
async fn current_facts(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
) -> Result<OpportunityFacts, HandlerError> {
    store::opportunities::facts(tx, tenant_id, opportunity_id)
        .await?
        .ok_or_else(|| {
            HandlerError::Retry(anyhow::anyhow!(
                "opportunity {opportunity_id} has no row yet"
            ))
        })
}

/// The time an event carries for what it reports, or when it was published.
fn time_of(at: Option<&Timestamp>, event: &IncomingEvent) -> i64 {
    at.map(to_millis)
        .unwrap_or_else(|| event.occurred_at_millis())
}

fn reject(reason: &str) -> HandlerError {
    HandlerError::Reject(anyhow::anyhow!("{reason}"))
}
