//! The batched progress statements of the trail consumer, on SQLite and on PostgreSQL:
//! many leads locked and read at once, steps recorded once per event, summaries written
//! together, and nothing else touched.

use shangji_intake::store::lead_batch::{TrailStep, record_steps};
use shangji_intake::store::progress::{self, LeadKey};
use shangji_intake::store::{self, NewLead, Progress};
use shangji_platform::Db;
use shangji_testkit::Postgres;

async fn migrated(url: &str) -> Db {
    let db = Db::connect(url, "intake").await.unwrap();
    db.migrate(shangji_intake::SPEC.migrations).await.unwrap();
    db
}

fn key(tenant: &str, lead: &str) -> LeadKey {
    (tenant.to_owned(), lead.to_owned())
}

fn step<'a>(tenant: &'a str, lead: &'a str, event: &'a str, status: i32) -> TrailStep<'a> {
    TrailStep {
        tenant_id: tenant,
        lead_id: lead,
        event_id: event,
        status,
        detail: "a step",
        service: "dedup",
        at: 1_000,
    }
}

async fn progress_contract(db: &Db) {
    let mut tx = db.begin().await.unwrap();
    for (tenant, lead) in [("acme", "l1"), ("acme", "l2"), ("other", "l1")] {
        store::insert_lead(
            &mut tx,
            &NewLead {
                tenant_id: tenant,
                lead_id: lead,
                channel: "api",
                lead: b"",
                attribution: b"",
                schema_version: 1,
                submission_key: None,
                status: 1,
                now: 500,
            },
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    let mut tx = db.begin().await.unwrap();
    let wanted = [key("acme", "l1"), key("acme", "l2"), key("acme", "unknown")];
    let mut found = progress::lock_progress(&mut tx, &wanted).await.unwrap();
    assert_eq!(
        found.len(),
        2,
        "only the leads that exist: {:?}",
        found.keys()
    );
    assert_eq!(found[&key("acme", "l1")].status, 1);

    let recorded = record_steps(
        &mut tx,
        &[step("acme", "l1", "e1", 2), step("acme", "l2", "e2", 2)],
    )
    .await
    .unwrap();
    assert_eq!(recorded.len(), 2);
    // The same event again (a redelivery) records nothing; a new one does.
    let again = record_steps(
        &mut tx,
        &[step("acme", "l1", "e1", 2), step("acme", "l1", "e3", 3)],
    )
    .await
    .unwrap();
    assert_eq!(again.into_iter().collect::<Vec<_>>(), vec!["e3".to_owned()]);

    let l1 = found.get_mut(&key("acme", "l1")).unwrap();
    *l1 = Progress {
        status: 3,
        customer_id: "c1".into(),
        new_customer: 1,
        score: 72.5,
        grade: "A".into(),
        owner_rep_id: "rep-1".into(),
        opportunity_id: String::new(),
    };
    let changed = key("acme", "l1");
    progress::save_progress(&mut tx, &[(&changed, &found[&changed])], 2_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let (lead, trail) = store::load_lead_with_trail(db, "acme", "l1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            lead.status,
            lead.customer_id.as_str(),
            lead.new_customer,
            lead.score,
            lead.grade.as_str(),
            lead.owner_rep_id.as_str()
        ),
        (3, "c1", 1, 72.5, "A", "rep-1")
    );
    assert_eq!(trail.len(), 2);
    // The lead of the same id in another tenant, and the other lead, are untouched.
    for (tenant, lead) in [("other", "l1"), ("acme", "l2")] {
        let (row, _) = store::load_lead_with_trail(db, tenant, lead)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (row.status, row.customer_id.as_str()),
            (1, ""),
            "{tenant}/{lead}"
        );
    }
}

#[tokio::test]
async fn batched_progress_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/intake.db?mode=rwc", dir.path().display());
    progress_contract(&migrated(&url).await).await;
}

#[tokio::test]
async fn batched_progress_on_postgres() {
    let postgres = Postgres::start().await.unwrap();
    let url = postgres.create_database("intake_progress").await.unwrap();
    progress_contract(&migrated(&url).await).await;
}
