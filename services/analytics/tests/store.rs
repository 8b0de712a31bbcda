//! The store contract, on SQLite and on PostgreSQL: the same SQL must behave the same.

use shangji_analytics::MIGRATIONS;
use shangji_analytics::domain::contribution::{ALL_TEAMS, dim, metric};
use shangji_analytics::domain::{
    Closing, LeadFacts, OpportunityFacts, Origin, Role, Scope, StagePosition, Touch,
};
use shangji_analytics::store::rollups::{self, Group, RollupQuery, RollupRow};
use shangji_analytics::store::{catalog, generations, org, projection};
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
    catalog_learns_the_newest_order(&server.database("catalog").await).await;
    rollups_do_not_depend_on_event_order(&server.database("order").await).await;
    grouped_sums_respect_scope_and_months(&server.database("sums").await).await;
    generations_open_swap_and_abandon(&server.database("generations").await).await;
    org_replica_keeps_the_highest_version(&server.database("org").await).await;
}

async fn order(
    learned: &catalog::Learned,
    tx: &mut shangji_platform::Tx,
    stage: &str,
) -> Option<u32> {
    learned.order_of(tx, "t1", stage).await.expect("order")
}

async fn catalog_learns_the_newest_order(db: &Db) {
    let mut tx = db.begin().await.expect("begin");
    let mut learned = catalog::Learned::default();
    learned.learn("t1", "qualified", 1, 100);
    learned.learn("t1", "lead", 0, 100);
    learned.learn("t1", "proposal", 3, 200);
    // An older statement loses, a newer one wins (the pipeline was reordered).
    learned.learn("t1", "proposal", 9, 150);
    learned.learn("t1", "qualified", 2, 300);
    learned.learn("t2", "lead", 5, 100);
    // What the batch learned counts before it is written.
    assert_eq!(order(&learned, &mut tx, "proposal").await, Some(3));
    assert_eq!(order(&learned, &mut tx, "won").await, None);
    learned.write(&mut tx).await.expect("write");
    tx.commit().await.expect("commit");

    // A later batch: a stored statement newer than the batch's wins, in the batch's
    // reads and when it is written; an older one is replaced.
    let mut tx = db.begin().await.expect("begin");
    let mut learned = catalog::Learned::default();
    learned.learn("t1", "proposal", 7, 180);
    learned.learn("t1", "lead", 0, 400);
    assert_eq!(order(&learned, &mut tx, "proposal").await, Some(3));
    assert_eq!(order(&learned, &mut tx, "lead").await, Some(0));
    learned.write(&mut tx).await.expect("write");
    tx.commit().await.expect("commit");
    let stages: Vec<(String, u32)> = catalog::stages(db, "t1")
        .await
        .expect("stages")
        .into_iter()
        .map(|c| (c.stage, c.order))
        .collect();
    assert_eq!(
        stages,
        vec![
            ("lead".to_owned(), 0),
            ("qualified".to_owned(), 2),
            ("proposal".to_owned(), 3)
        ]
    );
    assert_eq!(catalog::stages(db, "t2").await.expect("stages").len(), 1);
}

const DAY: i64 = 86_400_000;
/// 2026-10-01T00:00:00Z
const OCT_1: i64 = 1_790_812_800_000;

fn pos(stage: &str, order: u32) -> Option<StagePosition> {
    Some(StagePosition {
        stage: stage.to_owned(),
        order,
    })
}

