//! The reminders service end to end: real NATS JetStream, the service in-process,
//! events published as pipeline's relay would, answers read through gRPC.

mod support;

use async_nats::jetstream::consumer::{AckPolicy, pull};
use futures::StreamExt as _;
use prost::Message as _;
use shangji_contracts::events::opportunity::{
    OpportunityActivityLogged, OpportunityCreated, OpportunityLost, OpportunityOwnerChanged,
    OpportunityWon,
};
use shangji_contracts::events::reminder::ReminderDue;
use shangji_contracts::events::{Domain, Envelope, Event};
use shangji_contracts::reminders::{ListDueRequest, Reminder, ReminderState};
use shangji_contracts::time::{from_millis, now_millis, to_millis};
use shangji_reminders::RemindersConfig;
use support::{Harness, WAIT, request};
use tonic::Code;

const HOUR: i64 = 3_600_000;

fn created(opportunity_id: &str, owner: &str, created_at: i64) -> OpportunityCreated {
    OpportunityCreated {
        opportunity_id: opportunity_id.to_owned(),
        customer_id: format!("cus_{opportunity_id}"),
        owner_rep_id: owner.to_owned(),
        lead_id: format!("lead_{opportunity_id}"),
        stage: "lead".to_owned(),
        name: format!("{opportunity_id} deal"),
        created_at: Some(from_millis(created_at)),
        ..Default::default()
    }
}

fn activity(
    opportunity_id: &str,
    owner: &str,
    kind: &str,
    next_follow_up_at: Option<i64>,
) -> OpportunityActivityLogged {
    OpportunityActivityLogged {
        opportunity_id: opportunity_id.to_owned(),
        owner_rep_id: owner.to_owned(),
        activity_id: shangji_platform::ids::new_id("act"),
        kind: kind.to_owned(),
        summary: format!("{kind} with the customer"),
        next_step: "send the quote".to_owned(),
        next_follow_up_at: next_follow_up_at.map(from_millis),
        logged_at: Some(from_millis(now_millis())),
        ..Default::default()
    }
}

fn won(opportunity_id: &str, owner: &str) -> OpportunityWon {
    OpportunityWon {
        opportunity_id: opportunity_id.to_owned(),
        owner_rep_id: owner.to_owned(),
        amount: 1000.0,
        closed_at: Some(from_millis(now_millis())),
        ..Default::default()
    }
}

fn within_hours(hours: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration {
        seconds: hours * 3600,
        nanos: 0,
    })
}

async fn list_due(
    h: &Harness,
    tenant: &str,
    owner: &str,
    within: Option<prost_types::Duration>,
) -> Vec<Reminder> {
    h.grpc
        .clone()
        .list_due(request(
            tenant,
            ListDueRequest {
                owner_rep_id: owner.to_owned(),
                within,
                limit: 0,
            },
        ))
        .await
        .expect("ListDue answers")
        .into_inner()
        .reminders
}

fn summary(reminders: &[Reminder]) -> Vec<(String, String, String)> {
    reminders
        .iter()
        .map(|r| {
            (
                r.opportunity_id.clone(),
                r.kind.clone(),
                r.owner_rep_id.clone(),
            )
        })
        .collect()
}

fn row(opportunity_id: &str, kind: &str, owner: &str) -> (String, String, String) {
    (opportunity_id.to_owned(), kind.to_owned(), owner.to_owned())
}

#[tokio::test]
async fn a_new_opportunity_gets_a_first_contact_reminder_for_its_owner() {
    let h = Harness::start(RemindersConfig::default()).await;
    let opened_at = now_millis();
    let (envelope, _) = h
        .publish("acme", &created("opp_1", "rep_a", opened_at))
        .await;
    let (_, seq) = h
        .publish("globex", &created("opp_x", "rep_a", opened_at))
        .await;
    h.consumed(Domain::Opportunity, seq).await;

    let due = list_due(&h, "acme", "rep_a", within_hours(48)).await;
    assert_eq!(summary(&due), vec![row("opp_1", "first_contact", "rep_a")]);
    let reminder = &due[0];
    assert_eq!(reminder.state, ReminderState::Pending as i32);
    assert_eq!(
        reminder.message,
        "first contact due for opportunity opp_1 deal (lead lead_opp_1)"
    );
    assert_eq!(
        to_millis(reminder.due_at.as_ref().expect("due_at")),
        opened_at + 24 * HOUR
    );

    // Not due yet, and not someone else's.
    assert!(
        list_due(&h, "acme", "rep_a", within_hours(0))
            .await
            .is_empty()
    );
    assert!(list_due(&h, "acme", "rep_a", None).await.is_empty());
    assert!(
        list_due(&h, "acme", "rep_b", within_hours(48))
            .await
            .is_empty()
    );
    // The whole tenant, and only this tenant.
    assert_eq!(
        summary(&list_due(&h, "acme", "", within_hours(48)).await),
        vec![row("opp_1", "first_contact", "rep_a")]
    );
    assert_eq!(
        summary(&list_due(&h, "globex", "", within_hours(48)).await),
        vec![row("opp_x", "first_contact", "rep_a")]
    );

    // The same event delivered again changes nothing.
    let seq = h
        .publish_envelope::<OpportunityCreated>(&envelope, "redelivery-1")
        .await;
    h.consumed(Domain::Opportunity, seq).await;
    let again = list_due(&h, "acme", "", within_hours(48)).await;
    assert_eq!(again, due);

    h.stop().await;
}

