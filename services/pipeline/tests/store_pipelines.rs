//! The store contract for pipeline versions, team pipelines, opportunity fields and
//! activity counts, on SQLite and on PostgreSQL.

use std::collections::BTreeMap;

use shangji_pipeline::domain::definition::{StageDefinition, define};
use shangji_pipeline::domain::gate::{RequiredActivity, RequiredField};
use shangji_pipeline::domain::{Activity, ActivityKind, Opportunity, StageGate, Status};
use shangji_pipeline::store::{MIGRATIONS, activities, opportunities, pipelines};
use shangji_platform::Db;

#[tokio::test]
async fn pipeline_store_contract_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/pipeline.db?mode=rwc", dir.path().display());
    let db = connect(&url).await;
    run_contract(&db).await;
    db.close().await;
}

#[tokio::test]
async fn pipeline_store_contract_on_postgres() {
    let pg = shangji_testkit::Postgres::start()
        .await
        .expect("PostgreSQL for the store contract");
    let url = pg.create_database("pipeline_versions").await.unwrap();
    let db = connect(&url).await;
    run_contract(&db).await;
    db.close().await;
}

async fn connect(url: &str) -> Db {
    let db = Db::connect(url, "pipeline").await.unwrap();
    db.migrate(&MIGRATIONS).await.unwrap();
    db
}

async fn run_contract(db: &Db) {
    versions_are_kept_and_teams_find_their_pipeline(db).await;
    fields_close_dates_and_activity_counts_round_trip(db).await;
}

fn gated_stage(name: &str) -> StageDefinition {
    StageDefinition {
        name: name.into(),
        win_probability: 0.4,
        gate: StageGate {
            required_fields: vec![RequiredField {
                field: "decision_maker".into(),
                label_zh: "决策人".into(),
                label_en: "decision maker".into(),
            }],
            required_activities: vec![RequiredActivity {
                kind: ActivityKind::Visit,
                min_count: 1,
            }],
            required_approvals: vec![],
        },
    }
}

fn plain_stage(name: &str) -> StageDefinition {
    StageDefinition {
        name: name.into(),
        win_probability: 0.1,
        gate: StageGate::default(),
    }
}

async fn versions_are_kept_and_teams_find_their_pipeline(db: &Db) {
    let t = "versions";
    let v1 = define(
        "east",
        "East",
        "team_east",
        vec![plain_stage("contact"), gated_stage("proposal")],
    )
    .unwrap();
    let mut tx = db.begin().await.unwrap();
    let saved = pipelines::save_new_version(&mut tx, t, &v1, "admin")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(saved.version, 1);

    let v2 = define("east", "East 2", "team_east", vec![plain_stage("contact")]).unwrap();
    let mut tx = db.begin().await.unwrap();
    let saved = pipelines::save_new_version(&mut tx, t, &v2, "admin")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(saved.version, 2);

    let mut conn = db.reader().acquire().await.unwrap();
    let current = pipelines::load(&mut conn, t, "east")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((current.version, current.name.as_str()), (2, "East 2"));
    assert!(current.stage("proposal").is_none());
    let first = pipelines::load_version(&mut conn, t, "east", 1)
        .await
        .unwrap()
        .unwrap();
    let proposal = first.stage("proposal").expect("version 1 keeps proposal");
    assert_eq!(proposal.gate, gated_stage("proposal").gate);
    assert_eq!(
        pipelines::load_version(&mut conn, t, "east", 3)
            .await
            .unwrap(),
        None
    );
    drop(conn);

    let mut tx = db.begin().await.unwrap();
    let for_east = pipelines::for_team(&mut tx, t, "team_east")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (for_east.pipeline_id.as_str(), for_east.version),
        ("east", 2)
    );
    let for_west = pipelines::for_team(&mut tx, t, "team_west")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        for_west.pipeline_id, "default",
        "other teams get the default"
    );
    assert_eq!(
        pipelines::team_taken_by(&mut tx, t, "team_east", "other")
            .await
            .unwrap()
            .as_deref(),
        Some("east")
    );
    assert_eq!(
        pipelines::team_taken_by(&mut tx, t, "team_east", "east")
            .await
            .unwrap(),
        None
    );
    tx.commit().await.unwrap();

    let mut conn = db.reader().acquire().await.unwrap();
    let all = pipelines::list(&mut conn, t).await.unwrap();
    let ids: Vec<_> = all.iter().map(|p| p.pipeline_id.as_str()).collect();
    assert_eq!(ids, ["default", "east"]);
    assert!(
        pipelines::list(&mut conn, "versions-other")
            .await
            .unwrap()
            .is_empty()
    );
}

