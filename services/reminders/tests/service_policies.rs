//! Policies, escalation ladders, Snooze and Acknowledge end to end: real NATS JetStream,
//! the service in-process, events published as pipeline's and assignment's relays would.
//! Days pass without sleeping: events carry times in the past, so what they schedule is
//! already due and the running timer acts on it at once.

mod support;

use prost::Message as _;
use shangji_contracts::events::opportunity::{
    OpportunityActivityLogged, OpportunityCreated, OpportunityStageChanged,
};
use shangji_contracts::events::org::{RepUpserted, TeamUpserted};
use shangji_contracts::events::reminder::{ReminderDue, ReminderEscalated};
use shangji_contracts::events::{Domain, Event};
use shangji_contracts::reminders::{
    AcknowledgeRequest, EscalationAction, EscalationStep, ListDueRequest, ListPoliciesRequest,
    Policy, Reminder, ReminderState, SnoozeRequest, UpsertPolicyRequest,
};
use shangji_contracts::time::{from_millis, now_millis, to_millis};
use shangji_reminders::RemindersConfig;
use shangji_testkit::{events, poll_until};
use support::{Harness, POLL, WAIT, request};
use tonic::Code;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn fast() -> RemindersConfig {
    RemindersConfig {
        tick_ms: 20,
        ..Default::default()
    }
}

fn created(opportunity_id: &str, stage: &str, created_at: i64) -> OpportunityCreated {
    OpportunityCreated {
        opportunity_id: opportunity_id.to_owned(),
        customer_id: format!("cus_{opportunity_id}"),
        owner_rep_id: "rep_a".to_owned(),
        stage: stage.to_owned(),
        name: format!("{opportunity_id} deal"),
        team: "sales".to_owned(),
        created_at: Some(from_millis(created_at)),
        ..Default::default()
    }
}

async fn upsert(
    h: &Harness,
    policy: Policy,
    key: &str,
    expected_version: u32,
) -> Result<Policy, tonic::Status> {
    h.grpc
        .clone()
        .upsert_policy(request(
            "acme",
            UpsertPolicyRequest {
                policy: Some(policy),
                idempotency_key: key.to_owned(),
                expected_version,
            },
        ))
        .await
        .map(|r| r.into_inner().policy.expect("policy"))
}

async fn list_policies(h: &Harness) -> Vec<Policy> {
    h.grpc
        .clone()
        .list_policies(request("acme", ListPoliciesRequest {}))
        .await
        .expect("ListPolicies answers")
        .into_inner()
        .policies
}

async fn list_due(h: &Harness, within_hours: i64) -> Vec<Reminder> {
    h.grpc
        .clone()
        .list_due(request(
            "acme",
            ListDueRequest {
                owner_rep_id: String::new(),
                within: Some(prost_types::Duration {
                    seconds: within_hours * 3600,
                    nanos: 0,
                }),
                limit: 0,
            },
        ))
        .await
        .expect("ListDue answers")
        .into_inner()
        .reminders
}

fn step(after_days: u32, notify_manager: bool, action: EscalationAction) -> EscalationStep {
    EscalationStep {
        after_days,
        notify_manager,
        action: action as i32,
    }
}

