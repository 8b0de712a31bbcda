//! The store contract, run on SQLite and on PostgreSQL.

use shangji_assignment::MIGRATIONS;
use shangji_assignment::domain::{RepProfile, WorkingStatus};
use shangji_assignment::store::assignments::{self, AssignmentRecord};
use shangji_assignment::store::opportunities::Opened;
use shangji_assignment::store::{opportunities, owners, reps, sequence};
use shangji_platform::Db;

mod store_org;

/// The UTC day the counters are read for.
const DAY: i64 = 0;

fn opened<'a>(opportunity_id: &'a str, rep_id: &'a str, at: i64) -> Opened<'a> {
    Opened {
        opportunity_id,
        rep_id,
        customer_id: "",
        lead_id: "",
        team: "",
        at,
    }
}

const T: &str = "acme";
const OTHER: &str = "globex";

fn profile(rep_id: &str, team: &str, regions: &[&str], capacity: u32, active: bool) -> RepProfile {
    RepProfile {
        rep_id: rep_id.into(),
        name: format!("Rep {rep_id}"),
        team: team.into(),
        regions: regions.iter().map(|s| s.to_string()).collect(),
        industries: vec!["制造".into()],
        capacity,
        status: if active {
            WorkingStatus::Active
        } else {
            WorkingStatus::OnLeave
        },
        ..RepProfile::default()
    }
}

async fn open_count(db: &Db, tenant: &str, rep_id: &str) -> i64 {
    reps::get(db.reader(), tenant, DAY, rep_id)
        .await
        .unwrap()
        .unwrap()
        .load
        .open_count
}