async fn fields_close_dates_and_activity_counts_round_trip(db: &Db) {
    let t = "fields";
    let mut opp = Opportunity {
        tenant_id: t.into(),
        opportunity_id: "opp_f".into(),
        customer_id: "cus_f".into(),
        owner_rep_id: "rep_1".into(),
        pipeline_id: "default".into(),
        stage: "lead".into(),
        status: Status::Open,
        amount: 1.0,
        currency: "CNY".into(),
        name: "n".into(),
        lead_id: "lead_f".into(),
        source: String::new(),
        region: String::new(),
        industry: String::new(),
        team: "team_east".into(),
        lost_reason: String::new(),
        next_follow_up_at: None,
        expected_close_at: Some(1_800_000_000_000),
        pipeline_version: 1,
        fields: BTreeMap::from([("decision_maker".into(), "李总".into())]),
        stage_entered_at: 1,
        created_at: 1,
        updated_at: 1,
        version: 1,
    };
    let mut tx = db.begin().await.unwrap();
    pipelines::seed_default(&mut tx, t).await.unwrap();
    opportunities::insert(&mut tx, &opp).await.unwrap();
    for (id, kind) in [
        ("a1", ActivityKind::Visit),
        ("a2", ActivityKind::Visit),
        ("a3", ActivityKind::Call),
    ] {
        let activity = Activity {
            activity_id: id.into(),
            opportunity_id: "opp_f".into(),
            kind,
            summary: "s".into(),
            next_step: String::new(),
            next_follow_up_at: None,
            purpose: String::new(),
            customer_questions: String::new(),
            attachments: Vec::new(),
            lead_id: String::new(),
            user_id: "wang".into(),
            logged_at: 2,
        };
        activities::insert(&mut tx, t, &activity).await.unwrap();
    }
    tx.commit().await.unwrap();

    let mut conn = db.reader().acquire().await.unwrap();
    let read = opportunities::get(&mut conn, t, "opp_f")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, opp);
    let counts = activities::count_by_kind(&mut conn, t, "opp_f")
        .await
        .unwrap();
    assert_eq!(
        counts,
        BTreeMap::from([(ActivityKind::Call, 1), (ActivityKind::Visit, 2)])
    );
    drop(conn);

    opp.currency = "USD".into();
    opp.expected_close_at = None;
    opp.fields.insert("budget_confirmed".into(), "yes".into());
    let mut tx = db.begin().await.unwrap();
    assert!(opportunities::update(&mut tx, &opp).await.unwrap());
    tx.commit().await.unwrap();
    let mut conn = db.reader().acquire().await.unwrap();
    let read = opportunities::get(&mut conn, t, "opp_f")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.currency, "USD");
    assert_eq!(read.expected_close_at, None);
    assert_eq!(read.fields.len(), 2);
    assert_eq!(read.version, 2);

    // The stage gauge counts over every tenant.
    let counts = opportunities::count_by_stage_and_status(&mut conn)
        .await
        .unwrap();
    assert!(
        counts
            .iter()
            .any(|(stage, status, n)| stage == "lead" && status == "open" && *n >= 1),
        "{counts:?}"
    );
}
