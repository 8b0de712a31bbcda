//! Every assigned lead gets one first-contact reminder for its owner, whether or not it
//! opens an opportunity, whichever of `lead.assigned` and `opportunity.created` comes
//! first; re-assignment moves it, redelivery changes nothing. Real NATS, the service
//! in-process, on SQLite and on PostgreSQL.

mod support;

use shangji_contracts::common::Lead;
use shangji_contracts::events::lead::{LeadAssigned, OwnershipTransferred};
use shangji_contracts::events::opportunity::{OpportunityActivityLogged, OpportunityCreated};
use shangji_contracts::events::{Domain, Event};
use shangji_contracts::reminders::{ListDueRequest, Reminder, ReminderState};
use shangji_contracts::time::{from_millis, now_millis, to_millis};
use shangji_reminders::RemindersConfig;
use support::{Backend, Harness, envelope, request};

const HOUR: i64 = 3_600_000;
const TENANT: &str = "acme";

#[tokio::test]
async fn lead_first_contact_on_sqlite() {
    lead_first_contact(Backend::Sqlite).await;
}

#[tokio::test]
async fn lead_first_contact_on_postgres() {
    lead_first_contact(Backend::Postgres).await;
}

fn assigned(lead_id: &str, rep_id: &str, customer_id: &str) -> LeadAssigned {
    LeadAssigned {
        lead_id: lead_id.to_owned(),
        customer_id: customer_id.to_owned(),
        rep_id: rep_id.to_owned(),
        team: "east".to_owned(),
        rule: "round-robin:east".to_owned(),
        lead: Some(Lead {
            contact_name: "王伟".to_owned(),
            company: "华为".to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn created(opportunity_id: &str, lead_id: &str, owner: &str) -> OpportunityCreated {
    OpportunityCreated {
        opportunity_id: opportunity_id.to_owned(),
        customer_id: format!("cus_{opportunity_id}"),
        owner_rep_id: owner.to_owned(),
        lead_id: lead_id.to_owned(),
        stage: "lead".to_owned(),
        name: format!("{opportunity_id} deal"),
        team: "east".to_owned(),
        created_at: Some(from_millis(now_millis())),
        ..Default::default()
    }
}

fn logged(
    opportunity_id: &str,
    owner: &str,
    kind: &str,
    lead_id: &str,
) -> OpportunityActivityLogged {
    OpportunityActivityLogged {
        opportunity_id: opportunity_id.to_owned(),
        owner_rep_id: owner.to_owned(),
        activity_id: shangji_platform::ids::new_id("act"),
        kind: kind.to_owned(),
        summary: format!("{kind} with the customer"),
        lead_id: lead_id.to_owned(),
        logged_at: Some(from_millis(now_millis())),
        ..Default::default()
    }
}

/// Publishes and waits until the service has handled it.
async fn deliver<E: Event>(h: &Harness, event: &E) {
    let (_, seq) = h.publish(TENANT, event).await;
    h.consumed(E::DOMAIN, seq).await;
}

/// The tenant's open reminders due within two days.
async fn open(h: &Harness) -> Vec<Reminder> {
    h.grpc
        .clone()
        .list_due(request(
            TENANT,
            ListDueRequest {
                within: Some(prost_types::Duration {
                    seconds: 48 * 3600,
                    nanos: 0,
                }),
                ..Default::default()
            },
        ))
        .await
        .expect("ListDue answers")
        .into_inner()
        .reminders
}

/// The open first-contact reminders of `lead_id`.
async fn of_lead(h: &Harness, lead_id: &str) -> Vec<Reminder> {
    open(h)
        .await
        .into_iter()
        .filter(|r| r.lead_id == lead_id && r.kind == "first_contact")
        .collect()
}

async fn lead_first_contact(backend: Backend) {
    let h = Harness::start_on(backend, RemindersConfig::default()).await;

    // (1) A lead that opens no opportunity (it attached to a customer's open one, was
    // claimed or handed over) still gets its first-contact reminder at assignment.
    let before = now_millis();
    let (first, seq) = h
        .publish(TENANT, &assigned("lead_1", "rep_a", "cus_1"))
        .await;
    h.consumed(Domain::Lead, seq).await;
    let after = now_millis();
    let due = of_lead(&h, "lead_1").await;
    assert_eq!(due.len(), 1, "{due:?}");
    let reminder = &due[0];
    assert_eq!(reminder.owner_rep_id, "rep_a");
    assert_eq!(reminder.opportunity_id, "", "no opportunity known yet");
    assert_eq!(reminder.state, ReminderState::Pending as i32);
    assert_eq!(
        reminder.message,
        "first contact due for lead lead_1 (王伟, 华为)"
    );
    let due_at = to_millis(reminder.due_at.as_ref().expect("due_at"));
    assert!(
        (before + 24 * HOUR..=after + 24 * HOUR).contains(&due_at),
        "due 24 h after the assignment, got {due_at}"
    );

    // Redelivered under a new message id: nothing changes.
    let seq = h
        .publish_envelope::<LeadAssigned>(&first, "lead-1-redelivered")
        .await;
    h.consumed(Domain::Lead, seq).await;
    assert_eq!(of_lead(&h, "lead_1").await, due);

    // (2) `lead.assigned` first, then `opportunity.created` for the same lead: one
    // reminder, which now belongs to the opportunity; a call completes it.
    deliver(&h, &assigned("lead_2", "rep_b", "cus_2")).await;
    let before_created = of_lead(&h, "lead_2").await;
    deliver(&h, &created("opp_2", "lead_2", "rep_b")).await;
    let both = of_lead(&h, "lead_2").await;
    assert_eq!(both.len(), 1, "{both:?}");
    assert_eq!(both[0].reminder_id, before_created[0].reminder_id);
    assert_eq!(both[0].opportunity_id, "opp_2");
    assert_eq!(
        open(&h)
            .await
            .iter()
            .filter(|r| r.opportunity_id == "opp_2")
            .count(),
        1,
        "the opportunity has no second first-contact reminder"
    );
    deliver(&h, &logged("opp_2", "rep_b", "call", "")).await;
    assert!(
        of_lead(&h, "lead_2").await.is_empty(),
        "the call was the first contact"
    );

    // (3) The other order: `opportunity.created`, then `lead.assigned`: still one.
    deliver(&h, &created("opp_3", "lead_3", "rep_c")).await;
    deliver(&h, &assigned("lead_3", "rep_c", "cus_opp_3")).await;
    let one = of_lead(&h, "lead_3").await;
    assert_eq!(one.len(), 1, "{one:?}");
    assert_eq!(one[0].opportunity_id, "opp_3");
    assert_eq!(one[0].owner_rep_id, "rep_c");

    // (4) Re-assignment (a claim from the pool, a hand-over) moves the open reminder to
    // the new owner; an older assignment arriving late does not move it back.
    h.publish(TENANT, &assigned("lead_4", "rep_d", "cus_4"))
        .await;
    let (newest, seq) = h
        .publish(TENANT, &assigned("lead_4", "rep_e", "cus_4"))
        .await;
    h.consumed(Domain::Lead, seq).await;
    let moved = of_lead(&h, "lead_4").await;
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(moved[0].owner_rep_id, "rep_e");
    let mut stale = envelope(TENANT, &assigned("lead_4", "rep_d", "cus_4"));
    // Strictly older than the newest: both publishes above can fall in one millisecond,
    // and on a tie the later-processed statement wins (that is what makes redelivery safe).
    let newest_at = to_millis(&newest.occurred_at.expect("the envelope has a time"));
    stale.occurred_at = Some(from_millis(newest_at - 1));
    let seq = h
        .publish_envelope::<LeadAssigned>(&stale, &stale.event_id)
        .await;
    h.consumed(Domain::Lead, seq).await;
    let kept = of_lead(&h, "lead_4").await;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].owner_rep_id, "rep_e", "the newest assignment wins");
    assert_eq!(kept[0].due_at, moved[0].due_at, "the clock keeps running");

    // A hand-over (the rep departs) moves the lead's reminder too; back to the pool, the
    // lead keeps it until someone claims it.
    let hand_over = |to: &str| OwnershipTransferred {
        transfer_id: shangji_platform::ids::new_id("xfer"),
        customer_id: "cus_1".to_owned(),
        lead_ids: vec!["lead_1".to_owned()],
        from_rep_id: "rep_a".to_owned(),
        to_rep_id: to.to_owned(),
        team: "east".to_owned(),
        reason: "hand_over".to_owned(),
        transferred_at: Some(from_millis(now_millis())),
        ..Default::default()
    };
    deliver(&h, &hand_over("rep_h")).await;
    let handed = of_lead(&h, "lead_1").await;
    assert_eq!(handed.len(), 1, "{handed:?}");
    assert_eq!(handed[0].owner_rep_id, "rep_h");
    assert_eq!(handed[0].reminder_id, due[0].reminder_id);
    deliver(&h, &hand_over("")).await;
    assert_eq!(of_lead(&h, "lead_1").await, handed);

    // (5) A known customer's next lead attaches to its open opportunity as a touchpoint:
    // the lead's reminder joins that opportunity, a touchpoint is not a contact, the
    // rep's next call is.
    deliver(&h, &created("opp_5", "lead_5a", "rep_f")).await;
    deliver(&h, &logged("opp_5", "rep_f", "call", "")).await;
    deliver(&h, &assigned("lead_5b", "rep_f", "cus_opp_5")).await;
    deliver(&h, &logged("opp_5", "rep_f", "touchpoint", "lead_5b")).await;
    let attached = of_lead(&h, "lead_5b").await;
    assert_eq!(attached.len(), 1, "{attached:?}");
    assert_eq!(attached[0].opportunity_id, "opp_5");
    deliver(&h, &logged("opp_5", "rep_f", "visit", "")).await;
    assert!(
        of_lead(&h, "lead_5b").await.is_empty(),
        "the visit was the first contact"
    );

    // (6) The rep called before `opportunity.created` reached reminders: whichever of
    // `lead.assigned` came first or last, the lead's first contact is done.
    deliver(&h, &assigned("lead_6", "rep_g", "cus_opp_6")).await;
    deliver(&h, &logged("opp_6", "rep_g", "call", "")).await;
    deliver(&h, &created("opp_6", "lead_6", "rep_g")).await;
    assert!(of_lead(&h, "lead_6").await.is_empty(), "called already");
    deliver(&h, &logged("opp_7", "rep_g", "call", "")).await;
    deliver(&h, &created("opp_7", "lead_7", "rep_g")).await;
    deliver(&h, &assigned("lead_7", "rep_g", "cus_opp_7")).await;
    assert!(of_lead(&h, "lead_7").await.is_empty(), "called already");
    assert!(
        open(&h)
            .await
            .iter()
            .all(|r| r.opportunity_id != "opp_6" && r.opportunity_id != "opp_7"),
        "no first-contact reminder for contacted opportunities"
    );

    // Every open first-contact reminder belongs to exactly one lead.
    let mut leads: Vec<String> = open(&h)
        .await
        .into_iter()
        .filter(|r| r.kind == "first_contact")
        .map(|r| r.lead_id)
        .collect();
    leads.sort();
    assert_eq!(leads, ["lead_1", "lead_3", "lead_4"]);
    h.stop().await;
}
