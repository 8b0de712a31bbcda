//! The store contract, run on SQLite and on PostgreSQL: the same statements must mean
//! the same thing on both, including the partial unique index that allows one open
//! opportunity per customer.

use shangji_pipeline::domain::opportunity::Change;
use shangji_pipeline::domain::{Activity, ActivityKind, Opportunity, Status};
use shangji_pipeline::store::lead_links::Link;
use shangji_pipeline::store::opportunities::{Filter, Listed, Sort};
use shangji_pipeline::store::{
    MIGRATIONS, activities, history, lead_links, opportunities, pipelines,
};
use shangji_platform::Db;
use shangji_platform::db::is_unique_violation;

#[tokio::test]
async fn store_contract_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/pipeline.db?mode=rwc", dir.path().display());
    let db = connect(&url).await;
    run_contract(&db).await;
    db.close().await;
}

#[tokio::test]
async fn store_contract_on_postgres() {
    let pg = shangji_testkit::Postgres::start()
        .await
        .expect("PostgreSQL for the store contract");
    let url = pg.create_database("pipeline_store").await.unwrap();
    let db = connect(&url).await;
    run_contract(&db).await;
    db.close().await;
}

async fn connect(url: &str) -> Db {
    let db = Db::connect(url, "pipeline").await.unwrap();
    db.migrate(&MIGRATIONS).await.unwrap();
    // Migrating again finds everything applied.
    db.migrate(&MIGRATIONS).await.unwrap();
    db
}

async fn run_contract(db: &Db) {
    default_pipeline_is_seeded_once_per_tenant(db).await;
    one_open_opportunity_per_customer(db).await;
    updates_apply_only_on_the_version_read(db).await;
    lists_filter_count_and_page(db).await;
    activities_history_and_lead_links(db).await;
}

fn opportunity(
    tenant: &str,
    id: &str,
    customer: &str,
    owner: &str,
    stage: &str,
    created_at: i64,
) -> Opportunity {
    Opportunity {
        tenant_id: tenant.into(),
        opportunity_id: id.into(),
        customer_id: customer.into(),
        owner_rep_id: owner.into(),
        pipeline_id: "default".into(),
        stage: stage.into(),
        status: Status::Open,
        amount: 150_000.5,
        currency: "CNY".into(),
        name: "华信科技 · 服务器".into(),
        lead_id: format!("lead_{id}"),
        source: "web_form".into(),
        region: "华东".into(),
        industry: "制造".into(),
        team: "east".into(),
        lost_reason: String::new(),
        next_follow_up_at: None,
        expected_close_at: None,
        pipeline_version: 1,
        fields: Default::default(),
        stage_entered_at: created_at,
        created_at,
        updated_at: created_at,
        version: 1,
    }
}

/// Seeds the tenant's pipeline and inserts `opp` in one transaction.
async fn insert(db: &Db, opp: &Opportunity) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    pipelines::load_or_seed(&mut tx, &opp.tenant_id, "default").await?;
    opportunities::insert(&mut tx, opp).await?;
    tx.commit().await
}

async fn default_pipeline_is_seeded_once_per_tenant(db: &Db) {
    let mut conn = db.reader().acquire().await.unwrap();
    assert_eq!(
        pipelines::load(&mut conn, "seed", "default").await.unwrap(),
        None
    );
    drop(conn);
    for _ in 0..2 {
        let mut tx = db.begin().await.unwrap();
        pipelines::seed_default(&mut tx, "seed").await.unwrap();
        tx.commit().await.unwrap();
    }
    let mut conn = db.reader().acquire().await.unwrap();
    let pipeline = pipelines::load(&mut conn, "seed", "default")
        .await
        .unwrap()
        .expect("seeded");
    assert_eq!(pipeline.name, "Default");
    let stages: Vec<_> = pipeline
        .stages
        .iter()
        .map(|s| (s.name.as_str(), s.order, s.win_probability, s.terminal))
        .collect();
    assert_eq!(
        stages,
        [
            ("lead", 0, 0.05, false),
            ("qualified", 1, 0.10, false),
            ("needs_analysis", 2, 0.20, false),
            ("proposal", 3, 0.40, false),
            ("negotiation", 4, 0.70, false),
            ("won", 5, 1.0, true),
            ("lost", 6, 0.0, true),
        ]
    );
    assert_eq!(
        pipelines::load(&mut conn, "seed-other", "default")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        pipelines::load(&mut conn, "seed", "custom").await.unwrap(),
        None
    );
}

