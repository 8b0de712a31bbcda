//! Migration 0005 on a database that already holds reminders and an org replica, on
//! SQLite and on PostgreSQL: old first-contact reminders keep their one-per-opportunity
//! guard, and the replica takes the roles the replayed org events bring.

mod support;

use shangji_platform::Db;
use shangji_platform::db::Migrations;
use shangji_reminders::MIGRATIONS;
use shangji_reminders::domain::{ReminderKind, ReminderState};
use shangji_reminders::store::{self, NewReminder};
use support::Server;

/// The schema before lead reminders and roles.
const BEFORE_0005: Migrations = Migrations {
    component: "reminders",
    list: MIGRATIONS.list.split_at(4).0,
};

#[tokio::test]
async fn upgrade_on_sqlite() {
    upgrade(&Server::sqlite()).await;
}

#[tokio::test]
async fn upgrade_on_postgres() {
    upgrade(&Server::postgres().await).await;
}

async fn upgrade(server: &Server) {
    let url = match server {
        Server::Sqlite(dir) => format!("sqlite://{}/upgrade.db?mode=rwc", dir.path().display()),
        Server::Postgres(pg) => pg
            .create_database("upgrade")
            .await
            .expect("create database"),
    };
    let db = Db::connect(&url, "reminders").await.expect("connect");
    db.migrate(&BEFORE_0005).await.expect("migrate to 0004");
    let mut tx = db.begin().await.expect("begin");
    for sql in [
        "INSERT INTO reminders (tenant_id, reminder_id, opportunity_id, owner_rep_id, kind, due_at,
             state, message, created_at, updated_at, ladder_from, next_fire_at)
         VALUES ('t1', 'rem_old', 'o1', 'wang', 'first_contact', 500, 'pending', 'old', 1, 1, 500, 500)",
        "INSERT INTO org_reps (tenant_id, rep_id, team_id, version) VALUES ('t1', 'wang', 'east', 3)",
        "INSERT INTO org_teams (tenant_id, team_id, parent_team_id, manager_rep_id, version)
         VALUES ('t1', 'east', '', 'zhou', 2)",
    ] {
        sqlx::query(sql).execute(&mut *tx).await.expect("old row");
    }
    tx.commit().await.expect("commit");

    db.migrate(&MIGRATIONS).await.expect("migrate to 0005");

    let open = store::reminders::list_open_due_by(&db, "t1", None, 1_000, 10)
        .await
        .expect("list");
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].reminder_id, "rem_old");
    assert_eq!(
        open[0].lead_id, "",
        "an old reminder belongs to its opportunity"
    );

    let mut tx = db.begin().await.expect("begin");
    let again = NewReminder {
        tenant_id: "t1",
        reminder_id: "rem_again",
        opportunity_id: "o1",
        owner_rep_id: "wang",
        kind: ReminderKind::FirstContact,
        due_at: 600,
        state: ReminderState::Pending,
        message: "again",
        policy_id: "",
        policy_version: 0,
        now: 2,
    };
    assert!(
        !store::first_contact::insert(&mut tx, &again, "")
            .await
            .expect("insert"),
        "still one lead-less first contact per opportunity"
    );
    assert!(
        store::first_contact::insert(&mut tx, &again, "lead_9")
            .await
            .expect("insert"),
        "a lead's own first contact is another row"
    );
    // The org consumer replays the stream from its start: version 1 events fill in roles.
    let rep = store::org::RepUpsert {
        rep_id: "wang",
        team_id: "east",
        role: "rep",
        status: "active",
        version: 1,
    };
    store::org::upsert_rep(&mut tx, "t1", &rep)
        .await
        .expect("rep");
    store::org::upsert_team(&mut tx, "t1", "east", "", "zhou", 1)
        .await
        .expect("team");
    let replicated = store::org::rep(&mut tx, "t1", "wang")
        .await
        .expect("rep")
        .expect("known");
    assert_eq!(replicated.role, "rep");
    assert_eq!(replicated.status, "active");
    assert_eq!(
        store::org::manager_of(&mut tx, "t1", "wang")
            .await
            .expect("manager")
            .as_deref(),
        Some("zhou")
    );
    tx.commit().await.expect("commit");
}
