//! The store contract of customer merges, run on SQLite and on PostgreSQL: the unique
//! index allows one *primary* open opportunity per customer and any number of parallel
//! deals, aliases follow merge chains, and moves are remembered until an unmerge
//! settles them.

use shangji_pipeline::domain::opportunity::Change;
use shangji_pipeline::domain::{Opportunity, Status};
use shangji_pipeline::store::merges::{self, MemberState, Move, Settled};
use shangji_pipeline::store::{MIGRATIONS, history, opportunities, pipelines, placements};
use shangji_platform::Db;
use shangji_platform::db::is_unique_violation;

#[tokio::test]
async fn merge_store_contract_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/pipeline.db?mode=rwc", dir.path().display());
    let db = connect(&url).await;
    run_contract(&db).await;
    db.close().await;
}

#[tokio::test]
async fn merge_store_contract_on_postgres() {
    let pg = shangji_testkit::Postgres::start()
        .await
        .expect("PostgreSQL for the store contract");
    let url = pg.create_database("pipeline_merges").await.unwrap();
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
    one_primary_open_opportunity_and_parallel_deals(db).await;
    aliases_follow_merge_chains_until_undone(db).await;
    moves_are_kept_until_settled(db).await;
}

fn opportunity(id: &str, customer: &str, created_at: i64) -> Opportunity {
    Opportunity {
        tenant_id: "acme".into(),
        opportunity_id: id.into(),
        customer_id: customer.into(),
        owner_rep_id: "wang".into(),
        pipeline_id: "default".into(),
        stage: "lead".into(),
        status: Status::Open,
        amount: 1_000.0,
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

async fn insert(db: &Db, opp: &Opportunity) {
    let mut tx = db.begin().await.unwrap();
    pipelines::load_or_seed(&mut tx, &opp.tenant_id, "default")
        .await
        .unwrap();
    opportunities::insert(&mut tx, opp).await.unwrap();
    tx.commit().await.unwrap();
}

async fn one_primary_open_opportunity_and_parallel_deals(db: &Db) {
    let primary = opportunity("opp_p", "cus_s", 1_000);
    let merged = opportunity("opp_q", "cus_m", 2_000);
    insert(db, &primary).await;
    insert(db, &merged).await;

    // Moving the merged customer's open one as a second primary breaks the index...
    let mut tx = db.begin().await.unwrap();
    let err = placements::place(&mut tx, &merged, "cus_s", "", 3_000)
        .await
        .unwrap_err();
    assert!(is_unique_violation(&err), "{err:?}");
    tx.rollback().await.unwrap();

    // ... as a parallel deal of the primary it is allowed.
    let mut tx = db.begin().await.unwrap();
    assert!(
        placements::place(&mut tx, &merged, "cus_s", "opp_p", 3_000)
            .await
            .unwrap()
    );
    assert!(
        !placements::place(&mut tx, &merged, "cus_m", "", 3_000)
            .await
            .unwrap(),
        "a placement from a stale version writes nothing"
    );
    tx.commit().await.unwrap();

    let mut conn = db.reader().acquire().await.unwrap();
    let placed = placements::of_customer(&mut conn, "acme", "cus_s")
        .await
        .unwrap();
    let order: Vec<_> = placed
        .iter()
        .map(|p| {
            (
                p.opp.opportunity_id.as_str(),
                p.parallel_of.as_str(),
                p.opp.version,
            )
        })
        .collect();
    assert_eq!(order, [("opp_p", "", 1), ("opp_q", "opp_p", 2)]);
    assert_eq!(
        placements::primary_open(&mut conn, "acme", "cus_s")
            .await
            .unwrap(),
        Some("opp_p".to_owned())
    );
    let open = opportunities::find_open_for_customer(&mut conn, "acme", "cus_s")
        .await
        .unwrap();
    assert_eq!(open.map(|o| o.opportunity_id), Some("opp_p".to_owned()));
    let all = opportunities::list_open_for_customer(&mut conn, "acme", "cus_s")
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    drop(conn);

    // The primary closes: the parallel deal is the customer's open one.
    let mut tx = db.begin().await.unwrap();
    let mut won = primary.clone();
    won.status = Status::Won;
    won.stage = "won".into();
    assert!(opportunities::update(&mut tx, &won).await.unwrap());
    let open = opportunities::find_open_for_customer(&mut tx, "acme", "cus_s")
        .await
        .unwrap();
    assert_eq!(open.map(|o| o.opportunity_id), Some("opp_q".to_owned()));
    assert_eq!(
        placements::primary_open(&mut tx, "acme", "cus_s")
            .await
            .unwrap(),
        None
    );
    tx.commit().await.unwrap();
}

async fn aliases_follow_merge_chains_until_undone(db: &Db) {
    let mut tx = db.begin().await.unwrap();
    merges::record_merged(&mut tx, "acme", "m1", "cus_a", "cus_b", 1_000)
        .await
        .unwrap();
    merges::record_merged(&mut tx, "acme", "m2", "cus_b", "cus_c", 2_000)
        .await
        .unwrap();
    assert_eq!(
        merges::current_customer(&mut tx, "acme", "cus_a")
            .await
            .unwrap(),
        "cus_c"
    );
    assert_eq!(
        merges::current_customer(&mut tx, "other", "cus_a")
            .await
            .unwrap(),
        "cus_a",
        "tenants are apart"
    );
    assert!(
        is_unique_violation(
            &merges::record_merged(&mut tx, "acme", "m1", "cus_a", "cus_b", 1_000)
                .await
                .unwrap_err()
        ),
        "a merge records a customer once"
    );
    tx.rollback().await.unwrap();

    let mut tx = db.begin().await.unwrap();
    merges::record_merged(&mut tx, "acme", "m1", "cus_a", "cus_b", 1_000)
        .await
        .unwrap();
    merges::record_unmerged(&mut tx, "acme", "m1", "cus_a", "cus_b", 3_000)
        .await
        .unwrap();
    // An unmerge that comes first leaves a record too.
    merges::record_unmerged(&mut tx, "acme", "m9", "cus_x", "cus_y", 3_000)
        .await
        .unwrap();
    assert_eq!(
        merges::current_customer(&mut tx, "acme", "cus_a")
            .await
            .unwrap(),
        "cus_a"
    );
    assert_eq!(
        merges::member_state(&mut tx, "acme", "m1", "cus_a")
            .await
            .unwrap(),
        Some(MemberState::Unmerged)
    );
    assert_eq!(
        merges::member_state(&mut tx, "acme", "m9", "cus_x")
            .await
            .unwrap(),
        Some(MemberState::Unmerged)
    );
    assert_eq!(
        merges::member_state(&mut tx, "acme", "m1", "cus_b")
            .await
            .unwrap(),
        None
    );
    assert!(
        merges::merged_members(&mut tx, "acme", "m1")
            .await
            .unwrap()
            .is_empty()
    );
    tx.commit().await.unwrap();
}

async fn moves_are_kept_until_settled(db: &Db) {
    insert(db, &opportunity("opp_r", "cus_r", 1_000)).await;
    let mut tx = db.begin().await.unwrap();
    let change = Change::new("customer_id", "cus_r", "cus_t");
    history::append(
        &mut tx,
        "acme",
        "opp_r",
        "mgr",
        2_000,
        std::slice::from_ref(&change),
    )
    .await
    .unwrap();
    let seq = history::last_seq(&mut tx, "acme", "opp_r").await.unwrap();
    assert!(seq > 0);
    let mv = Move {
        merge_id: "m5".into(),
        opportunity_id: "opp_r".into(),
        from_customer_id: "cus_r".into(),
        to_customer_id: "cus_t".into(),
        from_parallel_of: String::new(),
        history_seq: seq,
        moved_at: 2_000,
    };
    merges::record_move(&mut tx, "acme", &mv).await.unwrap();
    assert_eq!(
        merges::unsettled_moves(&mut tx, "acme", "m5", "cus_r")
            .await
            .unwrap(),
        vec![mv.clone()]
    );
    assert!(
        !history::changed_since(&mut tx, "acme", "opp_r", "customer_id", seq)
            .await
            .unwrap()
    );
    history::append(&mut tx, "acme", "opp_r", "li", 3_000, &[change])
        .await
        .unwrap();
    assert!(
        history::changed_since(&mut tx, "acme", "opp_r", "customer_id", seq)
            .await
            .unwrap()
    );
    merges::settle_move(&mut tx, "acme", "m5", "opp_r", Settled::Kept, 4_000)
        .await
        .unwrap();
    assert!(
        merges::unsettled_moves(&mut tx, "acme", "m5", "cus_r")
            .await
            .unwrap()
            .is_empty()
    );
    tx.commit().await.unwrap();
}