#[tokio::test]
async fn list_due_refuses_a_negative_horizon_and_a_missing_tenant() {
    let h = Harness::start(RemindersConfig::default()).await;
    let err = h
        .grpc
        .clone()
        .list_due(request(
            "acme",
            ListDueRequest {
                within: Some(prost_types::Duration {
                    seconds: -60,
                    nanos: 0,
                }),
                ..Default::default()
            },
        ))
        .await
        .expect_err("negative horizon refused");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("within"), "{}", err.message());

    let err = h
        .grpc
        .clone()
        .list_due(tonic::Request::new(ListDueRequest::default()))
        .await
        .expect_err("no tenant refused");
    assert_eq!(err.code(), Code::Unauthenticated);
    h.stop().await;
}

#[tokio::test]
async fn activities_owner_changes_and_closing_shape_the_reminders() {
    let h = Harness::start(RemindersConfig::default()).await;
    let now = now_millis();
    h.publish("acme", &created("opp_1", "rep_a", now)).await;
    h.publish("acme", &created("opp_2", "rep_a", now)).await;
    // A touchpoint (a new lead attaching) is no contact by the rep.
    let (_, seq) = h
        .publish("acme", &activity("opp_1", "rep_a", "touchpoint", None))
        .await;
    h.consumed(Domain::Opportunity, seq).await;
    assert_eq!(
        summary(&list_due(&h, "acme", "rep_a", within_hours(48)).await),
        vec![
            row("opp_1", "first_contact", "rep_a"),
            row("opp_2", "first_contact", "rep_a")
        ]
    );

    // A call is the first contact, and plans a follow-up in 2 hours.
    let (_, seq) = h
        .publish(
            "acme",
            &activity("opp_1", "rep_a", "call", Some(now + 2 * HOUR)),
        )
        .await;
    h.consumed(Domain::Opportunity, seq).await;
    let due = list_due(&h, "acme", "rep_a", within_hours(48)).await;
    assert_eq!(
        summary(&due),
        vec![
            row("opp_1", "follow_up", "rep_a"),
            row("opp_2", "first_contact", "rep_a")
        ]
    );
    assert_eq!(
        to_millis(due[0].due_at.as_ref().expect("due_at")),
        now + 2 * HOUR
    );
    assert_eq!(
        due[0].message,
        "follow-up due for opportunity opp_1: send the quote"
    );
    let first_follow_up = due[0].reminder_id.clone();

    // A note without a next follow-up leaves the planned one; a meeting planning one
    // in 3 hours replaces it.
    let (_, seq) = h
        .publish("acme", &activity("opp_1", "rep_a", "note", None))
        .await;
    h.consumed(Domain::Opportunity, seq).await;
    let due = list_due(&h, "acme", "rep_a", within_hours(48)).await;
    assert_eq!(due[0].reminder_id, first_follow_up);
    let (_, seq) = h
        .publish(
            "acme",
            &activity("opp_1", "rep_a", "meeting", Some(now + 3 * HOUR)),
        )
        .await;
    h.consumed(Domain::Opportunity, seq).await;
    let due = list_due(&h, "acme", "rep_a", within_hours(48)).await;
    assert_eq!(
        summary(&due),
        vec![
            row("opp_1", "follow_up", "rep_a"),
            row("opp_2", "first_contact", "rep_a")
        ]
    );
    assert_ne!(due[0].reminder_id, first_follow_up);
    assert_eq!(
        to_millis(due[0].due_at.as_ref().expect("due_at")),
        now + 3 * HOUR
    );

    // A new owner takes the reminders over.
    let moved = OpportunityOwnerChanged {
        opportunity_id: "opp_2".to_owned(),
        from_rep_id: "rep_a".to_owned(),
        to_rep_id: "rep_b".to_owned(),
        reason: "rep_a left".to_owned(),
        changed_at: Some(from_millis(now_millis())),
        ..Default::default()
    };
    let (_, seq) = h.publish("acme", &moved).await;
    h.consumed(Domain::Opportunity, seq).await;
    assert_eq!(
        summary(&list_due(&h, "acme", "rep_a", within_hours(48)).await),
        vec![row("opp_1", "follow_up", "rep_a")]
    );
    assert_eq!(
        summary(&list_due(&h, "acme", "rep_b", within_hours(48)).await),
        vec![row("opp_2", "first_contact", "rep_b")]
    );

    // Closing cancels.
    h.publish("acme", &won("opp_1", "rep_a")).await;
    let lost = OpportunityLost {
        opportunity_id: "opp_2".to_owned(),
        owner_rep_id: "rep_b".to_owned(),
        reason: "price".to_owned(),
        closed_at: Some(from_millis(now_millis())),
        ..Default::default()
    };
    let (_, seq) = h.publish("acme", &lost).await;
    h.consumed(Domain::Opportunity, seq).await;
    assert!(list_due(&h, "acme", "", within_hours(48)).await.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn events_arriving_out_of_order_do_not_resurrect_reminders() {
    let h = Harness::start(RemindersConfig::default()).await;
    let now = now_millis();
    // Won before created: the closed opportunity gets no reminder.
    h.publish("acme", &won("opp_3", "rep_a")).await;
    h.publish("acme", &created("opp_3", "rep_a", now)).await;
    // The first call before created: first contact is already made.
    h.publish("acme", &activity("opp_4", "rep_a", "call", None))
        .await;
    h.publish("acme", &created("opp_4", "rep_a", now)).await;
    // An owner change before created: the reminder goes to the newer owner.
    let moved = OpportunityOwnerChanged {
        opportunity_id: "opp_5".to_owned(),
        from_rep_id: "rep_a".to_owned(),
        to_rep_id: "rep_c".to_owned(),
        changed_at: Some(from_millis(now + 1)),
        ..Default::default()
    };
    h.publish("acme", &moved).await;
    let (_, seq) = h.publish("acme", &created("opp_5", "rep_a", now)).await;
    h.consumed(Domain::Opportunity, seq).await;

    assert_eq!(
        summary(&list_due(&h, "acme", "", within_hours(48)).await),
        vec![row("opp_5", "first_contact", "rep_c")]
    );
    h.stop().await;
}

#[tokio::test]
async fn due_reminders_fire_once_and_announce_reminder_due() {
    let config = RemindersConfig {
        first_contact_hours: 0,
        tick_ms: 20,
        ..Default::default()
    };
    let h = Harness::start(config).await;
    // Read reminder.due from the stream (what JetStream stored, de-duplicated).
    let stream =
        h.js.get_stream(Domain::Reminder.stream_name())
            .await
            .expect("reminder stream");
    let consumer = stream
        .create_consumer(pull::Config {
            filter_subject: ReminderDue::subject(),
            ack_policy: AckPolicy::None,
            ..Default::default()
        })
        .await
        .expect("test consumer");
    let mut announced = consumer.messages().await.expect("messages");
    let (_, seq) = h
        .publish("acme", &created("opp_1", "rep_a", now_millis()))
        .await;
    h.consumed(Domain::Opportunity, seq).await;
    let (envelope, due) = next_due(&mut announced).await;
    assert_eq!(envelope.event_type, "reminder.due");
    assert_eq!(envelope.tenant_id, "acme");
    assert_eq!(envelope.user_id, "reminders");
    assert_eq!(envelope.causation_id, due.reminder_id);
    assert_eq!(envelope.correlation_id, "opp_1");
    assert_eq!(
        (
            due.opportunity_id.as_str(),
            due.owner_rep_id.as_str(),
            due.kind.as_str()
        ),
        ("opp_1", "rep_a", "first_contact")
    );

    let listed = list_due(&h, "acme", "rep_a", within_hours(0)).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].reminder_id, due.reminder_id);
    assert_eq!(listed[0].state, ReminderState::Fired as i32);

    // Many ticks later a second opportunity falls due; the next announcement is its own,
    // not opp_1's again.
    let (_, seq) = h
        .publish("acme", &created("opp_2", "rep_a", now_millis()))
        .await;
    h.consumed(Domain::Opportunity, seq).await;
    let (_, second) = next_due(&mut announced).await;
    assert_eq!(second.opportunity_id, "opp_2");
    let stored =
        h.js.get_stream(Domain::Reminder.stream_name())
            .await
            .expect("stream")
            .info()
            .await
            .expect("info")
            .state
            .messages;
    assert_eq!(stored, 2, "exactly one reminder.due per reminder");

    // Contact made: the fired first contact is done and leaves the list.
    let (_, seq) = h
        .publish("acme", &activity("opp_1", "rep_a", "call", None))
        .await;
    h.consumed(Domain::Opportunity, seq).await;
    assert_eq!(
        summary(&list_due(&h, "acme", "", within_hours(0)).await),
        vec![row("opp_2", "first_contact", "rep_a")]
    );
    h.stop().await;
}

/// The next reminder.due stored in the stream.
async fn next_due(announced: &mut pull::Stream) -> (Envelope, ReminderDue) {
    let message = tokio::time::timeout(WAIT, announced.next())
        .await
        .expect("a reminder.due within the wait")
        .expect("stream open")
        .expect("message");
    let envelope = Envelope::decode(message.payload.as_ref()).expect("envelope");
    let due = ReminderDue::decode(envelope.payload.as_slice()).expect("ReminderDue");
    (envelope, due)
}