#[tokio::test]
async fn policies_are_listed_versioned_idempotent_and_validated() {
    let h = Harness::start(fast()).await;
    let builtin = list_policies(&h).await;
    assert_eq!(builtin.len(), 1, "the built-in default is shown");
    assert_eq!(
        (
            builtin[0].stage.as_str(),
            builtin[0].version,
            builtin[0].first_contact_hours
        ),
        ("", 0, 24)
    );

    let proposal = Policy {
        stage: "proposal".to_owned(),
        first_contact_hours: 8,
        no_activity_days: 14,
        ..Default::default()
    };
    let first = upsert(&h, proposal.clone(), "k1", 0).await.expect("stored");
    assert_eq!((first.version, first.no_activity_days), (1, 14));
    assert!(first.policy_id.starts_with("pol"), "{}", first.policy_id);
    let retry = upsert(&h, proposal.clone(), "k1", 0)
        .await
        .expect("replayed");
    assert_eq!(retry, first, "a retry gets the first answer");
    let listed = list_policies(&h).await;
    let stages: Vec<(&str, u32)> = listed
        .iter()
        .map(|p| (p.stage.as_str(), p.version))
        .collect();
    assert_eq!(
        stages,
        vec![("", 0), ("proposal", 1)],
        "the retry made no second version"
    );

    let changed = Policy {
        no_activity_days: 10,
        ..proposal.clone()
    };
    let err = upsert(&h, changed.clone(), "k1", 0).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("idempotency_key"),
        "{}",
        err.message()
    );
    let err = upsert(&h, changed.clone(), "k2", 7).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("version 1"), "{}", err.message());
    let second = upsert(&h, changed, "k3", 1).await.expect("stored");
    assert_eq!(
        (second.version, second.policy_id.as_str()),
        (2, first.policy_id.as_str())
    );

    let bad = Policy {
        stage: "negotiation".to_owned(),
        no_activity_days: 99_999,
        escalation: vec![
            step(3, false, EscalationAction::Notify),
            step(2, false, EscalationAction::Unspecified),
            step(1, false, EscalationAction::Notify),
        ],
        ..Default::default()
    };
    let err = upsert(&h, bad, "", 0).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("policy.escalation[1].action"),
        "{}",
        err.message()
    );
    let err = upsert(
        &h,
        Policy {
            stage: "negotiation".to_owned(),
            no_activity_days: 99_999,
            escalation: vec![
                step(3, false, EscalationAction::Notify),
                step(1, false, EscalationAction::Notify),
            ],
            ..Default::default()
        },
        "",
        0,
    )
    .await
    .unwrap_err();
    assert!(
        err.message().contains("policy.no_activity_days"),
        "{}",
        err.message()
    );
    assert!(
        err.message().contains("policy.escalation[1].after_days"),
        "{}",
        err.message()
    );
    let err = upsert(&h, Policy::default(), "", 0).await;
    assert!(
        err.is_ok(),
        "an all-zero default is a valid policy: every rule off"
    );
    h.stop().await;
}

/// What the service has published on the reminder stream so far.
async fn announced(h: &Harness) -> (Vec<ReminderDue>, Vec<ReminderEscalated>) {
    let mut due = Vec::new();
    let mut escalated = Vec::new();
    for e in events::stream_envelopes(&h.js, &Domain::Reminder.stream_name())
        .await
        .expect("reminder stream")
    {
        if e.event_type == ReminderDue::TYPE {
            due.push(ReminderDue::decode(e.payload.as_slice()).expect("due"));
        } else if e.event_type == ReminderEscalated::TYPE {
            escalated.push(ReminderEscalated::decode(e.payload.as_slice()).expect("escalated"));
        }
    }
    (due, escalated)
}

#[tokio::test]
async fn a_stalled_opportunity_climbs_the_ladder_to_the_pool() {
    let h = Harness::start(fast()).await;
    h.publish(
        "acme",
        &TeamUpserted {
            team_id: "sales".to_owned(),
            manager_rep_id: "boss".to_owned(),
            version: 1,
            ..Default::default()
        },
    )
    .await;
    let (_, seq) = h
        .publish(
            "acme",
            &RepUpserted {
                rep_id: "rep_a".to_owned(),
                team_id: "sales".to_owned(),
                role: "rep".to_owned(),
                version: 1,
                ..Default::default()
            },
        )
        .await;
    h.consumed(Domain::Org, seq).await;
    // Day 3 remind the owner, day 5 the owner and the manager, day 7 back to the pool.
    upsert(
        &h,
        Policy {
            no_activity_days: 3,
            escalation: vec![
                step(2, true, EscalationAction::Notify),
                step(4, true, EscalationAction::ReturnToPool),
            ],
            ..Default::default()
        },
        "",
        0,
    )
    .await
    .expect("policy");
    // Opened eight days ago and untouched since: every step is overdue.
    let (_, seq) = h
        .publish(
            "acme",
            &created("opp_1", "qualified", now_millis() - 8 * DAY),
        )
        .await;
    h.consumed(Domain::Opportunity, seq).await;

    let (due, escalated) = poll_until("a reminder and two escalations", WAIT, POLL, || async {
        let (due, escalated) = announced(&h).await;
        if escalated.len() >= 2 {
            Ok((due, escalated))
        } else {
            Err(format!("{} due, {} escalated", due.len(), escalated.len()))
        }
    })
    .await
    .expect("the ladder is climbed");
    assert_eq!(
        due.len(),
        1,
        "the policy turned first contact off: one no-activity reminder"
    );
    assert_eq!(
        (due[0].kind.as_str(), due[0].owner_rep_id.as_str()),
        ("no_activity", "rep_a")
    );
    assert_eq!(escalated.len(), 2);
    assert_eq!(
        (escalated[0].step, escalated[0].action.as_str()),
        (1, "notify")
    );
    assert_eq!(escalated[0].notify_rep_ids, vec!["rep_a", "boss"]);
    let last = &escalated[1];
    assert_eq!((last.step, last.action.as_str()), (2, "return_to_pool"));
    assert_eq!(
        (
            last.opportunity_id.as_str(),
            last.customer_id.as_str(),
            last.team.as_str()
        ),
        ("opp_1", "cus_opp_1", "sales")
    );
    assert!(!last.policy_id.is_empty());
    let listed = list_due(&h, 0).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].kind.as_str(), listed[0].escalation_step),
        ("no_activity", 2)
    );
    h.stop().await;
}

