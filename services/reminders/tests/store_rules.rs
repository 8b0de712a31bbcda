//! The store contract for policies, rule reminders, ladders, the org replica and the
//! rep's actions, on SQLite and on PostgreSQL, with the timer driven by a chosen clock.

mod support;

use prost::Message as _;
use shangji_contracts::events::reminder::{ReminderDue, ReminderEscalated};
use shangji_contracts::events::{Envelope, Event};
use shangji_platform::Db;
use shangji_reminders::domain::{
    BusinessCalendar, CalendarSpec, EscalationAction, EscalationStep, MILLIS_PER_DAY, Notice,
    PolicyRules, ReminderKind, ReminderState, WebhookFormat,
};
use shangji_reminders::store::{self, NewReminder, Upserted};
use shangji_reminders::timer;
use support::Server;

const DAY: i64 = MILLIS_PER_DAY;
const T0: i64 = 1_790_000_000_000;

#[tokio::test]
async fn rules_contract_on_sqlite() {
    contract(&Server::sqlite()).await;
}

#[tokio::test]
async fn rules_contract_on_postgres() {
    contract(&Server::postgres().await).await;
}

async fn contract(server: &Server) {
    policies_are_versioned_per_stage(&server.database("policies").await).await;
    rule_reminders_reschedule_in_place(&server.database("rules").await).await;
    the_ladder_climbs_day_by_day(&server.database("ladder").await).await;
    an_activity_restarts_the_ladder(&server.database("restart").await).await;
    snooze_and_acknowledge(&server.database("actions").await).await;
    calendars_are_versioned(&server.database("calendars").await).await;
    deliveries_are_claimed_once_and_leased(&server.database("deliveries").await).await;
}

