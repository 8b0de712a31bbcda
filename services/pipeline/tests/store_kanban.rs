//! The kanban listing's store contract, on SQLite and on PostgreSQL: every filter, every
//! sort in both directions with keyset pages that neither repeat nor skip a row, the
//! per-stage totals, and data permissions applied on top of all of them.

use shangji_pipeline::domain::{Activity, ActivityKind, Opportunity, Status};
use shangji_pipeline::store::opportunities::{
    Filter, Listed, Sort, SortField, StageSummary, VisibleTo,
};
use shangji_pipeline::store::org::RepRow;
use shangji_pipeline::store::{MIGRATIONS, activities, opportunities, org, pipelines};
use shangji_platform::Db;
use sqlx::AnyConnection;

const T: &str = "kanban";

#[tokio::test]
async fn kanban_listing_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/pipeline.db?mode=rwc", dir.path().display());
    let db = Db::connect(&url, "pipeline").await.unwrap();
    db.migrate(&MIGRATIONS).await.unwrap();
    run_contract(&db).await;
    db.close().await;
}

#[tokio::test]
async fn kanban_listing_on_postgres() {
    let pg = shangji_testkit::Postgres::start()
        .await
        .expect("PostgreSQL for the kanban contract");
    let url = pg.create_database("pipeline_kanban").await.unwrap();
    let db = Db::connect(&url, "pipeline").await.unwrap();
    db.migrate(&MIGRATIONS).await.unwrap();
    run_contract(&db).await;
    db.close().await;
}

/// (id, owner, stage, amount, expected close, created = stage entered)
type Row = (
    &'static str,
    &'static str,
    &'static str,
    f64,
    Option<i64>,
    i64,
);

const ROWS: [Row; 5] = [
    ("opp_a", "rep_a", "lead", 100.0, Some(10_000), 1_000),
    ("opp_b", "rep_b", "proposal", 300.0, None, 2_000),
    ("opp_c", "rep_a", "lead", 200.0, Some(30_000), 3_000),
    ("opp_d", "rep_c", "proposal", 200.0, Some(20_000), 4_000),
    ("opp_e", "rep_b", "lead", 500.0, Some(10_000), 5_000),
];

async fn seed(db: &Db) {
    let mut tx = db.begin().await.unwrap();
    pipelines::load_or_seed(&mut tx, T, "default")
        .await
        .unwrap();
    for (rep_id, team_id) in [("rep_a", "east"), ("rep_b", "west"), ("rep_c", "east")] {
        let rep = RepRow {
            rep_id,
            name: rep_id,
            team_id,
            role: "rep",
            status: "active",
            version: 1,
        };
        org::upsert_rep(&mut tx, T, &rep).await.unwrap();
    }
    for (id, owner, stage, amount, close, at) in ROWS {
        let opp = Opportunity {
            tenant_id: T.into(),
            opportunity_id: id.into(),
            customer_id: format!("cus_{id}"),
            owner_rep_id: owner.into(),
            pipeline_id: "default".into(),
            stage: stage.into(),
            status: Status::Open,
            amount,
            currency: "CNY".into(),
            name: id.into(),
            lead_id: format!("lead_{id}"),
            source: "web_form".into(),
            region: String::new(),
            industry: String::new(),
            // Deliberately not the owner's team: the team filter follows the org replica.
            team: "stale".into(),
            lost_reason: String::new(),
            next_follow_up_at: None,
            expected_close_at: close,
            pipeline_version: 1,
            fields: Default::default(),
            stage_entered_at: at,
            created_at: at,
            updated_at: at,
            version: 1,
        };
        opportunities::insert(&mut tx, &opp).await.unwrap();
    }
    // An older activity after a newer one must not move last activity back.
    for (id, opp, at) in [
        ("act_1", "opp_a", 9_000),
        ("act_2", "opp_a", 7_000),
        ("act_3", "opp_b", 6_000),
    ] {
        let activity = Activity {
            activity_id: id.into(),
            opportunity_id: opp.into(),
            kind: ActivityKind::Call,
            summary: "called".into(),
            next_step: String::new(),
            next_follow_up_at: None,
            purpose: String::new(),
            customer_questions: String::new(),
            attachments: Vec::new(),
            lead_id: String::new(),
            user_id: "rep_a".into(),
            logged_at: at,
        };
        activities::insert(&mut tx, T, &activity).await.unwrap();
    }
    tx.commit().await.unwrap();
}

fn ids(list: &[Listed]) -> Vec<&str> {
    list.iter()
        .map(|l| l.opportunity.opportunity_id.as_str())
        .collect()
}

/// Every row under `filter` and `sort`, fetched `size` at a time through the cursor.
async fn paged(conn: &mut AnyConnection, filter: &Filter, sort: Sort, size: i64) -> Vec<String> {
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = opportunities::list(conn, T, filter, sort, after.as_ref(), size)
            .await
            .unwrap();
        seen.extend(ids(&page).into_iter().map(str::to_owned));
        match page.last() {
            Some(last) if page.len() as i64 == size => after = Some(last.cursor.clone()),
            _ => return seen,
        }
    }
}