async fn reps_and_counters(db: &Db) {
    let mut tx = db.begin().await.unwrap();
    assert!(
        reps::insert_new(&mut tx, T, &profile("r1", "east", &["华东"], 2, true), 10)
            .await
            .unwrap()
    );
    assert!(
        reps::insert_new(&mut tx, T, &profile("r2", "west", &[], 0, false), 10)
            .await
            .unwrap()
    );
    assert!(
        reps::insert_new(&mut tx, OTHER, &profile("r1", "north", &[], 0, true), 10)
            .await
            .unwrap()
    );
    assert!(
        !reps::insert_new(&mut tx, T, &profile("r1", "changed", &[], 0, true), 11)
            .await
            .unwrap(),
        "an existing rep is not inserted twice"
    );
    reps::record_assignment(&mut tx, T, "r1", 7, DAY, 12)
        .await
        .unwrap();
    reps::record_assignment(&mut tx, T, "r1", 9, DAY, 13)
        .await
        .unwrap();
    reps::update_profile(
        &mut tx,
        T,
        &profile("r1", "east", &["华东", "华北"], 3, true),
        14,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let r1 = reps::get(db.reader(), T, DAY, "r1").await.unwrap().unwrap();
    assert_eq!(
        r1.profile,
        profile("r1", "east", &["华东", "华北"], 3, true)
    );
    assert_eq!(
        (
            r1.load.last_assigned_seq,
            r1.load.assigned_total,
            r1.load.leads_today
        ),
        (9, 2, 2),
        "the profile update kept the counters"
    );
    assert_eq!(r1.version, 2, "the update bumped the version");
    let tomorrow = reps::get(db.reader(), T, DAY + 1, "r1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        tomorrow.load.leads_today, 0,
        "daily counts start again each day"
    );

    let all = reps::list(db.reader(), T, DAY, "", false).await.unwrap();
    assert_eq!(all.len(), 2);
    let east = reps::list(db.reader(), T, DAY, "east", false)
        .await
        .unwrap();
    assert_eq!(
        east.iter()
            .map(|r| r.profile.rep_id.as_str())
            .collect::<Vec<_>>(),
        vec!["r1"]
    );
    let active = reps::list(db.reader(), T, DAY, "", true).await.unwrap();
    assert_eq!(
        active
            .iter()
            .map(|r| r.profile.rep_id.as_str())
            .collect::<Vec<_>>(),
        vec!["r1"]
    );
    let other = reps::list(db.reader(), OTHER, DAY, "", false)
        .await
        .unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(
        other[0].profile.team, "north",
        "tenants never see each other's reps"
    );
    assert!(
        reps::get(db.reader(), "nobody", DAY, "r1")
            .await
            .unwrap()
            .is_none()
    );
}

async fn turns_count_per_tenant(db: &Db) {
    let mut tx = db.begin().await.unwrap();
    let a: Vec<i64> = vec![
        sequence::take_turn(&mut tx, T).await.unwrap(),
        sequence::take_turn(&mut tx, T).await.unwrap(),
        sequence::take_turn(&mut tx, OTHER).await.unwrap(),
        sequence::take_turn(&mut tx, T).await.unwrap(),
    ];
    tx.commit().await.unwrap();
    assert_eq!(a, vec![1, 2, 1, 3]);
}

async fn one_customer_one_owner(db: &Db) {
    let mut tx = db.begin().await.unwrap();
    assert_eq!(
        owners::claim(&mut tx, T, "cus_1", "r1", 100).await.unwrap(),
        "r1"
    );
    assert_eq!(
        owners::claim(&mut tx, T, "cus_1", "r2", 101).await.unwrap(),
        "r1",
        "a second claim finds the first owner"
    );
    assert_eq!(
        owners::claim(&mut tx, OTHER, "cus_1", "r9", 101)
            .await
            .unwrap(),
        "r9"
    );
    assert_eq!(
        owners::take_over(&mut tx, T, "cus_1", "r7", "r2", 102)
            .await
            .unwrap(),
        "r1",
        "only the owner named as previous is replaced"
    );
    assert_eq!(
        owners::take_over(&mut tx, T, "cus_1", "r1", "r2", 103)
            .await
            .unwrap(),
        "r2"
    );
    assert!(
        !owners::follow_reassignment(&mut tx, T, "cus_1", "r2", "r3", 50)
            .await
            .unwrap(),
        "an older reassignment does not move the customer"
    );
    assert!(
        !owners::follow_reassignment(&mut tx, T, "cus_1", "r1", "r3", 200)
            .await
            .unwrap(),
        "a reassignment from someone else does not move the customer"
    );
    assert!(
        owners::follow_reassignment(&mut tx, T, "cus_1", "r2", "r3", 200)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    assert_eq!(
        owners::owner_of(db.reader(), T, "cus_1")
            .await
            .unwrap()
            .as_deref(),
        Some("r3")
    );
    assert_eq!(
        owners::owner_of(db.reader(), OTHER, "cus_1")
            .await
            .unwrap()
            .as_deref(),
        Some("r9")
    );
    assert!(
        owners::owner_of(db.reader(), T, "cus_2")
            .await
            .unwrap()
            .is_none()
    );
}

async fn the_first_decision_stands(db: &Db) {
    let assigned = AssignmentRecord {
        lead_id: "lead_1".into(),
        customer_id: "cus_1".into(),
        rep_id: Some("r1".into()),
        team: "east".into(),
        rule: "round-robin:east".into(),
        reason: "r1 is next in turn among 2 active reps".into(),
        candidates: vec!["r1".into(), "r2".into()],
        pooled: false,
        decided_at: 1_700_000_000_123,
    };
    let pooled = AssignmentRecord {
        lead_id: "lead_2".into(),
        rep_id: None,
        team: String::new(),
        rule: "pool".into(),
        reason: "no active rep covers region 西北 / industry 制造 with free capacity".into(),
        candidates: vec![],
        pooled: true,
        ..assigned.clone()
    };
    let mut tx = db.begin().await.unwrap();
    assert!(assignments::insert(&mut tx, T, &assigned).await.unwrap());
    assert!(assignments::insert(&mut tx, T, &pooled).await.unwrap());
    let second = AssignmentRecord {
        rep_id: Some("r2".into()),
        ..assigned.clone()
    };
    assert!(!assignments::insert(&mut tx, T, &second).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(
        assignments::get(db.reader(), T, "lead_1").await.unwrap(),
        Some(assigned)
    );
    assert_eq!(
        assignments::get(db.reader(), T, "lead_2").await.unwrap(),
        Some(pooled)
    );
    assert_eq!(
        assignments::get(db.reader(), OTHER, "lead_1")
            .await
            .unwrap(),
        None
    );
}

/// Applies one opportunity fact the way the consumer does: record, then recount the
/// reps it touched (with the batch, once each).
async fn apply(db: &Db, fact: impl AsyncFnOnce(&mut shangji_platform::Tx) -> Vec<String>) {
    let mut tx = db.begin().await.unwrap();
    let touched = fact(&mut tx).await;
    let mut recount = reps::Recount::default();
    for rep in &touched {
        recount.add(T, rep);
        recount.add(T, rep);
    }
    recount.refresh(&mut tx, 1).await.unwrap();
    tx.commit().await.unwrap();
}

async fn open_counts_follow_opportunities_in_any_order(db: &Db) {
    let mut tx = db.begin().await.unwrap();
    reps::insert_new(&mut tx, T, &profile("o1", "east", &[], 0, true), 1)
        .await
        .unwrap();
    reps::insert_new(&mut tx, T, &profile("o2", "east", &[], 0, true), 1)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    apply(db, async |tx| {
        opportunities::opened(tx, T, opened("opp_1", "o1", 10))
            .await
            .unwrap()
    })
    .await;
    apply(db, async |tx| {
        opportunities::opened(tx, T, opened("opp_2", "o1", 10))
            .await
            .unwrap()
    })
    .await;
    apply(db, async |tx| {
        opportunities::opened(tx, T, opened("opp_2", "o1", 10))
            .await
            .unwrap()
    })
    .await;
    assert_eq!(
        open_count(db, T, "o1").await,
        2,
        "a duplicate created counts once"
    );

    apply(db, async |tx| {
        opportunities::closed(tx, T, "opp_1", "o1", 20)
            .await
            .unwrap()
    })
    .await;
    apply(db, async |tx| {
        opportunities::closed(tx, T, "opp_1", "o1", 20)
            .await
            .unwrap()
    })
    .await;
    assert_eq!(
        open_count(db, T, "o1").await,
        1,
        "a duplicate close subtracts once"
    );

    apply(db, async |tx| {
        opportunities::owner_changed(tx, T, "opp_2", "o2", 30)
            .await
            .unwrap()
    })
    .await;
    assert_eq!(
        (open_count(db, T, "o1").await, open_count(db, T, "o2").await),
        (0, 1)
    );
    apply(db, async |tx| {
        opportunities::owner_changed(tx, T, "opp_2", "o1", 25)
            .await
            .unwrap()
    })
    .await;
    assert_eq!(
        (open_count(db, T, "o1").await, open_count(db, T, "o2").await),
        (0, 1),
        "an older owner change arriving late loses"
    );

    // Out of order: lost before created; owner change before created.
    apply(db, async |tx| {
        opportunities::closed(tx, T, "opp_3", "o1", 50)
            .await
            .unwrap()
    })
    .await;
    apply(db, async |tx| {
        opportunities::opened(tx, T, opened("opp_3", "o1", 40))
            .await
            .unwrap()
    })
    .await;
    assert_eq!(
        open_count(db, T, "o1").await,
        0,
        "a close that came first stays final"
    );
    apply(db, async |tx| {
        opportunities::owner_changed(tx, T, "opp_4", "o2", 60)
            .await
            .unwrap()
    })
    .await;
    apply(db, async |tx| {
        opportunities::opened(tx, T, opened("opp_4", "o1", 55))
            .await
            .unwrap()
    })
    .await;
    assert_eq!(
        (open_count(db, T, "o1").await, open_count(db, T, "o2").await),
        (0, 2)
    );

    // A rep set up after their opportunities were opened starts with the right count.
    apply(db, async |tx| {
        opportunities::opened(tx, T, opened("opp_5", "late", 70))
            .await
            .unwrap()
    })
    .await;
    let mut tx = db.begin().await.unwrap();
    assert!(
        reps::insert_new(&mut tx, T, &profile("late", "east", &[], 0, true), 80)
            .await
            .unwrap()
    );
    reps::refresh_open_count(&mut tx, T, "late", 80)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(open_count(db, T, "late").await, 1);
}

async fn contract(url: &str) {
    let db = Db::connect(url, "assignment").await.unwrap();
    db.migrate(&MIGRATIONS).await.unwrap();
    db.migrate(&MIGRATIONS)
        .await
        .expect("migrating twice is a no-op");
    reps_and_counters(&db).await;
    turns_count_per_tenant(&db).await;
    one_customer_one_owner(&db).await;
    the_first_decision_stands(&db).await;
    open_counts_follow_opportunities_in_any_order(&db).await;
    store_org::contract(&db).await;
    db.close().await;
}

#[tokio::test]
async fn store_contract_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("assignment.db").display()
    );
    contract(&url).await;
}

#[tokio::test]
async fn store_contract_on_postgres() {
    if !shangji_testkit::postgres_available() && std::env::var_os("CI").is_none() {
        eprintln!(
            "skipping: no PostgreSQL here (install it or set SHANGJI_TEST_POSTGRES_URL); CI always runs this"
        );
        return;
    }
    let postgres = shangji_testkit::Postgres::start().await.unwrap();
    let url = postgres
        .create_database("shangji_assignment")
        .await
        .unwrap();
    contract(&url).await;
}