async fn deliveries_are_claimed_once_and_leased(db: &Db) {
    use store::webhooks::{self, Outcome, WebhookChange};
    let mut tx = db.begin().await.expect("begin");
    let hook = WebhookChange {
        webhook_id: None,
        url: "http://127.0.0.1:9/hook",
        format: WebhookFormat::GenericJson,
        secret: Some("s"),
        enabled: true,
    };
    let on = webhooks::upsert(&mut tx, "t1", &hook, T0)
        .await
        .expect("upsert")
        .expect("row");
    let off = WebhookChange {
        enabled: false,
        ..hook.clone()
    };
    webhooks::upsert(&mut tx, "t1", &off, T0)
        .await
        .expect("upsert");
    let changed = webhooks::upsert(
        &mut tx,
        "t1",
        &WebhookChange {
            webhook_id: Some(&on.webhook_id),
            secret: None,
            ..hook.clone()
        },
        T0,
    )
    .await
    .expect("upsert")
    .expect("row");
    assert_eq!(
        (changed.version, changed.secret.as_str()),
        (2, "s"),
        "no secret given: kept"
    );
    assert_eq!(
        webhooks::upsert(
            &mut tx,
            "t2",
            &WebhookChange {
                webhook_id: Some(&on.webhook_id),
                ..hook.clone()
            },
            T0
        )
        .await
        .expect("upsert"),
        None,
        "another tenant's webhook cannot be changed"
    );
    let notice = Notice {
        event_type: "reminder.due".to_owned(),
        tenant_id: "t1".to_owned(),
        reminder_id: "r1".to_owned(),
        opportunity_id: "o1".to_owned(),
        kind: "follow_up".to_owned(),
        owner_rep_id: "rep_a".to_owned(),
        notify_rep_ids: vec!["rep_a".to_owned()],
        message: "call back".to_owned(),
        due_at: T0,
        step: 0,
        action: String::new(),
    };
    assert_eq!(
        webhooks::enqueue_deliveries(&mut tx, &notice, T0)
            .await
            .expect("enqueue"),
        1,
        "enabled webhooks only"
    );
    tx.commit().await.expect("commit");

    // Two senders race: exactly one claims the delivery.
    let (a, b) = tokio::join!(
        webhooks::claim_due(db, T0, 1_000, 10),
        webhooks::claim_due(db, T0, 1_000, 10)
    );
    let (a, b) = (a.expect("claim"), b.expect("claim"));
    assert_eq!(a.len() + b.len(), 1, "claimed once");
    let claimed = a.into_iter().chain(b).next().expect("one claim");
    assert_eq!((claimed.attempts, claimed.secret.as_str()), (1, "s"));
    assert!(claimed.body.contains("\"call back\""), "{}", claimed.body);
    // Within the lease nobody else takes it; after it (the sender died) the next one does.
    assert!(
        webhooks::claim_due(db, T0 + 999, 1_000, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    let again = webhooks::claim_due(db, T0 + 1_000, 1_000, 10)
        .await
        .expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    let failed = Outcome::Failed {
        status: 502,
        error: "bad gateway".to_owned(),
        retry_at: Some(T0 + 5_000),
    };
    webhooks::record_attempt(db, &claimed.delivery_id, &failed, T0 + 1_001)
        .await
        .expect("record");
    assert!(
        webhooks::claim_due(db, T0 + 4_999, 1_000, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    let third = webhooks::claim_due(db, T0 + 5_000, 1_000, 10)
        .await
        .expect("claim");
    assert_eq!(third[0].attempts, 3);
    webhooks::record_attempt(
        db,
        &claimed.delivery_id,
        &Outcome::Delivered { status: 200 },
        T0 + 5_001,
    )
    .await
    .expect("record");
    assert!(
        webhooks::claim_due(db, T0 + 99_999, 1_000, 10)
            .await
            .expect("claim")
            .is_empty(),
        "delivered is never sent again"
    );
    let log = webhooks::list_deliveries(db, "t1", None, 10)
        .await
        .expect("log");
    assert_eq!(log.len(), 1);
    assert_eq!(
        (
            log[0].state.as_str(),
            log[0].attempts,
            log[0].last_status,
            log[0].delivered_at
        ),
        ("delivered", 3, 200, Some(T0 + 5_001))
    );
    assert!(
        webhooks::list_deliveries(db, "t2", None, 10)
            .await
            .expect("log")
            .is_empty()
    );
}

async fn calendars_are_versioned(db: &Db) {
    let mut tx = db.begin().await.expect("begin");
    assert_eq!(
        store::calendars::in_force(&mut tx, "t1")
            .await
            .expect("read"),
        BusinessCalendar::default(),
        "no calendar stored: the default"
    );
    let spec = CalendarSpec {
        time_zone: "Asia/Shanghai".to_owned(),
        working_days: vec![1, 2, 3, 4, 5],
        work_start: "09:00".to_owned(),
        work_end: "18:00".to_owned(),
        holidays: vec!["2026-10-01".to_owned()],
        makeup_working_days: vec!["2026-09-27".to_owned()],
    };
    let first = store::calendars::upsert(&mut tx, "t1", &spec, T0)
        .await
        .expect("upsert");
    let second = store::calendars::upsert(&mut tx, "t1", &spec, T0 + 1)
        .await
        .expect("upsert");
    assert_eq!(
        (first.version, second.version, second.updated_at),
        (1, 2, T0 + 1)
    );
    let cal = store::calendars::in_force(&mut tx, "t1")
        .await
        .expect("read");
    assert_eq!(cal.time_zone.name(), "Asia/Shanghai");
    assert_eq!(
        store::calendars::in_force(&mut tx, "t2")
            .await
            .expect("read"),
        BusinessCalendar::default()
    );
    tx.commit().await.expect("commit");
    assert_eq!(
        store::calendars::get(db, "t1")
            .await
            .expect("get")
            .map(|c| c.spec),
        Some(spec)
    );
}

fn ladder_rules() -> PolicyRules {
    PolicyRules {
        first_contact_hours: 24,
        no_activity_days: 3,
        stage_age_days: 30,
        close_overdue: true,
        escalation: vec![
            EscalationStep {
                after_days: 2,
                notify_manager: true,
                action: EscalationAction::Notify,
            },
            EscalationStep {
                after_days: 4,
                notify_manager: true,
                action: EscalationAction::ReturnToPool,
            },
        ],
        business_time: false,
    }
}

async fn upsert(
    db: &Db,
    tenant: &str,
    stage: &str,
    rules: &PolicyRules,
    expected: Option<u32>,
) -> Upserted {
    let mut tx = db.begin().await.expect("begin");
    let out = store::policies::upsert(&mut tx, tenant, stage, rules, expected, T0)
        .await
        .expect("upsert");
    tx.commit().await.expect("commit");
    out
}

fn stored(out: Upserted) -> store::StoredPolicy {
    match out {
        Upserted::Stored(s) => s,
        other => panic!("expected a stored policy, got {other:?}"),
    }
}

async fn policies_are_versioned_per_stage(db: &Db) {
    let mut tx = db.begin().await.expect("begin");
    assert_eq!(
        store::policies::in_force(&mut tx, "t1", "proposal")
            .await
            .expect("read"),
        None
    );
    tx.commit().await.expect("commit");

    let base = PolicyRules::builtin(24);
    let default_v1 = stored(upsert(db, "t1", "", &base, None).await);
    assert_eq!(default_v1.policy.version, 1);
    let proposal = PolicyRules {
        no_activity_days: 14,
        ..base.clone()
    };
    stored(upsert(db, "t1", "proposal", &proposal, Some(0)).await);
    let default_v2 = stored(upsert(db, "t1", "", &ladder_rules(), Some(1)).await);
    assert_eq!(default_v2.policy.version, 2);
    assert_eq!(
        default_v2.policy.policy_id, default_v1.policy.policy_id,
        "one id per stage"
    );
    assert_eq!(
        upsert(db, "t1", "", &base, Some(1)).await,
        Upserted::VersionMismatch { current: 2 },
        "a stale expected version is refused"
    );

    let mut tx = db.begin().await.expect("begin");
    let p = store::policies::in_force(&mut tx, "t1", "proposal")
        .await
        .expect("read")
        .expect("policy");
    assert_eq!(
        (p.stage.as_str(), p.rules.no_activity_days),
        ("proposal", 14)
    );
    let p = store::policies::in_force(&mut tx, "t1", "qualified")
        .await
        .expect("read")
        .expect("policy");
    assert_eq!(
        (p.stage.as_str(), p.version),
        ("", 2),
        "a stage without its own gets the default"
    );
    assert_eq!(
        store::policies::in_force(&mut tx, "t2", "qualified")
            .await
            .expect("read"),
        None
    );
    let v1 = store::policies::rules_of_version(&mut tx, "t1", &p.policy_id, 1)
        .await
        .expect("read");
    assert_eq!(v1, Some(base), "old versions stay readable");
    tx.commit().await.expect("commit");

    let all = store::policies::list(db, "t1").await.expect("list");
    let stages: Vec<(&str, u32)> = all
        .iter()
        .map(|p| (p.policy.stage.as_str(), p.policy.version))
        .collect();
    assert_eq!(stages, vec![("", 2), ("proposal", 1)]);
}

fn rule<'a>(
    opportunity_id: &'a str,
    kind: ReminderKind,
    due_at: i64,
    policy_id: &'a str,
    version: u32,
) -> NewReminder<'a> {
    NewReminder {
        tenant_id: "t1",
        reminder_id: "ignored-on-reschedule",
        opportunity_id,
        owner_rep_id: "rep_a",
        kind,
        due_at,
        state: ReminderState::Pending,
        message: "no activity",
        policy_id,
        policy_version: version,
        now: T0,
    }
}

async fn schedule(db: &Db, r: NewReminder<'_>) {
    let mut tx = db.begin().await.expect("begin");
    let id = format!("rem_{}_{}", r.opportunity_id, r.due_at);
    store::reminders::schedule_rule(
        &mut tx,
        &NewReminder {
            reminder_id: &id,
            ..r
        },
    )
    .await
    .expect("schedule");
    tx.commit().await.expect("commit");
}

async fn rule_reminders_reschedule_in_place(db: &Db) {
    schedule(
        db,
        rule("o1", ReminderKind::NoActivity, T0 + 3 * DAY, "", 0),
    )
    .await;
    let round = timer::fire_due(db, T0 + 3 * DAY, 100).await.expect("round");
    assert_eq!((round.due, round.fired), (1, 1));
    // An activity moved the clock: the same row is pending again, due later.
    schedule(
        db,
        rule("o1", ReminderKind::NoActivity, T0 + 9 * DAY, "", 0),
    )
    .await;
    let rows = store::reminders::of_opportunity(db, "t1", "o1")
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1, "one row per opportunity and rule");
    assert_eq!(
        (
            rows[0].state,
            rows[0].due_at,
            rows[0].next_fire_at,
            rows[0].fired_at
        ),
        (
            ReminderState::Pending,
            T0 + 9 * DAY,
            Some(T0 + 9 * DAY),
            None
        )
    );
    assert_eq!(
        timer::fire_due(db, T0 + 8 * DAY, 100)
            .await
            .expect("round")
            .due,
        0
    );

    let mut tx = db.begin().await.expect("begin");
    store::reminders::cancel_rules(&mut tx, "t1", "o1", &[ReminderKind::NoActivity], T0)
        .await
        .expect("cancel");
    tx.commit().await.expect("commit");
    assert_eq!(
        timer::fire_due(db, T0 + 30 * DAY, 100)
            .await
            .expect("round")
            .due,
        0,
        "a cancelled rule never fires"
    );
}

/// The events the timer wrote, in order: (type, payload).
async fn outbox(db: &Db) -> Vec<(String, Vec<u8>)> {
    let rows: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT envelope FROM outbox ORDER BY seq")
        .fetch_all(db.reader())
        .await
        .expect("outbox");
    rows.into_iter()
        .map(|(bytes,)| {
            let e = Envelope::decode(bytes.as_slice()).expect("envelope");
            (e.event_type, e.payload)
        })
        .collect()
}

fn rep<'a>(rep_id: &'a str, team_id: &'a str, role: &'a str) -> store::org::RepUpsert<'a> {
    store::org::RepUpsert {
        rep_id,
        team_id,
        role,
        status: "active",
        version: 1,
    }
}