/// The facts the events of three opportunities state: o1 created, moved on and won;
/// o2 created and lost; o3 created, followed up and reminded.
fn journey() -> Vec<(&'static str, OpportunityFacts)> {
    let created = |at: i64, owner: &str, source: &str, amount: f64| OpportunityFacts {
        at,
        customer_id: Some(format!("c-{owner}-{at}")),
        owner: Some(owner.to_owned()),
        team: Some("east".to_owned()),
        stage: pos("lead", 0),
        visited: vec![("lead".to_owned(), Some(0))],
        probability: Some(0.1),
        amount: Some(amount),
        expected_close_at: Some(Some(OCT_1 + 40 * DAY)),
        origin: Some(Origin {
            source: source.to_owned(),
            industry: "制造".to_owned(),
            region: "华东".to_owned(),
        }),
        created_at: Some(at),
        ..Default::default()
    };
    vec![
        ("o1", created(OCT_1, "a", "web", 100.0)),
        (
            "o1",
            OpportunityFacts {
                at: OCT_1 + 3 * DAY,
                owner: Some("a".to_owned()),
                stage: pos("proposal", 2),
                visited: vec![
                    ("lead".to_owned(), Some(0)),
                    ("proposal".to_owned(), Some(2)),
                ],
                probability: Some(0.6),
                amount: Some(300.0),
                ..Default::default()
            },
        ),
        (
            "o1",
            OpportunityFacts {
                at: OCT_1 + 10 * DAY,
                owner: Some("a".to_owned()),
                stage: pos("proposal", 0),
                stage_is_implied: true,
                visited: vec![("proposal".to_owned(), Some(2))],
                amount: Some(500.0),
                closing: Some(Closing {
                    at: OCT_1 + 10 * DAY,
                    won: true,
                    reason: String::new(),
                }),
                ..Default::default()
            },
        ),
        ("o2", created(OCT_1 + DAY, "b", "fair", 50.0)),
        (
            "o2",
            OpportunityFacts {
                at: OCT_1 + 5 * DAY,
                owner: Some("b".to_owned()),
                closing: Some(Closing {
                    at: OCT_1 + 5 * DAY,
                    won: false,
                    reason: "price".to_owned(),
                }),
                ..Default::default()
            },
        ),
        ("o3", created(OCT_1 + 35 * DAY, "a", "web", 70.0)),
        (
            "o3",
            OpportunityFacts {
                at: OCT_1 + 36 * DAY,
                activity: Some((
                    "act-1".to_owned(),
                    Touch {
                        kind: "call".to_owned(),
                        at: OCT_1 + 36 * DAY,
                        rep_id: "a".to_owned(),
                    },
                )),
                ..Default::default()
            },
        ),
        (
            "o3",
            OpportunityFacts {
                at: OCT_1 + 38 * DAY,
                reminder: Some((
                    "r1/due".to_owned(),
                    Touch {
                        kind: "due".to_owned(),
                        at: OCT_1 + 38 * DAY,
                        rep_id: "a".to_owned(),
                    },
                )),
                ..Default::default()
            },
        ),
    ]
}

type Row = (
    String,
    String,
    String,
    String,
    i64,
    String,
    i64,
    String,
    i64,
    i64,
);

async fn rows(db: &Db, generation: i64) -> Vec<Row> {
    let mut rows = rollups::all_rows(db, "t1", generation).await.expect("rows");
    rows.sort();
    rows
}