async fn one_open_opportunity_per_customer(db: &Db) {
    let first = opportunity("one", "opp_a", "cus_1", "rep_1", "lead", 1_000);
    insert(db, &first).await.unwrap();
    let second = opportunity("one", "opp_b", "cus_1", "rep_1", "lead", 2_000);
    let err = insert(db, &second).await.unwrap_err();
    assert!(
        is_unique_violation(&err),
        "expected a unique violation, got {err:?}"
    );
    // Another tenant's customer of the same id is another customer.
    insert(
        db,
        &opportunity("one-other", "opp_b", "cus_1", "rep_9", "lead", 2_000),
    )
    .await
    .unwrap();

    let mut tx = db.begin().await.unwrap();
    let found = opportunities::find_open_for_customer(&mut tx, "one", "cus_1")
        .await
        .unwrap();
    assert_eq!(
        found.as_ref(),
        Some(&first),
        "the row reads back exactly as written"
    );
    let mut closed = first.clone();
    closed.status = Status::Lost;
    closed.stage = "lost".into();
    closed.lost_reason = "budget cut".into();
    assert!(opportunities::update(&mut tx, &closed).await.unwrap());
    tx.commit().await.unwrap();

    // Closed ones do not count: the customer may have a new open opportunity.
    insert(db, &second).await.unwrap();
    let mut conn = db.reader().acquire().await.unwrap();
    let open = opportunities::find_open_for_customer(&mut conn, "one", "cus_1")
        .await
        .unwrap();
    assert_eq!(open.map(|o| o.opportunity_id), Some("opp_b".to_owned()));
    let lost = opportunities::get(&mut conn, "one", "opp_a")
        .await
        .unwrap()
        .expect("kept");
    assert_eq!(
        (lost.status, lost.lost_reason.as_str(), lost.version),
        (Status::Lost, "budget cut", 2)
    );
}

async fn updates_apply_only_on_the_version_read(db: &Db) {
    let opp = opportunity("cas", "opp_c", "cus_c", "rep_1", "lead", 1_000);
    insert(db, &opp).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    let mut moved = opp.clone();
    moved.stage = "qualified".into();
    moved.next_follow_up_at = Some(99_000);
    assert!(opportunities::update(&mut tx, &moved).await.unwrap());
    // A writer that read version 1 too must not overwrite the change.
    let mut stale = opp.clone();
    stale.stage = "proposal".into();
    assert!(!opportunities::update(&mut tx, &stale).await.unwrap());
    // Nor may another tenant touch it.
    let mut foreign = moved.clone();
    foreign.tenant_id = "intruder".into();
    foreign.version = 2;
    assert!(!opportunities::update(&mut tx, &foreign).await.unwrap());
    tx.commit().await.unwrap();
    let mut conn = db.reader().acquire().await.unwrap();
    let now = opportunities::get(&mut conn, "cas", "opp_c")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (now.stage.as_str(), now.next_follow_up_at, now.version),
        ("qualified", Some(99_000), 2)
    );
    assert_eq!(
        opportunities::get(&mut conn, "intruder", "opp_c")
            .await
            .unwrap(),
        None
    );
}