async fn org(db: &Db) {
    let mut tx = db.begin().await.expect("begin");
    store::org::upsert_team(&mut tx, "t1", "east", "", "vp", 1)
        .await
        .expect("team");
    store::org::upsert_team(&mut tx, "t1", "sales", "east", "boss", 2)
        .await
        .expect("team");
    // An older version arriving late changes nothing.
    store::org::upsert_team(&mut tx, "t1", "sales", "east", "old_boss", 1)
        .await
        .expect("team");
    store::org::upsert_rep(&mut tx, "t1", &rep("rep_a", "sales", "rep"))
        .await
        .expect("rep");
    store::org::upsert_rep(&mut tx, "t1", &rep("boss", "sales", "manager"))
        .await
        .expect("rep");
    assert_eq!(
        store::org::manager_of(&mut tx, "t1", "rep_a")
            .await
            .expect("m")
            .as_deref(),
        Some("boss")
    );
    assert_eq!(
        store::org::manager_of(&mut tx, "t1", "boss")
            .await
            .expect("m")
            .as_deref(),
        Some("vp"),
        "a manager's manager is up the tree"
    );
    assert_eq!(
        store::org::manager_of(&mut tx, "t2", "rep_a")
            .await
            .expect("m"),
        None
    );
    store::opportunities::record_owner(&mut tx, "t1", "o1", "rep_a", T0, T0)
        .await
        .expect("owner");
    store::opportunities::record_customer_and_team(&mut tx, "t1", "o1", "cus_1", "sales")
        .await
        .expect("facts");
    tx.commit().await.expect("commit");
}

