//! The store contract, on SQLite and on PostgreSQL: the same SQL must behave the same.

use shangji_analytics::MIGRATIONS;
use shangji_analytics::domain::{CatalogStage, OpportunityStatus, ReachedBucket, StageOccupancy};
use shangji_analytics::store::{self, OpportunityFacts, UNKNOWN};
use shangji_platform::Db;
use shangji_testkit::Postgres;

enum Server {
    Sqlite(tempfile::TempDir),
    Postgres(Postgres),
}

impl Server {
    /// A fresh, migrated database.
    async fn database(&self, name: &str) -> Db {
        let url = match self {
            Server::Sqlite(dir) => format!("sqlite://{}/{name}.db?mode=rwc", dir.path().display()),
            Server::Postgres(pg) => pg.create_database(name).await.expect("create database"),
        };
        let db = Db::connect(&url, "analytics").await.expect("connect");
        db.migrate(&MIGRATIONS).await.expect("migrate");
        db
    }
}

#[tokio::test]
async fn store_contract_on_sqlite() {
    contract(&Server::Sqlite(tempfile::tempdir().expect("temp dir"))).await;
}

#[tokio::test]
async fn store_contract_on_postgres() {
    contract(&Server::Postgres(
        Postgres::start().await.expect("postgres starts"),
    ))
    .await;
}

async fn contract(server: &Server) {
    leads(&server.database("leads").await).await;
    catalog(&server.database("catalog").await).await;
    merging_is_order_independent(&server.database("merging").await).await;
    funnel_queries(&server.database("funnel").await).await;
}

async fn leads(db: &Db) {
    let mut tx = db.begin().await.expect("begin");
    assert!(
        store::leads::record_received(&mut tx, "t1", "l1", 10, "web_form")
            .await
            .expect("insert")
    );
    assert!(
        !store::leads::record_received(&mut tx, "t1", "l1", 10, "web_form")
            .await
            .expect("again")
    );
    assert!(
        store::leads::record_received(&mut tx, "t1", "l2", 11, "wechat")
            .await
            .expect("insert")
    );
    assert!(
        store::leads::record_received(&mut tx, "t2", "l1", 10, "import")
            .await
            .expect("insert")
    );
    tx.commit().await.expect("commit");
    assert_eq!(store::leads::count(db, "t1").await.expect("count"), 2);
    assert_eq!(store::leads::count(db, "t2").await.expect("count"), 1);
    assert_eq!(store::leads::count(db, "t3").await.expect("count"), 0);
}

async fn catalog(db: &Db) {
    let mut tx = db.begin().await.expect("begin");
    store::catalog::learn(&mut tx, "t1", "qualified", 1, 100)
        .await
        .expect("learn");
    store::catalog::learn(&mut tx, "t1", "lead", 0, 100)
        .await
        .expect("learn");
    store::catalog::learn(&mut tx, "t1", "proposal", 3, 200)
        .await
        .expect("learn");
    // An older statement loses, a newer one wins (the pipeline was reordered).
    store::catalog::learn(&mut tx, "t1", "proposal", 9, 150)
        .await
        .expect("learn");
    store::catalog::learn(&mut tx, "t1", "qualified", 2, 300)
        .await
        .expect("learn");
    store::catalog::learn(&mut tx, "t2", "lead", 5, 100)
        .await
        .expect("learn");
    assert_eq!(
        store::catalog::order_of(&mut tx, "t1", "proposal")
            .await
            .expect("order"),
        Some(3)
    );
    assert_eq!(
        store::catalog::order_of(&mut tx, "t1", "won")
            .await
            .expect("order"),
        None
    );
    // The earliest time an opportunity stood in a stage stays.
    store::catalog::record_stage_reached(&mut tx, "t1", "o1", "lead", 500)
        .await
        .expect("reached");
    store::catalog::record_stage_reached(&mut tx, "t1", "o1", "lead", 400)
        .await
        .expect("reached");
    store::catalog::record_stage_reached(&mut tx, "t1", "o1", "lead", 450)
        .await
        .expect("reached");
    tx.commit().await.expect("commit");

    let stages = store::catalog::stages(db, "t1").await.expect("stages");
    let expected: Vec<CatalogStage> = [("lead", 0), ("qualified", 2), ("proposal", 3)]
        .into_iter()
        .map(|(stage, order)| CatalogStage {
            stage: stage.to_owned(),
            order,
        })
        .collect();
    assert_eq!(stages, expected);
    assert_eq!(
        store::catalog::stages(db, "t2")
            .await
            .expect("stages")
            .len(),
        1
    );
    assert_eq!(
        store::catalog::stage_reached_at(db, "t1", "o1", "lead")
            .await
            .expect("at"),
        Some(400)
    );
    assert_eq!(
        store::catalog::stage_reached_at(db, "t2", "o1", "lead")
            .await
            .expect("at"),
        None
    );
}

