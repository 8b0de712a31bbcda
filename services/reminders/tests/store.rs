//! The store contract, on SQLite and on PostgreSQL: the same SQL must behave the same.

use shangji_platform::Db;
use shangji_platform::bus::outbox;
use shangji_reminders::MIGRATIONS;
use shangji_reminders::domain::{ReminderKind, ReminderState};
use shangji_reminders::store::{self, Closure, NewReminder};
use shangji_reminders::timer;
use shangji_testkit::Postgres;

/// Where fresh databases come from.
enum Server {
    Sqlite(tempfile::TempDir),
    Postgres(Postgres),
}

impl Server {
    /// A fresh, migrated database and its URL.
    async fn database(&self, name: &str) -> (Db, String) {
        let url = match self {
            Server::Sqlite(dir) => format!("sqlite://{}/{name}.db?mode=rwc", dir.path().display()),
            Server::Postgres(pg) => pg.create_database(name).await.expect("create database"),
        };
        (connect(&url).await, url)
    }
}

async fn connect(url: &str) -> Db {
    let db = Db::connect(url, "reminders").await.expect("connect");
    db.migrate(&MIGRATIONS).await.expect("migrate");
    db
}

#[tokio::test]
async fn store_contract_on_sqlite() {
    let server = Server::Sqlite(tempfile::tempdir().expect("temp dir"));
    contract(&server).await;
}

#[tokio::test]
async fn store_contract_on_postgres() {
    let server = Server::Postgres(Postgres::start().await.expect("postgres starts"));
    contract(&server).await;
}

async fn contract(server: &Server) {
    listing(&server.database("listing").await.0).await;
    lifecycle(&server.database("lifecycle").await.0).await;
    facts(&server.database("facts").await.0).await;
    let (db, url) = server.database("timer").await;
    // A second connection to the same database, as a second replica has.
    let replica = connect(&url).await;
    timer_fires_each_reminder_once(&db, &replica).await;
}

fn reminder<'a>(
    tenant_id: &'a str,
    reminder_id: &'a str,
    opportunity_id: &'a str,
    owner_rep_id: &'a str,
    kind: ReminderKind,
    due_at: i64,
) -> NewReminder<'a> {
    NewReminder {
        tenant_id,
        reminder_id,
        opportunity_id,
        owner_rep_id,
        kind,
        due_at,
        state: ReminderState::Pending,
        message: "do it",
        policy_id: "",
        policy_version: 0,
        now: 1,
    }
}

