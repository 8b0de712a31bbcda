//! How fast the kanban read is with a realistic board: 20 000 opportunities in one tenant
//! (plus another tenant's), on SQLite and, when PostgreSQL is installed, on PostgreSQL.
//! For each sort it times the first page (50), a page halfway down the list through the
//! keyset cursor, the total count, and the per-stage column totals, with and without a
//! rep's data permissions. Prints medians; asserts nothing about time.
//!
//! `cargo bench -p shangji-pipeline --bench kanban_listing`

use std::time::{Duration, Instant};

use shangji_pipeline::domain::{Activity, ActivityKind, Opportunity, Status};
use shangji_pipeline::store::opportunities::{Cursor, Filter, Sort, SortField, VisibleTo};
use shangji_pipeline::store::{MIGRATIONS, activities, opportunities, pipelines};
use shangji_platform::Db;

const TENANT: &str = "bench";
const ROWS: usize = 20_000;
const RUNS: usize = 15;
const STAGES: [&str; 5] = ["lead", "qualified", "proposal", "negotiation", "contract"];

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/pipeline.db?mode=rwc", dir.path().display());
    run("sqlite", &url).await;
    if shangji_testkit::postgres_available() {
        let pg = shangji_testkit::Postgres::start()
            .await
            .expect("PostgreSQL");
        let url = pg
            .create_database("pipeline_bench")
            .await
            .expect("database");
        run("postgres", &url).await;
    } else {
        println!("postgres: not installed, skipped");
    }
}

async fn run(backend: &str, url: &str) {
    let db = Db::connect(url, "pipeline").await.expect("connect");
    db.migrate(&MIGRATIONS).await.expect("migrate");
    let started = Instant::now();
    seed(&db, TENANT, ROWS).await;
    seed(&db, "other", ROWS / 4).await;
    println!(
        "{backend}: seeded {} opportunities in {:.1} s",
        ROWS + ROWS / 4,
        started.elapsed().as_secs_f64()
    );
    let everyone = Filter::default();
    let one_rep = Filter {
        visible_to: Some(VisibleTo {
            rep_id: "rep_7".into(),
            teams: Vec::new(),
        }),
        amount_min: Some(10_000.0),
        ..Filter::default()
    };
    for (who, filter) in [("admin", &everyone), ("rep+amount", &one_rep)] {
        for field in SortField::ALL {
            let sort = Sort {
                field,
                descending: true,
            };
            let first = median(|| async {
                let mut conn = db.reader().acquire().await.unwrap();
                opportunities::list(&mut conn, TENANT, filter, sort, None, 51)
                    .await
                    .unwrap();
            })
            .await;
            let depth = rows_matching(&db, filter).await / 2;
            let deep_cursor = cursor_at(&db, filter, sort, depth).await;
            let deep = median(|| async {
                let mut conn = db.reader().acquire().await.unwrap();
                opportunities::list(&mut conn, TENANT, filter, sort, deep_cursor.as_ref(), 51)
                    .await
                    .unwrap();
            })
            .await;
            println!(
                "{backend} {who:>10} sort {:<14} first page {:>7.2} ms, page at row {depth:>5} {:>7.2} ms",
                field.as_str(),
                ms(first),
                ms(deep)
            );
        }
        let count = median(|| async {
            let mut conn = db.reader().acquire().await.unwrap();
            opportunities::count(&mut conn, TENANT, filter)
                .await
                .unwrap();
        })
        .await;
        let summary = median(|| async {
            let mut conn = db.reader().acquire().await.unwrap();
            opportunities::stage_summary(&mut conn, TENANT, filter)
                .await
                .unwrap();
        })
        .await;
        println!(
            "{backend} {who:>10} total count {:>7.2} ms, stage summary {:>7.2} ms",
            ms(count),
            ms(summary)
        );
    }
    db.close().await;
}

async fn rows_matching(db: &Db, filter: &Filter) -> i64 {
    let mut conn = db.reader().acquire().await.unwrap();
    opportunities::count(&mut conn, TENANT, filter)
        .await
        .unwrap()
}

/// The cursor after `depth` rows (None when the list is shorter).
async fn cursor_at(db: &Db, filter: &Filter, sort: Sort, depth: i64) -> Option<Cursor> {
    let mut conn = db.reader().acquire().await.unwrap();
    let rows = opportunities::list(&mut conn, TENANT, filter, sort, None, depth)
        .await
        .unwrap();
    rows.last().map(|l| l.cursor.clone())
}

async fn median<F, Fut>(mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let at = Instant::now();
        f().await;
        times.push(at.elapsed());
    }
    times.sort();
    times[RUNS / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn seed(db: &Db, tenant: &str, rows: usize) {
    let mut tx = db.begin().await.unwrap();
    pipelines::load_or_seed(&mut tx, tenant, "default")
        .await
        .unwrap();
    for n in 0..rows {
        let at = 1_700_000_000_000 + (n as i64) * 60_000;
        let id = format!("opp_{n:06}");
        let opp = Opportunity {
            tenant_id: tenant.into(),
            opportunity_id: id.clone(),
            customer_id: format!("cus_{n}"),
            owner_rep_id: format!("rep_{}", n % 40),
            pipeline_id: "default".into(),
            stage: STAGES[n % STAGES.len()].into(),
            status: Status::Open,
            amount: ((n * 7919) % 500_000) as f64,
            currency: "CNY".into(),
            name: id.clone(),
            lead_id: format!("lead_{n}"),
            source: "web_form".into(),
            region: String::new(),
            industry: String::new(),
            team: format!("team_{}", n % 6),
            lost_reason: String::new(),
            next_follow_up_at: None,
            expected_close_at: (n % 3 != 0)
                .then_some(at + ((n * 104_729) % 90) as i64 * 86_400_000),
            pipeline_version: 1,
            fields: Default::default(),
            stage_entered_at: at,
            created_at: at,
            updated_at: at,
            version: 1,
        };
        opportunities::insert(&mut tx, &opp).await.unwrap();
        if n % 2 == 0 {
            let activity = Activity {
                activity_id: format!("act_{n:06}"),
                opportunity_id: id,
                kind: ActivityKind::Call,
                summary: "called".into(),
                next_step: String::new(),
                next_follow_up_at: None,
                purpose: String::new(),
                customer_questions: String::new(),
                attachments: Vec::new(),
                lead_id: String::new(),
                user_id: "rep".into(),
                logged_at: at + ((n * 31) % 1000) as i64 * 60_000,
            };
            activities::insert(&mut tx, tenant, &activity)
                .await
                .unwrap();
        }
    }
    tx.commit().await.unwrap();
}