#[tokio::test]
async fn stage_policies_apply_and_an_activity_restarts_the_clock() {
    let h = Harness::start(fast()).await;
    upsert(
        &h,
        Policy {
            no_activity_days: 3,
            ..Default::default()
        },
        "",
        0,
    )
    .await
    .expect("default");
    upsert(
        &h,
        Policy {
            stage: "negotiation".to_owned(),
            no_activity_days: 14,
            stage_age_days: 30,
            ..Default::default()
        },
        "",
        0,
    )
    .await
    .expect("negotiation");
    let now = now_millis();
    h.publish("acme", &created("opp_1", "qualified", now - 40 * DAY))
        .await;
    let (_, seq) = h
        .publish(
            "acme",
            &OpportunityStageChanged {
                opportunity_id: "opp_1".to_owned(),
                owner_rep_id: "rep_a".to_owned(),
                from_stage: "qualified".to_owned(),
                to_stage: "negotiation".to_owned(),
                changed_at: Some(from_millis(now - 35 * DAY)),
                ..Default::default()
            },
        )
        .await;
    h.consumed(Domain::Opportunity, seq).await;
    // In negotiation for 35 days (over 30) and untouched for 35 (over 14).
    let kinds = poll_until("both rules fired", WAIT, POLL, || async {
        let mut fired: Vec<(String, i64)> = list_due(&h, 0)
            .await
            .into_iter()
            .filter(|r| r.state == ReminderState::Fired as i32)
            .map(|r| (r.kind, to_millis(r.due_at.as_ref().expect("due_at"))))
            .collect();
        fired.sort();
        if fired.len() == 2 {
            Ok(fired)
        } else {
            Err(format!("{fired:?}"))
        }
    })
    .await
    .expect("fired");
    assert_eq!(
        kinds,
        vec![
            ("no_activity".to_owned(), now - 35 * DAY + 14 * DAY),
            ("stage_age".to_owned(), now - 35 * DAY + 30 * DAY),
        ],
        "the negotiation policy's days, counted from the stage change"
    );

    // The rep calls now: the no-activity clock restarts, 14 days from now.
    let (_, seq) = h
        .publish(
            "acme",
            &OpportunityActivityLogged {
                opportunity_id: "opp_1".to_owned(),
                owner_rep_id: "rep_a".to_owned(),
                activity_id: "act_1".to_owned(),
                kind: "call".to_owned(),
                logged_at: Some(from_millis(now)),
                ..Default::default()
            },
        )
        .await;
    h.consumed(Domain::Opportunity, seq).await;
    let due_now: Vec<String> = list_due(&h, 0).await.into_iter().map(|r| r.kind).collect();
    assert_eq!(
        due_now,
        vec!["stage_age"],
        "the call answered the no-activity reminder"
    );
    let later = list_due(&h, 15 * 24).await;
    let no_activity = later
        .iter()
        .find(|r| r.kind == "no_activity")
        .expect("rescheduled");
    assert_eq!(no_activity.state, ReminderState::Pending as i32);
    assert_eq!(
        to_millis(no_activity.due_at.as_ref().expect("due_at")),
        now + 14 * DAY
    );
    h.stop().await;
}