/// The facts four events of one opportunity state.
fn events_of(opportunity_id: &str) -> Vec<OpportunityFacts<'_>> {
    let base = OpportunityFacts::about("t1", opportunity_id);
    let created = OpportunityFacts {
        owner_rep_id: "a",
        owner_as_of: 100,
        stage: "lead",
        stage_order: 0,
        stage_as_of: 100,
        amount: 10.0,
        amount_as_of: 100,
        created_at: Some(100),
        ..base.clone()
    };
    let qualified = OpportunityFacts {
        owner_rep_id: "a",
        owner_as_of: 200,
        stage: "qualified",
        stage_order: 1,
        stage_as_of: 200,
        amount: 30.0,
        amount_as_of: 200,
        reached_order: 1,
        ..base.clone()
    };
    let moved = OpportunityFacts {
        owner_rep_id: "b",
        owner_as_of: 300,
        ..base.clone()
    };
    let won = OpportunityFacts {
        owner_rep_id: "b",
        owner_as_of: 400,
        stage: "qualified",
        stage_order: 0,
        stage_as_of: UNKNOWN,
        amount: 50.0,
        amount_as_of: 400,
        status: OpportunityStatus::Won,
        closed_at: Some(400),
        created_at: Some(100),
        ..base
    };
    vec![created, qualified, moved, won]
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, n - 1);
            out.push(q);
        }
    }
    out
}

async fn merging_is_order_independent(db: &Db) {
    let orders = permutations(4);
    assert_eq!(orders.len(), 24);
    let ids: Vec<String> = (0..orders.len()).map(|i| format!("o{i}")).collect();
    let mut tx = db.begin().await.expect("begin");
    for (order, id) in orders.iter().zip(&ids) {
        let facts = events_of(id);
        for &i in order {
            store::opportunities::merge(&mut tx, &facts[i], 1)
                .await
                .expect("merge");
            // Delivered twice: no difference.
            store::opportunities::merge(&mut tx, &facts[i], 1)
                .await
                .expect("merge again");
        }
    }
    tx.commit().await.expect("commit");
    for (order, id) in orders.iter().zip(&ids) {
        let row = store::opportunities::get(db, "t1", id)
            .await
            .expect("get")
            .expect("row");
        let seen = (
            row.owner_rep_id.as_str(),
            row.stage.as_str(),
            row.stage_order,
            row.status,
            row.amount,
            row.max_stage_order_reached,
            row.created_at,
            row.closed_at,
        );
        assert_eq!(
            seen,
            (
                "b",
                "qualified",
                1,
                OpportunityStatus::Won,
                50.0,
                1,
                Some(100),
                Some(400)
            ),
            "events applied in order {order:?}"
        );
    }
    assert!(
        store::opportunities::get(db, "t2", "o0")
            .await
            .expect("get")
            .is_none()
    );
}

async fn funnel_queries(db: &Db) {
    let mut tx = db.begin().await.expect("begin");
    let rows = [
        ("t1", "o1", "a", "lead", 0, OpportunityStatus::Open, 10.0),
        ("t1", "o2", "a", "lead", 0, OpportunityStatus::Open, 20.0),
        (
            "t1",
            "o3",
            "b",
            "proposal",
            2,
            OpportunityStatus::Open,
            40.0,
        ),
        ("t1", "o4", "a", "proposal", 2, OpportunityStatus::Won, 80.0),
        ("t1", "o5", "b", "lead", 0, OpportunityStatus::Lost, 5.0),
        ("t2", "o1", "a", "lead", 0, OpportunityStatus::Open, 1000.0),
    ];
    for (tenant, id, owner, stage, order, status, amount) in rows {
        let facts = OpportunityFacts {
            owner_rep_id: owner,
            owner_as_of: 1,
            stage,
            stage_order: order,
            stage_as_of: 1,
            amount,
            amount_as_of: 1,
            reached_order: order,
            status,
            closed_at: (status != OpportunityStatus::Open).then_some(2),
            ..OpportunityFacts::about(tenant, id)
        };
        store::opportunities::merge(&mut tx, &facts, 1)
            .await
            .expect("merge");
    }
    tx.commit().await.expect("commit");

    let mut reached = store::funnel::reached(db, "t1", None)
        .await
        .expect("reached");
    reached.sort_by_key(|b| b.max_order_reached);
    assert_eq!(
        reached,
        vec![
            ReachedBucket {
                max_order_reached: 0,
                count: 3,
                amount: 35.0
            },
            ReachedBucket {
                max_order_reached: 2,
                count: 2,
                amount: 120.0
            },
        ]
    );
    let mut reached = store::funnel::reached(db, "t1", Some("a"))
        .await
        .expect("reached");
    reached.sort_by_key(|b| b.max_order_reached);
    assert_eq!(
        reached,
        vec![
            ReachedBucket {
                max_order_reached: 0,
                count: 2,
                amount: 30.0
            },
            ReachedBucket {
                max_order_reached: 2,
                count: 1,
                amount: 80.0
            },
        ]
    );

    let mut occupancy = store::funnel::occupancy(db, "t1", None)
        .await
        .expect("occupancy");
    occupancy.sort_by(|x, y| (x.status.as_str(), &x.stage).cmp(&(y.status.as_str(), &y.stage)));
    let sit = |stage: &str, status, count, amount| StageOccupancy {
        stage: stage.to_owned(),
        status,
        count,
        amount,
    };
    assert_eq!(
        occupancy,
        vec![
            sit("lead", OpportunityStatus::Lost, 1, 5.0),
            sit("lead", OpportunityStatus::Open, 2, 30.0),
            sit("proposal", OpportunityStatus::Open, 1, 40.0),
            sit("proposal", OpportunityStatus::Won, 1, 80.0),
        ]
    );
    let occupancy = store::funnel::occupancy(db, "t1", Some("b"))
        .await
        .expect("occupancy");
    assert_eq!(occupancy.iter().map(|o| o.count).sum::<u64>(), 2);
    let t2 = store::funnel::reached(db, "t2", None)
        .await
        .expect("reached");
    assert_eq!(
        t2,
        vec![ReachedBucket {
            max_order_reached: 0,
            count: 1,
            amount: 1000.0
        }]
    );
}