async fn rollups_do_not_depend_on_event_order(db: &Db) {
    let facts = journey();
    // Generation 0: one event per transaction, in order. Generation 1: all at once,
    // backwards and each twice. Generation 2: backwards, one by one.
    let mut tx = db.begin().await.expect("begin");
    for (id, f) in &facts {
        projection::apply_opportunities(&mut tx, "t1", 0, &[(id, f)])
            .await
            .expect("apply");
    }
    let backwards: Vec<(&str, &OpportunityFacts)> = facts
        .iter()
        .rev()
        .flat_map(|(id, f)| [(*id, f), (*id, f)])
        .collect();
    projection::apply_opportunities(&mut tx, "t1", 1, &backwards)
        .await
        .expect("apply batch");
    for (id, f) in facts.iter().rev() {
        projection::apply_opportunities(&mut tx, "t1", 2, &[(id, f)])
            .await
            .expect("apply");
        projection::apply_opportunities(&mut tx, "t1", 2, &[(id, f)])
            .await
            .expect("apply again");
    }
    // Leads: received after qualified in one generation.
    let received = LeadFacts {
        at: OCT_1,
        received_source: Some("web".to_owned()),
        received_at: Some(OCT_1),
        ..Default::default()
    };
    let qualified = LeadFacts {
        at: OCT_1 + 1,
        source: Some("web".to_owned()),
        qualified: true,
        ..Default::default()
    };
    for (generation, order) in [(0, [&received, &qualified]), (1, [&qualified, &received])] {
        for f in order {
            projection::apply_lead(&mut tx, "t1", generation, "l1", f)
                .await
                .expect("lead");
        }
    }
    projection::apply_lead(&mut tx, "t1", 2, "l1", &received)
        .await
        .expect("lead");
    projection::apply_lead(&mut tx, "t1", 2, "l1", &qualified)
        .await
        .expect("lead");
    tx.commit().await.expect("commit");

    let reference = rows(db, 0).await;
    assert!(reference.len() > 40, "{} rows", reference.len());
    assert_eq!(rows(db, 1).await, reference);
    assert_eq!(rows(db, 2).await, reference);
    // Every opportunity counts once in the funnel of every dimension, in its team's
    // rows and again in the all-teams totals (which the rep dimension does not have).
    let funnel = |d: &str, totals: bool| -> i64 {
        reference
            .iter()
            .filter(|r| r.0 == metric::FUNNEL && r.1 == d && (r.3 == ALL_TEAMS) == totals)
            .map(|r| r.8)
            .sum()
    };
    for d in [dim::ALL, dim::SOURCE, dim::INDUSTRY, dim::REGION, dim::REP] {
        assert_eq!(funnel(d, false), 3, "dimension {d}");
        let totals = if d == dim::REP { 0 } else { 3 };
        assert_eq!(funnel(d, true), totals, "dimension {d}, all teams");
    }
    // Amounts are exact cents: o1 won at 500, o2 lost at 50.
    let outcome: Vec<(&str, i64, i64)> = reference
        .iter()
        .filter(|r| r.0 == metric::OUTCOME && r.1 == dim::ALL && r.3 != ALL_TEAMS)
        .map(|r| (r.5.as_str(), r.8, r.9))
        .collect();
    assert_eq!(outcome, vec![("lost", 1, 5_000), ("won", 1, 50_000)]);
}

fn q<'a>(
    metric: &'static str,
    dim: &'static str,
    scope: &'a Scope,
    group: Group,
) -> RollupQuery<'a> {
    RollupQuery {
        metric,
        dim,
        scope,
        from_period: None,
        to_period: None,
        group,
    }
}

fn total(rows: &[RollupRow]) -> i64 {
    rows.iter().map(|r| r.count).sum()
}