async fn run_contract(db: &Db) {
    seed(db).await;
    let mut conn = db.reader().acquire().await.unwrap();
    let all = Filter::default();

    let sorted = [
        (
            SortField::Created,
            true,
            ["opp_e", "opp_d", "opp_c", "opp_b", "opp_a"],
        ),
        (
            SortField::Amount,
            false,
            ["opp_a", "opp_c", "opp_d", "opp_b", "opp_e"],
        ),
        (
            SortField::Amount,
            true,
            ["opp_e", "opp_b", "opp_d", "opp_c", "opp_a"],
        ),
        // No close date sorts after every date.
        (
            SortField::ExpectedClose,
            false,
            ["opp_a", "opp_e", "opp_d", "opp_c", "opp_b"],
        ),
        (
            SortField::ExpectedClose,
            true,
            ["opp_b", "opp_c", "opp_d", "opp_e", "opp_a"],
        ),
        // No activity sorts before every activity; ties by id.
        (
            SortField::LastActivity,
            true,
            ["opp_a", "opp_b", "opp_e", "opp_d", "opp_c"],
        ),
        (
            SortField::LastActivity,
            false,
            ["opp_c", "opp_d", "opp_e", "opp_b", "opp_a"],
        ),
        (
            SortField::Created,
            false,
            ["opp_a", "opp_b", "opp_c", "opp_d", "opp_e"],
        ),
    ];
    for (field, descending, expected) in sorted {
        let sort = Sort { field, descending };
        let whole = opportunities::list(&mut conn, T, &all, sort, None, 50)
            .await
            .unwrap();
        assert_eq!(ids(&whole), expected, "{sort:?}");
        for size in [1, 2, 3] {
            assert_eq!(
                paged(&mut conn, &all, sort, size).await,
                expected,
                "{sort:?} in pages of {size}"
            );
        }
    }

    let cases: [(&str, Filter, &[&str]); 6] = [
        (
            "owner's team from the org replica",
            Filter {
                team: Some("east".into()),
                ..Filter::default()
            },
            &["opp_d", "opp_c", "opp_a"],
        ),
        (
            "amount range, ends included",
            Filter {
                amount_min: Some(200.0),
                amount_max: Some(300.0),
                ..Filter::default()
            },
            &["opp_d", "opp_c", "opp_b"],
        ),
        (
            "close date range leaves out the undated",
            Filter {
                close_from: Some(10_000),
                close_to: Some(20_000),
                ..Filter::default()
            },
            &["opp_e", "opp_d", "opp_a"],
        ),
        (
            "stalled: no stage change and no activity since 5500",
            Filter {
                stalled_before: Some(5_500),
                ..Filter::default()
            },
            &["opp_e", "opp_d", "opp_c"],
        ),
        (
            "filters combine",
            Filter {
                team: Some("east".into()),
                stage: Some("lead".into()),
                amount_min: Some(150.0),
                ..Filter::default()
            },
            &["opp_c"],
        ),
        (
            "a rep sees only their own, whatever the filter",
            Filter {
                amount_max: Some(300.0),
                visible_to: Some(VisibleTo {
                    rep_id: "rep_a".into(),
                    teams: Vec::new(),
                }),
                ..Filter::default()
            },
            &["opp_c", "opp_a"],
        ),
    ];
    for (what, filter, expected) in cases {
        let listed = opportunities::list(&mut conn, T, &filter, Sort::default(), None, 50)
            .await
            .unwrap();
        assert_eq!(ids(&listed), expected, "{what}");
        let count = opportunities::count(&mut conn, T, &filter).await.unwrap();
        assert_eq!(count, expected.len() as i64, "{what}");
    }

    let columns = opportunities::stage_summary(&mut conn, T, &all)
        .await
        .unwrap();
    assert_eq!(
        columns,
        [
            StageSummary {
                stage: "lead".into(),
                count: 3,
                amount: 800.0
            },
            StageSummary {
                stage: "proposal".into(),
                count: 2,
                amount: 500.0
            },
        ]
    );
    let rep_b_only = Filter {
        visible_to: Some(VisibleTo {
            rep_id: "rep_b".into(),
            teams: Vec::new(),
        }),
        ..Filter::default()
    };
    let columns = opportunities::stage_summary(&mut conn, T, &rep_b_only)
        .await
        .unwrap();
    assert_eq!(
        columns
            .iter()
            .map(|c| (c.stage.as_str(), c.count, c.amount))
            .collect::<Vec<_>>(),
        [("lead", 1, 500.0), ("proposal", 1, 300.0)]
    );
    assert!(
        opportunities::stage_summary(&mut conn, "kanban-other", &all)
            .await
            .unwrap()
            .is_empty()
    );
}