async fn the_ladder_climbs_day_by_day(db: &Db) {
    org(db).await;
    let policy = stored(upsert(db, "t1", "", &ladder_rules(), None).await).policy;
    // No activity since T0: the owner is reminded on day 3.
    schedule(
        db,
        rule(
            "o1",
            ReminderKind::NoActivity,
            T0 + 3 * DAY,
            &policy.policy_id,
            policy.version,
        ),
    )
    .await;

    let mut log = Vec::new();
    for day in 0..=10 {
        let round = timer::fire_due(db, T0 + day * DAY, 100)
            .await
            .expect("round");
        if round.fired + round.escalated > 0 {
            log.push((day, round.fired, round.escalated));
        }
    }
    assert_eq!(
        log,
        vec![(3, 1, 0), (5, 0, 1), (7, 0, 1)],
        "day 3 remind, day 5 and 7 escalate"
    );

    let events = outbox(db).await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].0, ReminderDue::TYPE);
    let due = ReminderDue::decode(events[0].1.as_slice()).expect("due");
    assert_eq!(
        (due.owner_rep_id.as_str(), due.kind.as_str()),
        ("rep_a", "no_activity")
    );
    let steps: Vec<ReminderEscalated> = events[1..]
        .iter()
        .map(|(ty, payload)| {
            assert_eq!(ty, ReminderEscalated::TYPE);
            ReminderEscalated::decode(payload.as_slice()).expect("escalated")
        })
        .collect();
    assert_eq!(steps[0].step, 1);
    assert_eq!(steps[0].action, "notify");
    assert_eq!(
        steps[0].notify_rep_ids,
        vec!["rep_a", "boss"],
        "owner and team manager"
    );
    assert_eq!(steps[1].step, 2);
    assert_eq!(steps[1].action, "return_to_pool");
    assert_eq!(
        (
            steps[1].customer_id.as_str(),
            steps[1].team.as_str(),
            steps[1].policy_id.as_str()
        ),
        ("cus_1", "sales", policy.policy_id.as_str()),
        "assignment gets what it needs to return the opportunity to the pool"
    );
    let mut tx = db.begin().await.expect("begin");
    let facts = store::opportunities::facts(&mut tx, "t1", "o1")
        .await
        .expect("facts")
        .expect("row");
    assert!(
        facts.high_risk,
        "return to pool marks the opportunity high-risk"
    );
    tx.commit().await.expect("commit");
    let rows = store::reminders::of_opportunity(db, "t1", "o1")
        .await
        .expect("rows");
    assert_eq!(
        (rows[0].state, rows[0].escalation_step, rows[0].next_fire_at),
        (ReminderState::Fired, 2, None)
    );
}