async fn grouped_sums_respect_scope_and_months(db: &Db) {
    let mut tx = db.begin().await.expect("begin");
    let facts = journey();
    let all: Vec<(&str, &OpportunityFacts)> = facts.iter().map(|(id, f)| (*id, f)).collect();
    projection::apply_opportunities(&mut tx, "t1", 0, &all)
        .await
        .expect("apply");
    // Another tenant and another generation must never show up.
    projection::apply_opportunities(&mut tx, "t2", 0, &all)
        .await
        .expect("apply");
    projection::apply_opportunities(&mut tx, "t1", 7, &all)
        .await
        .expect("apply");
    tx.commit().await.expect("commit");

    let tenant = Scope::tenant();
    let by_source = rollups::sum(
        db,
        "t1",
        &q(metric::FUNNEL, dim::SOURCE, &tenant, Group::DimValue),
    )
    .await
    .expect("sum");
    let mut per_source: Vec<(String, i64)> = Vec::new();
    for r in &by_source {
        match per_source.iter_mut().find(|(s, _)| *s == r.group) {
            Some(e) => e.1 += r.count,
            None => per_source.push((r.group.clone(), r.count)),
        }
    }
    per_source.sort();
    assert_eq!(
        per_source,
        vec![("fair".to_owned(), 1), ("web".to_owned(), 2)]
    );

    // One rep: the rep dimension, whatever dimension was asked.
    let rep_a = Scope::rep("a");
    let a = rollups::sum(
        db,
        "t1",
        &q(metric::FUNNEL, dim::ALL, &rep_a, Group::Nothing),
    )
    .await
    .expect("sum");
    assert_eq!(total(&a), 2);
    // Teams: east has everything, west nothing, an empty list nothing.
    let east = Scope::teams(vec!["east".to_owned()]);
    let west = Scope::teams(vec!["west".to_owned()]);
    let none = Scope::teams(vec![]);
    for (scope, expected) in [(&east, 3), (&west, 0), (&none, 0)] {
        let rows = rollups::sum(db, "t1", &q(metric::FUNNEL, dim::ALL, scope, Group::Team))
            .await
            .expect("sum");
        assert_eq!(total(&rows), expected, "{scope:?}");
    }
    // A rep within a manager's teams.
    let b_in_east = Scope {
        rep: Some("b".to_owned()),
        teams: Some(vec!["east".to_owned()]),
    };
    let b = rollups::sum(
        db,
        "t1",
        &q(metric::FUNNEL, dim::ALL, &b_in_east, Group::Nothing),
    )
    .await
    .expect("sum");
    assert_eq!(total(&b), 1);

    // Cohort months: o1 and o2 opened in October, o3 in November.
    let mut months = q(metric::FUNNEL, dim::ALL, &tenant, Group::Period);
    let rows = rollups::sum(db, "t1", &months).await.expect("sum");
    let mut per_month: Vec<(String, i64)> =
        rows.iter().map(|r| (r.group.clone(), r.count)).collect();
    per_month.sort();
    assert_eq!(
        per_month,
        vec![
            ("202610".to_owned(), 1),
            ("202610".to_owned(), 1),
            ("202611".to_owned(), 1)
        ]
    );
    months.from_period = Some(202_611);
    assert_eq!(
        total(&rollups::sum(db, "t1", &months).await.expect("sum")),
        1
    );
    months.from_period = None;
    months.to_period = Some(202_610);
    assert_eq!(
        total(&rollups::sum(db, "t1", &months).await.expect("sum")),
        2
    );

    // Time travel: dated deltas summed up to a day.
    let mut as_of = q(metric::FUNNEL_DAY, dim::ALL, &tenant, Group::Nothing);
    as_of.to_period = Some(20_261_002);
    let early = rollups::sum(db, "t1", &as_of).await.expect("sum");
    let reached: Vec<(i64, i64)> = early
        .iter()
        .filter(|r| r.k1 == "reached" && r.count != 0)
        .map(|r| (r.k2, r.count))
        .collect();
    assert_eq!(reached, vec![(0, 2)], "o1 and o2 in lead on Oct 2");
    as_of.to_period = Some(20_261_031);
    let later = rollups::sum(db, "t1", &as_of).await.expect("sum");
    let mut reached: Vec<(String, i64, i64)> = later
        .iter()
        .filter(|r| r.count != 0)
        .map(|r| (r.k1.clone(), r.k2, r.count))
        .collect();
    reached.sort();
    assert_eq!(
        reached,
        vec![
            ("lost".to_owned(), 0, 1),
            ("reached".to_owned(), 0, 1),
            ("reached".to_owned(), 2, 1),
            ("won".to_owned(), 0, 1)
        ]
    );
}

