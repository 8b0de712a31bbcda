//! Read-model benchmark: ingest rate of opportunity events into the states and rollups,
//! latency of the funnel and forecast queries, and the same funnel computed by DuckDB
//! from a flat CSV of the same opportunities.
//!
//! The events are driven through the store directly, the way the consumer applies them
//! but without NATS: each opportunity's facts (created, stage moves, close) are generated
//! deterministically and applied with `projection::apply_opportunities` in batches of
//! `BENCH_BATCH` opportunities per transaction (the consumer's `bus.batch_size` plays
//! this role live). NATS delivery is measured by the platform benchmarks.
//!
//! `cargo bench -p shangji-analytics --bench read_models` with BENCH_OPPORTUNITIES
//! (default 200000) and BENCH_DATABASE_URL (default: SQLite under bench/data).
//! DuckDB runs when bench/.venv has it: `python3 -m venv services/analytics/bench/.venv
//! && services/analytics/bench/.venv/bin/pip install duckdb`.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use shangji_analytics::MIGRATIONS;
use shangji_analytics::api::query::ReportQuery;
use shangji_analytics::api::reports;
use shangji_analytics::domain::{
    CategoryThresholds, Closing, OpportunityFacts, OpportunityState, Origin, Scope, StagePosition,
};
use shangji_analytics::store::projection;
use shangji_contracts::analytics::SliceBy;
use shangji_platform::Db;

const TENANT: &str = "bench";
const DAY: i64 = 86_400_000;
/// 2025-01-01T00:00:00Z: opportunities open over the following two years.
const START: i64 = 1_735_689_600_000;
const STAGES: [(&str, u32, f64); 4] = [
    ("lead", 0, 0.1),
    ("qualified", 1, 0.3),
    ("proposal", 2, 0.6),
    ("negotiation", 3, 0.8),
];