async fn lists_filter_count_and_page(db: &Db) {
    let t = "list";
    // Two share a created_at, so paging must fall back to the id.
    let rows = [
        ("opp_1", "cus_1", "rep_a", "lead", 1_000),
        ("opp_2", "cus_2", "rep_b", "proposal", 2_000),
        ("opp_3", "cus_3", "rep_a", "proposal", 3_000),
        ("opp_4", "cus_4", "rep_a", "lead", 3_000),
        ("opp_5", "cus_5", "rep_b", "lead", 5_000),
    ];
    for (id, customer, owner, stage, at) in rows {
        insert(db, &opportunity(t, id, customer, owner, stage, at))
            .await
            .unwrap();
    }
    let mut won = opportunity(t, "opp_1", "cus_1", "rep_a", "won", 1_000);
    won.status = Status::Won;
    let mut tx = db.begin().await.unwrap();
    assert!(opportunities::update(&mut tx, &won).await.unwrap());
    tx.commit().await.unwrap();

    let mut conn = db.reader().acquire().await.unwrap();
    let ids = |list: Vec<Listed>| {
        list.into_iter()
            .map(|l| l.opportunity.opportunity_id)
            .collect::<Vec<_>>()
    };
    let all = Filter::default();
    assert_eq!(opportunities::count(&mut conn, t, &all).await.unwrap(), 5);
    assert_eq!(
        ids(
            opportunities::list(&mut conn, t, &all, Sort::default(), None, 10)
                .await
                .unwrap()
        ),
        ["opp_5", "opp_4", "opp_3", "opp_2", "opp_1"],
        "newest first, ties by id"
    );

    // Keyset paging visits every row once.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = opportunities::list(&mut conn, t, &all, Sort::default(), after.as_ref(), 2)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.cursor.clone());
        seen.extend(ids(page));
    }
    assert_eq!(seen, ["opp_5", "opp_4", "opp_3", "opp_2", "opp_1"]);

    let by_owner = Filter {
        owner_rep_id: Some("rep_a".into()),
        ..Filter::default()
    };
    assert_eq!(
        ids(
            opportunities::list(&mut conn, t, &by_owner, Sort::default(), None, 10)
                .await
                .unwrap()
        ),
        ["opp_4", "opp_3", "opp_1"]
    );
    let open_in_lead = Filter {
        stage: Some("lead".into()),
        status: Some(Status::Open),
        ..Filter::default()
    };
    assert_eq!(
        ids(
            opportunities::list(&mut conn, t, &open_in_lead, Sort::default(), None, 10)
                .await
                .unwrap()
        ),
        ["opp_5", "opp_4"]
    );
    assert_eq!(
        opportunities::count(&mut conn, t, &open_in_lead)
            .await
            .unwrap(),
        2
    );
    let one_customer = Filter {
        customer_id: Some("cus_2".into()),
        owner_rep_id: Some("rep_b".into()),
        ..Filter::default()
    };
    assert_eq!(
        ids(
            opportunities::list(&mut conn, t, &one_customer, Sort::default(), None, 10)
                .await
                .unwrap()
        ),
        ["opp_2"]
    );
    assert_eq!(
        opportunities::count(&mut conn, "list-other", &all)
            .await
            .unwrap(),
        0
    );
    assert!(
        opportunities::list(&mut conn, "list-other", &all, Sort::default(), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn activities_history_and_lead_links(db: &Db) {
    let t = "trail";
    let opp = opportunity(t, "opp_t", "cus_t", "rep_1", "lead", 1_000);
    insert(db, &opp).await.unwrap();
    let activity = |id: &str, at: i64, kind: ActivityKind, lead: &str| Activity {
        activity_id: id.into(),
        opportunity_id: "opp_t".into(),
        kind,
        summary: format!("summary {id}"),
        next_step: String::new(),
        next_follow_up_at: (kind == ActivityKind::Call).then_some(9_000),
        purpose: String::new(),
        customer_questions: String::new(),
        attachments: Vec::new(),
        lead_id: lead.into(),
        user_id: "wang".into(),
        logged_at: at,
    };
    let mut tx = db.begin().await.unwrap();
    activities::insert(
        &mut tx,
        t,
        &activity("act_1", 2_000, ActivityKind::Call, ""),
    )
    .await
    .unwrap();
    activities::insert(
        &mut tx,
        t,
        &activity("act_2", 3_000, ActivityKind::Touchpoint, "lead_2"),
    )
    .await
    .unwrap();
    history::append(
        &mut tx,
        t,
        "opp_t",
        "wang",
        2_000,
        &[
            Change::new("stage", "", "lead"),
            Change::new("owner_rep_id", "", "rep_1"),
        ],
    )
    .await
    .unwrap();
    history::append(
        &mut tx,
        t,
        "opp_t",
        "li",
        3_000,
        &[Change::new("stage", "lead", "qualified").with_note("met them")],
    )
    .await
    .unwrap();
    lead_links::insert(&mut tx, t, "lead_opp_t", "opp_t", Link::Opened, 1_000)
        .await
        .unwrap();
    lead_links::insert(&mut tx, t, "lead_2", "opp_t", Link::Attached, 3_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = db.begin().await.unwrap();
    let err = lead_links::insert(&mut tx, t, "lead_2", "opp_t", Link::Attached, 4_000)
        .await
        .unwrap_err();
    assert!(is_unique_violation(&err), "a lead links once: {err:?}");
    drop(tx);

    let mut conn = db.reader().acquire().await.unwrap();
    let listed = activities::list_for(&mut conn, t, "opp_t").await.unwrap();
    assert_eq!(
        listed,
        [
            activity("act_2", 3_000, ActivityKind::Touchpoint, "lead_2"),
            activity("act_1", 2_000, ActivityKind::Call, "")
        ]
    );
    let trail = history::list_for(&mut conn, t, "opp_t").await.unwrap();
    let fields: Vec<_> = trail
        .iter()
        .map(|h| (h.field.as_str(), h.new_value.as_str(), h.user_id.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("stage", "lead", "wang"),
            ("owner_rep_id", "rep_1", "wang"),
            ("stage", "qualified", "li")
        ]
    );
    assert_eq!(trail[2].note, "met them");
    assert_eq!(
        lead_links::find(&mut conn, t, "lead_2")
            .await
            .unwrap()
            .as_deref(),
        Some("opp_t")
    );
    assert_eq!(
        lead_links::find(&mut conn, "trail-other", "lead_2")
            .await
            .unwrap(),
        None
    );
    assert!(
        activities::list_for(&mut conn, "trail-other", "opp_t")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        history::list_for(&mut conn, "trail-other", "opp_t")
            .await
            .unwrap()
            .is_empty()
    );
}