#[tokio::test]
async fn snooze_and_acknowledge_are_idempotent() {
    let config = RemindersConfig {
        first_contact_hours: 0,
        ..fast()
    };
    let h = Harness::start(config).await;
    let (_, seq) = h
        .publish("acme", &created("opp_1", "lead", now_millis()))
        .await;
    h.consumed(Domain::Opportunity, seq).await;
    let fired = poll_until("first contact fired", WAIT, POLL, || async {
        match list_due(&h, 0).await.pop() {
            Some(r) if r.state == ReminderState::Fired as i32 => Ok(r),
            other => Err(format!("{other:?}")),
        }
    })
    .await
    .expect("fired");

    let until = now_millis() + 2 * HOUR;
    let snooze = |key: &str, until: i64| SnoozeRequest {
        reminder_id: fired.reminder_id.clone(),
        until: Some(from_millis(until)),
        idempotency_key: key.to_owned(),
    };
    let mut grpc = h.grpc.clone();
    let snoozed = grpc
        .snooze(request("acme", snooze("s1", until)))
        .await
        .expect("snoozed")
        .into_inner()
        .reminder
        .expect("reminder");
    assert_eq!(snoozed.state, ReminderState::Pending as i32);
    assert_eq!(to_millis(snoozed.due_at.as_ref().expect("due_at")), until);
    let again = grpc
        .snooze(request("acme", snooze("s1", until)))
        .await
        .expect("replayed")
        .into_inner()
        .reminder
        .expect("reminder");
    assert_eq!(again, snoozed);
    assert!(
        list_due(&h, 0).await.is_empty(),
        "snoozed out of the due list"
    );
    assert_eq!(list_due(&h, 3).await.len(), 1);

    let err = grpc
        .snooze(request("acme", snooze("s2", now_millis() - HOUR)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("until"), "{}", err.message());
    let err = grpc
        .snooze(request(
            "acme",
            SnoozeRequest {
                reminder_id: "rem_nope".to_owned(),
                ..snooze("s3", until)
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    let ack = |key: &str| AcknowledgeRequest {
        reminder_id: fired.reminder_id.clone(),
        idempotency_key: key.to_owned(),
    };
    let done = grpc
        .acknowledge(request("acme", ack("a1")))
        .await
        .expect("acknowledged")
        .into_inner()
        .reminder
        .expect("reminder");
    assert_eq!(done.state, ReminderState::Done as i32);
    let again = grpc
        .acknowledge(request("acme", ack("")))
        .await
        .expect("acknowledging twice is fine")
        .into_inner()
        .reminder
        .expect("reminder");
    assert_eq!(again.state, ReminderState::Done as i32);
    let err = grpc
        .snooze(request("acme", snooze("s4", until)))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::FailedPrecondition,
        "a done reminder cannot be snoozed"
    );
    let err = grpc
        .acknowledge(request("globex", ack("")))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::NotFound,
        "another tenant's reminder is not found"
    );
    assert!(list_due(&h, 3).await.is_empty());
    h.stop().await;
}

/// A policy stored after a deal stopped moving still reaches it: the deal sends no more
/// events, so the upsert itself schedules the rules of the open deals it governs.
#[tokio::test]
async fn a_new_policy_reaches_deals_already_sitting_still() {
    let h = Harness::start(fast()).await;
    let now = now_millis();
    let (_, seq) = h
        .publish("acme", &created("opp_still", "negotiation", now - 40 * DAY))
        .await;
    h.publish(
        "acme",
        &created("opp_elsewhere", "qualified", now - 40 * DAY),
    )
    .await;
    h.consumed(Domain::Opportunity, seq).await;
    let stage_age = |reminders: Vec<Reminder>| -> Vec<String> {
        reminders
            .into_iter()
            .filter(|r| r.kind == "stage_age")
            .map(|r| r.opportunity_id)
            .collect()
    };
    assert!(stage_age(list_due(&h, 24 * 365).await).is_empty());

    upsert(
        &h,
        Policy {
            stage: "negotiation".to_owned(),
            stage_age_days: 30,
            ..Default::default()
        },
        "negotiation-30",
        0,
    )
    .await
    .expect("negotiation policy");
    // In negotiation for 40 days, over the new 30: due at once, and fired by the timer.
    let fired = poll_until("the stage-age reminder fires", WAIT, POLL, || async {
        let fired: Vec<Reminder> = list_due(&h, 0)
            .await
            .into_iter()
            .filter(|r| r.kind == "stage_age" && r.state == ReminderState::Fired as i32)
            .collect();
        if fired.is_empty() {
            Err("not yet".to_owned())
        } else {
            Ok(fired)
        }
    })
    .await
    .expect("fired");
    assert_eq!(
        stage_age(fired.clone()),
        ["opp_still"],
        "only the deal in negotiation"
    );
    assert_eq!(
        to_millis(fired[0].due_at.as_ref().expect("due_at")),
        now - 40 * DAY + 30 * DAY
    );

    // Storing the policy again (a new version with the same rule) does not fire it twice.
    upsert(
        &h,
        Policy {
            stage: "negotiation".to_owned(),
            stage_age_days: 30,
            no_activity_days: 60,
            ..Default::default()
        },
        "negotiation-30-60",
        0,
    )
    .await
    .expect("second version");
    let (due, _) = announced(&h).await;
    assert_eq!(
        due.iter()
            .filter(|d| d.kind == "stage_age" && d.opportunity_id == "opp_still")
            .count(),
        1
    );
    h.stop().await;
}