async fn generations_open_swap_and_abandon(db: &Db) {
    let mut tx = db.begin().await.expect("begin");
    let t = generations::targets(&mut tx, "t1").await.expect("targets");
    assert_eq!((t.live, t.building), (0, None));
    let first = generations::begin_rebuild(&mut tx, "t1", 1)
        .await
        .expect("open");
    assert_eq!(first, Some(1));
    assert_eq!(
        generations::begin_rebuild(&mut tx, "t1", 2)
            .await
            .expect("again"),
        None,
        "one rebuild at a time"
    );
    let t = generations::targets(&mut tx, "t1").await.expect("targets");
    assert_eq!((t.live, t.building), (0, Some(1)));
    assert!(
        generations::first_application(&mut tx, "t1", 1, "e1")
            .await
            .expect("first")
    );
    assert!(
        !generations::first_application(&mut tx, "t1", 1, "e1")
            .await
            .expect("again")
    );
    // Rows of the old live generation go when the new one is swapped in.
    let facts = journey();
    let (id, f) = &facts[0];
    projection::apply_opportunities(&mut tx, "t1", 0, &[(id, f)])
        .await
        .expect("apply");
    projection::apply_opportunities(&mut tx, "t1", 1, &[(id, f)])
        .await
        .expect("apply");
    assert!(
        generations::swap_in(&mut tx, "t1", 1, 5)
            .await
            .expect("swap")
    );
    assert!(
        !generations::swap_in(&mut tx, "t1", 1, 6)
            .await
            .expect("swap twice")
    );
    tx.commit().await.expect("commit");
    assert!(rows(db, 0).await.is_empty());
    assert!(!rows(db, 1).await.is_empty());
    let status = generations::status(db, "t1").await.expect("status");
    assert_eq!(
        (status.live, status.building, status.last_rebuilt_at),
        (1, None, Some(5))
    );
    // Reads follow the live generation.
    let tenant = Scope::tenant();
    let live = rollups::sum(
        db,
        "t1",
        &q(metric::FUNNEL, dim::ALL, &tenant, Group::Nothing),
    )
    .await
    .expect("sum");
    assert_eq!(total(&live), 1);

    // An abandoned rebuild leaves the live generation alone.
    let mut tx = db.begin().await.expect("begin");
    let second = generations::begin_rebuild(&mut tx, "t1", 7)
        .await
        .expect("open");
    assert_eq!(second, Some(2));
    projection::apply_opportunities(&mut tx, "t1", 2, &[(id, f)])
        .await
        .expect("apply");
    generations::abandon(&mut tx, "t1", 2)
        .await
        .expect("abandon");
    let t = generations::targets(&mut tx, "t1").await.expect("targets");
    assert_eq!((t.live, t.building), (1, None));
    tx.commit().await.expect("commit");
    assert!(rows(db, 2).await.is_empty());
    assert!(!rows(db, 1).await.is_empty());
}

async fn org_replica_keeps_the_highest_version(db: &Db) {
    let mut tx = db.begin().await.expect("begin");
    let team = |id: &'static str, ancestors: &'static [String], version| org::TeamRecord {
        team_id: id,
        parent_team_id: "",
        manager_rep_id: "",
        ancestor_team_ids: ancestors,
        version,
    };
    let root: &'static [String] = Box::leak(Box::new(["sales".to_owned()]));
    let deep: &'static [String] = Box::leak(Box::new(["sales".to_owned(), "east".to_owned()]));
    org::upsert_team(&mut tx, "t1", &team("sales", &[], 1))
        .await
        .expect("team");
    org::upsert_team(&mut tx, "t1", &team("east", root, 1))
        .await
        .expect("team");
    org::upsert_team(&mut tx, "t1", &team("east-1", deep, 1))
        .await
        .expect("team");
    org::upsert_team(&mut tx, "t1", &team("west", root, 1))
        .await
        .expect("team");
    let rep = |role: &'static str, status: &'static str, version| org::RepRecord {
        rep_id: "zhang",
        team_id: "east",
        role,
        status,
        version,
    };
    org::upsert_rep(&mut tx, "t1", &rep("manager", "active", 2))
        .await
        .expect("rep");
    // An older version arriving late changes nothing.
    org::upsert_rep(&mut tx, "t1", &rep("rep", "active", 1))
        .await
        .expect("rep");
    tx.commit().await.expect("commit");

    let caller = org::caller(db, "t1", "zhang")
        .await
        .expect("caller")
        .expect("known");
    assert_eq!(
        (caller.role, caller.team_id.as_str()),
        (Role::Manager, "east")
    );
    assert_eq!(org::caller(db, "t2", "zhang").await.expect("caller"), None);
    assert_eq!(
        org::subtree(db, "t1", "east").await.expect("subtree"),
        vec!["east".to_owned(), "east-1".to_owned()]
    );
    assert_eq!(
        org::subtree(db, "t1", "sales")
            .await
            .expect("subtree")
            .len(),
        4
    );
    assert_eq!(
        org::subtree(db, "t1", "unknown").await.expect("subtree"),
        vec!["unknown".to_owned()]
    );

    let mut tx = db.begin().await.expect("begin");
    org::upsert_rep(&mut tx, "t1", &rep("manager", "departed", 3))
        .await
        .expect("rep");
    tx.commit().await.expect("commit");
    assert_eq!(org::caller(db, "t1", "zhang").await.expect("caller"), None);
}