async fn an_activity_restarts_the_ladder(db: &Db) {
    let policy = stored(upsert(db, "t1", "", &ladder_rules(), None).await).policy;
    schedule(
        db,
        rule(
            "o1",
            ReminderKind::CloseOverdue,
            T0,
            &policy.policy_id,
            policy.version,
        ),
    )
    .await;
    assert_eq!(timer::fire_due(db, T0, 10).await.expect("round").fired, 1);
    // Day 1: the rep called. The ladder's first step moves from day 2 to day 3.
    let mut tx = db.begin().await.expect("begin");
    let rows = store::reminders::fired_of_opportunity(&mut tx, "t1", "o1")
        .await
        .expect("fired");
    assert_eq!(rows.len(), 1);
    assert!(
        store::reminders::restart_ladder(
            &mut tx,
            "t1",
            &rows[0].reminder_id,
            T0 + DAY,
            Some(T0 + 3 * DAY),
            T0
        )
        .await
        .expect("restart")
    );
    assert!(
        !store::reminders::restart_ladder(
            &mut tx,
            "t1",
            &rows[0].reminder_id,
            T0 + DAY / 2,
            Some(T0),
            T0
        )
        .await
        .expect("restart"),
        "an older activity arriving late does not move the clock back"
    );
    tx.commit().await.expect("commit");
    assert_eq!(
        timer::fire_due(db, T0 + 2 * DAY, 10)
            .await
            .expect("round")
            .escalated,
        0
    );
    assert_eq!(
        timer::fire_due(db, T0 + 3 * DAY, 10)
            .await
            .expect("round")
            .escalated,
        1
    );
}

async fn snooze_and_acknowledge(db: &Db) {
    let mut tx = db.begin().await.expect("begin");
    for (id, opp) in [("r1", "o1"), ("r2", "o2")] {
        store::reminders::insert(
            &mut tx,
            &NewReminder {
                reminder_id: id,
                ..rule(opp, ReminderKind::FollowUp, T0, "", 0)
            },
        )
        .await
        .expect("insert");
    }
    tx.commit().await.expect("commit");
    assert_eq!(timer::fire_due(db, T0, 10).await.expect("round").fired, 2);

    let mut tx = db.begin().await.expect("begin");
    assert!(
        store::reminders::snooze(&mut tx, "t1", "r1", T0 + DAY, T0)
            .await
            .expect("snooze")
    );
    assert!(
        store::reminders::acknowledge(&mut tx, "t1", "r2", T0)
            .await
            .expect("ack")
    );
    assert!(
        !store::reminders::snooze(&mut tx, "t1", "r2", T0 + DAY, T0)
            .await
            .expect("snooze"),
        "done stays done"
    );
    assert!(
        !store::reminders::acknowledge(&mut tx, "t2", "r1", T0)
            .await
            .expect("ack"),
        "other tenants' reminders are out of reach"
    );
    let r1 = store::reminders::get(&mut tx, "t1", "r1")
        .await
        .expect("get")
        .expect("row");
    assert_eq!(
        (r1.state, r1.due_at, r1.next_fire_at),
        (ReminderState::Pending, T0 + DAY, Some(T0 + DAY))
    );
    tx.commit().await.expect("commit");

    let round = timer::fire_due(db, T0 + DAY, 10).await.expect("round");
    assert_eq!(
        (round.due, round.fired),
        (1, 1),
        "the snoozed reminder fires again; the acknowledged one never"
    );
}