/// A small deterministic generator (xorshift), so every run sees the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The facts of one opportunity's events: created, moves up the stages, maybe a close.
fn opportunity(rng: &mut Rng, i: usize) -> Vec<OpportunityFacts> {
    let rep = rng.below(200);
    let team = format!("team-{}", rep % 20);
    let created = START + rng.below(730) as i64 * DAY;
    let amount = (1_000 + rng.below(500_000)) as f64;
    let mut facts = vec![OpportunityFacts {
        at: created,
        customer_id: Some(format!("c{i}")),
        owner: Some(format!("rep-{rep}")),
        team: Some(team),
        stage: Some(StagePosition {
            stage: "lead".into(),
            order: 0,
        }),
        visited: vec![("lead".into(), Some(0))],
        probability: Some(0.1),
        amount: Some(amount),
        currency: Some("CNY".into()),
        expected_close_at: Some(Some(created + (30 + rng.below(120) as i64) * DAY)),
        origin: Some(Origin {
            source: format!("source-{}", rng.below(8)),
            industry: format!("industry-{}", rng.below(6)),
            region: format!("region-{}", rng.below(7)),
        }),
        created_at: Some(created),
        ..Default::default()
    }];
    let furthest = rng.below(4) as usize;
    let mut at = created;
    for (s, order, p) in STAGES.iter().take(furthest + 1).skip(1) {
        at += (1 + rng.below(20) as i64) * DAY;
        facts.push(OpportunityFacts {
            at,
            stage: Some(StagePosition {
                stage: (*s).into(),
                order: *order,
            }),
            visited: vec![((*s).into(), Some(*order))],
            probability: Some(*p),
            ..Default::default()
        });
    }
    let outcome = rng.below(10);
    if outcome < 6 {
        at += (1 + rng.below(30) as i64) * DAY;
        facts.push(OpportunityFacts {
            at,
            closing: Some(Closing {
                at,
                won: outcome < 3,
                reason: if outcome < 3 {
                    String::new()
                } else {
                    ["price", "timing", "competitor"][rng.below(3) as usize].into()
                },
            }),
            ..Default::default()
        });
    }
    facts
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let n = env_usize("BENCH_OPPORTUNITIES", 200_000);
    let batch = env_usize("BENCH_BATCH", 2_000);
    let bench_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench");
    let data = bench_dir.join("data");
    std::fs::create_dir_all(&data)?;
    let url = match std::env::var("BENCH_DATABASE_URL") {
        Ok(url) => url,
        Err(_) => {
            let file = data.join("analytics.db");
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
            format!("sqlite://{}?mode=rwc", file.display())
        }
    };
    let db = Db::connect(&url, "analytics-bench").await?;
    db.migrate(&MIGRATIONS).await?;
    let csv_path = data.join("opportunities.csv");
    let mut csv = std::io::BufWriter::new(std::fs::File::create(&csv_path)?);
    writeln!(csv, "opportunity_id,max_order,status,stage,amount_cents")?;

    // Ingest.
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let (mut events, mut applied) = (0usize, 0usize);
    let started = Instant::now();
    while applied < n {
        let count = batch.min(n - applied);
        let ids: Vec<String> = (applied..applied + count)
            .map(|i| format!("o{i}"))
            .collect();
        let mut facts = Vec::with_capacity(count * 4);
        for (k, id) in ids.iter().enumerate() {
            let f = opportunity(&mut rng, applied + k);
            // The flat file holds the same opportunities' final state.
            let mut state = OpportunityState::new(i64::MAX);
            for one in &f {
                state.merge(one);
            }
            writeln!(
                csv,
                "{id},{},{},{},{}",
                state.max_order_reached(),
                state.status().as_str(),
                state.stage.value.stage,
                state.amount_cents.value
            )?;
            facts.extend(f.into_iter().map(|one| (id.as_str(), one)));
        }
        events += facts.len();
        let changes: Vec<(&str, &OpportunityFacts)> =
            facts.iter().map(|(id, f)| (*id, f)).collect();
        let mut tx = db.begin().await?;
        projection::apply_opportunities(&mut tx, TENANT, 0, &changes).await?;
        tx.commit().await?;
        applied += count;
        if applied % (batch * 50) == 0 {
            eprintln!(
                "  {applied} opportunities, {:.0} events/s",
                events as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    csv.flush()?;
    let ingest = started.elapsed();
    println!(
        "ingest: {n} opportunities, {events} events in {:.1} s: {:.0} events/s, {:.0} opportunities/s (batches of {batch})",
        ingest.as_secs_f64(),
        events as f64 / ingest.as_secs_f64(),
        n as f64 / ingest.as_secs_f64()
    );

    // Queries, as the RPCs run them (permissions resolved: an admin's tenant scope).
    let q = |slice| ReportQuery {
        scope: Scope::tenant(),
        from_month: None,
        to_month: None,
        slice,
    };
    let thresholds = CategoryThresholds {
        commit_permille: 700,
        best_case_permille: 400,
    };
    let mut report = Vec::new();
    for (name, slice) in [
        ("funnel", SliceBy::None),
        ("funnel by source", SliceBy::Source),
        ("funnel by team", SliceBy::Team),
        ("funnel by month", SliceBy::Period),
    ] {
        let query = q(slice);
        let mut times = Vec::new();
        for _ in 0..20 {
            let t = Instant::now();
            let f = reports::funnel(&db, TENANT, &query).await?;
            times.push(t.elapsed());
            assert_eq!(
                f.stages[0].count as usize, n,
                "every opportunity reached lead"
            );
        }
        report.push((name, median(times)));
    }
    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        reports::forecast(&db, TENANT, &q(SliceBy::None), thresholds).await?;
        times.push(t.elapsed());
    }
    report.push(("forecast", median(times)));
    for (name, t) in &report {
        println!("query {name}: median {:.2} ms", t.as_secs_f64() * 1000.0);
    }
    let funnel_ms = report[0].1.as_secs_f64() * 1000.0;

    // DuckDB on the flat file.
    let python = bench_dir.join(".venv/bin/python");
    if python.exists() {
        let out = std::process::Command::new(&python)
            .arg(bench_dir.join("duckdb_funnel.py"))
            .arg(&csv_path)
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        println!("duckdb: {}", text.trim());
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(text.trim()) {
            let in_memory = v["funnel_in_memory_ms"].as_f64().unwrap_or(f64::NAN);
            let from_file = v["funnel_from_file_ms"].as_f64().unwrap_or(f64::NAN);
            println!(
                "ratio (duckdb / ours): {:.1}x against DuckDB's in-memory table, {:.1}x against DuckDB reading the file",
                in_memory / funnel_ms,
                from_file / funnel_ms
            );
        } else {
            println!("duckdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
    } else {
        println!(
            "duckdb: skipped ({} missing; see the header of this file)",
            python.display()
        );
    }
    db.close().await;
    Ok(())
}