async fn insert(db: &Db, reminders: &[NewReminder<'_>]) -> Vec<bool> {
    let mut tx = db.begin().await.expect("begin");
    let mut inserted = Vec::new();
    for r in reminders {
        inserted.push(store::reminders::insert(&mut tx, r).await.expect("insert"));
    }
    tx.commit().await.expect("commit");
    inserted
}

fn ids(rows: &[store::ReminderRow]) -> Vec<&str> {
    rows.iter().map(|r| r.reminder_id.as_str()).collect()
}

async fn listing(db: &Db) {
    use ReminderKind::*;
    let inserted = insert(
        db,
        &[
            reminder("t1", "r3", "o3", "a", FirstContact, 300),
            reminder("t1", "r1", "o1", "a", FirstContact, 100),
            reminder("t1", "r2", "o2", "b", FirstContact, 200),
            reminder("t1", "r4", "o1", "a", FollowUp, 400),
            reminder("t2", "r9", "o1", "a", FirstContact, 100),
            // A second first contact for o1 of t1 is refused by the unique index.
            reminder("t1", "r5", "o1", "a", FirstContact, 50),
        ],
    )
    .await;
    assert_eq!(inserted, vec![true, true, true, true, true, false]);

    let all = store::reminders::list_open_due_by(db, "t1", None, 1_000, 100)
        .await
        .expect("list");
    assert_eq!(
        ids(&all),
        vec!["r1", "r2", "r3", "r4"],
        "oldest due first, tenant t1 only"
    );
    let mine = store::reminders::list_open_due_by(db, "t1", Some("a"), 1_000, 100)
        .await
        .expect("list");
    assert_eq!(ids(&mine), vec!["r1", "r3", "r4"]);
    let soon = store::reminders::list_open_due_by(db, "t1", None, 200, 100)
        .await
        .expect("list");
    assert_eq!(ids(&soon), vec!["r1", "r2"], "due_at <= horizon");
    let first = store::reminders::list_open_due_by(db, "t1", None, 1_000, 1)
        .await
        .expect("list");
    assert_eq!(ids(&first), vec!["r1"]);
    assert_eq!(first[0].kind, ReminderKind::FirstContact);
    assert_eq!(first[0].state, ReminderState::Pending);
    assert_eq!(
        (first[0].due_at, first[0].created_at, first[0].fired_at),
        (100, 1, None)
    );

    let mut tx = db.begin().await.expect("begin");
    store::reminders::cancel_open(&mut tx, "t1", "o2", 2)
        .await
        .expect("cancel");
    tx.commit().await.expect("commit");
    let all = store::reminders::list_open_due_by(db, "t1", None, 1_000, 100)
        .await
        .expect("list");
    assert_eq!(
        ids(&all),
        vec!["r1", "r3", "r4"],
        "cancelled reminders are not listed"
    );
}

async fn lifecycle(db: &Db) {
    use ReminderKind::*;
    insert(
        db,
        &[
            reminder("t1", "fc", "o1", "a", FirstContact, 100),
            reminder("t1", "fu_past", "o1", "a", FollowUp, 150),
            reminder("t1", "fu_future", "o1", "a", FollowUp, 900),
            // Same opportunity id in another tenant: never touched by t1's changes.
            reminder("t2", "other", "o1", "a", FirstContact, 100),
        ],
    )
    .await;
    let mut tx = db.begin().await.expect("begin");
    assert_eq!(
        store::reminders::reassign_open(&mut tx, "t1", "o1", "b", 2)
            .await
            .expect("reassign"),
        3
    );
    assert_eq!(
        store::reminders::reassign_open(&mut tx, "t1", "o1", "b", 2)
            .await
            .expect("reassign"),
        0
    );
    assert_eq!(
        store::reminders::complete_first_contact(&mut tx, "t1", "o1", 3)
            .await
            .expect("complete"),
        1
    );
    assert_eq!(
        store::reminders::complete_follow_ups_due_by(&mut tx, "t1", "o1", 200, 3)
            .await
            .expect("complete"),
        1
    );
    assert_eq!(
        store::reminders::cancel_pending_follow_ups(&mut tx, "t1", "o1", 4)
            .await
            .expect("cancel"),
        1
    );
    tx.commit().await.expect("commit");

    let rows = store::reminders::of_opportunity(db, "t1", "o1")
        .await
        .expect("rows");
    let states: Vec<(&str, ReminderState, &str)> = rows
        .iter()
        .map(|r| (r.reminder_id.as_str(), r.state, r.owner_rep_id.as_str()))
        .collect();
    assert_eq!(
        states,
        vec![
            ("fc", ReminderState::Done, "b"),
            ("fu_future", ReminderState::Cancelled, "b"),
            ("fu_past", ReminderState::Done, "b"),
        ]
    );
    let other = store::reminders::of_opportunity(db, "t2", "o1")
        .await
        .expect("rows");
    assert_eq!(
        (other[0].state, other[0].owner_rep_id.as_str()),
        (ReminderState::Pending, "a")
    );
}

async fn facts(db: &Db) {
    let mut tx = db.begin().await.expect("begin");
    // Owner statements out of order: the newest wins.
    let f = store::opportunities::record_owner(&mut tx, "t1", "o1", "b", 200, 1)
        .await
        .expect("owner");
    assert_eq!((f.owner_rep_id.as_str(), f.closed), ("b", false));
    let f = store::opportunities::record_owner(&mut tx, "t1", "o1", "a", 100, 1)
        .await
        .expect("owner");
    assert_eq!(f.owner_rep_id, "b", "an older statement does not win");
    let f = store::opportunities::record_owner(&mut tx, "t2", "o1", "z", 50, 1)
        .await
        .expect("owner");
    assert_eq!(f.owner_rep_id, "z", "tenants are separate");

    // A later activity's plan stands against an earlier one arriving late.
    assert!(
        store::opportunities::claim_follow_up(&mut tx, "t1", "o1", 500, 1)
            .await
            .expect("claim")
    );
    assert!(
        !store::opportunities::claim_follow_up(&mut tx, "t1", "o1", 400, 1)
            .await
            .expect("claim")
    );
    assert!(
        store::opportunities::claim_follow_up(&mut tx, "t1", "o1", 600, 1)
            .await
            .expect("claim")
    );

    store::opportunities::record_closed(&mut tx, "t1", "o1", Closure::Won, 700, 1)
        .await
        .expect("close");
    store::opportunities::record_closed(&mut tx, "t1", "o1", Closure::Lost, 800, 1)
        .await
        .expect("close");
    let f = store::opportunities::record_owner(&mut tx, "t1", "o1", "c", 900, 1)
        .await
        .expect("owner");
    assert_eq!((f.owner_rep_id.as_str(), f.closed), ("c", true));
    let f = store::opportunities::record_owner(&mut tx, "t2", "o1", "z", 50, 1)
        .await
        .expect("owner");
    assert!(!f.closed, "closing in t1 does not close t2's opportunity");
    let outcome: String = sqlx::query_scalar(
        "SELECT outcome FROM opportunities WHERE tenant_id = $1 AND opportunity_id = $2",
    )
    .bind("t1")
    .bind("o1")
    .fetch_one(&mut *tx)
    .await
    .expect("outcome");
    assert_eq!(outcome, "won", "the first closure stays");

    // An opening seen after an owner change and a stage change keeps both (they are
    // newer) and fills in customer and team; seen first, it records everything.
    let opening = |owner, stage, opened_at| store::opportunities::Opening {
        owner_rep_id: owner,
        customer_id: "cus_1",
        team: "east",
        stage,
        opened_at,
    };
    store::opportunities::record_owner(&mut tx, "t1", "o2", "later", 300, 1)
        .await
        .expect("owner");
    store::opportunities::record_stage(&mut tx, "t1", "o2", "proposal", 300, 1)
        .await
        .expect("stage");
    let f = store::opportunities::record_opening(
        &mut tx,
        "t1",
        "o2",
        &opening("first", "lead", 100),
        2,
    )
    .await
    .expect("opening");
    assert_eq!(
        (
            f.owner_rep_id.as_str(),
            f.stage.as_str(),
            f.stage_as_of,
            f.customer_id.as_str(),
            f.team.as_str(),
            f.closed
        ),
        ("later", "proposal", Some(300), "cus_1", "east", false)
    );
    let f = store::opportunities::record_opening(
        &mut tx,
        "t1",
        "o3",
        &opening("first", "lead", 100),
        2,
    )
    .await
    .expect("opening");
    assert_eq!(
        (f.owner_rep_id.as_str(), f.stage.as_str(), f.stage_as_of),
        ("first", "lead", Some(100))
    );
    let again = store::opportunities::record_opening(
        &mut tx,
        "t1",
        "o3",
        &opening("first", "lead", 100),
        3,
    )
    .await
    .expect("redelivered opening");
    assert_eq!(again, f, "a redelivered opening changes nothing");
    let f =
        store::opportunities::record_opening(&mut tx, "t1", "o1", &opening("", "lead", 1000), 3)
            .await
            .expect("opening of a closed one");
    assert_eq!(
        (f.owner_rep_id.as_str(), f.closed),
        ("c", true),
        "an opening naming no owner keeps the known one"
    );
    tx.commit().await.expect("commit");
}

async fn timer_fires_each_reminder_once(db: &Db, replica: &Db) {
    let ids: Vec<String> = (0..30).map(|i| format!("r{i:02}")).collect();
    let opportunities: Vec<String> = (0..30).map(|i| format!("o{i:02}")).collect();
    let mut due: Vec<NewReminder<'_>> = ids
        .iter()
        .zip(&opportunities)
        .enumerate()
        .map(|(i, (id, opp))| {
            let tenant = if i % 2 == 0 { "t1" } else { "t2" };
            reminder(
                tenant,
                id,
                opp,
                "a",
                ReminderKind::FirstContact,
                1_000 + i as i64,
            )
        })
        .collect();
    due.push(reminder(
        "t1",
        "later",
        "o_later",
        "a",
        ReminderKind::FirstContact,
        5_000,
    ));
    insert(db, &due).await;

    // Two replicas race over the same due reminders, in small batches.
    let now = 2_000;
    let (a, b) = tokio::join!(
        async {
            let mut fired = 0;
            loop {
                let round = timer::fire_due(db, now, 7).await.expect("round");
                fired += round.fired;
                if round.due == 0 {
                    return fired;
                }
            }
        },
        async {
            let mut fired = 0;
            loop {
                let round = timer::fire_due(replica, now, 7).await.expect("round");
                fired += round.fired;
                if round.due == 0 {
                    return fired;
                }
            }
        }
    );
    assert_eq!(a + b, 30, "every due reminder fired by exactly one replica");
    assert_eq!(
        outbox::backlog(db).await.expect("backlog"),
        30,
        "one reminder.due each"
    );

    let t1 = store::reminders::list_open_due_by(db, "t1", None, 10_000, 100)
        .await
        .expect("list");
    assert_eq!(t1.len(), 16);
    for r in &t1 {
        if r.reminder_id == "later" {
            assert_eq!(
                (r.state, r.fired_at),
                (ReminderState::Pending, None),
                "not due yet"
            );
        } else {
            assert_eq!((r.state, r.fired_at), (ReminderState::Fired, Some(now)));
        }
    }
    // Nothing left to fire, so nothing more is announced.
    let round = timer::fire_due(db, now, 100).await.expect("round");
    assert_eq!(round, timer::Round::default());
    assert_eq!(outbox::backlog(db).await.expect("backlog"), 30);
}
