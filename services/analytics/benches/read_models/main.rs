//! Read-model benchmark: ingest rate of opportunity and lead events into the states and
//! rollups, p50/p99 latency of every report query (each answer checked against what
//! was generated), and the same funnel computed by DuckDB from a flat CSV.
//!
//! The events are driven through the store directly, the way the consumer applies them
//! but without NATS: each opportunity's facts (created, stage moves, close) and its
//! lead's (received, qualified) are generated deterministically and applied with
//! `projection::apply_opportunities` / `apply_leads` in batches of `BENCH_BATCH`
//! opportunities per transaction (the consumer's `bus.batch_size` plays this role
//! live). The stage catalogue is learned first, as the handlers learn it from
//! `opportunity.created` / `stage_changed`. NATS delivery is measured by the platform
//! benchmarks.
//!
//! `cargo bench -p shangji-analytics --bench read_models` with
//! - `BENCH_EVENTS` (default 250000): events to generate (~4.6 per opportunity), or
//!   `BENCH_OPPORTUNITIES` to give the opportunities instead;
//! - `BENCH_BATCH` (default 2000 opportunities per transaction), `BENCH_RUNS` (default
//!   50 runs per query);
//! - `BENCH_DATABASE_URL` (default: SQLite under bench/data).
//!
//! DuckDB runs when bench/.venv has it: `python3 -m venv services/analytics/bench/.venv
//! && services/analytics/bench/.venv/bin/pip install duckdb`.

mod data;
mod duckdb;
mod queries;

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use shangji_analytics::MIGRATIONS;
use shangji_analytics::domain::{LeadFacts, OpportunityFacts, OpportunityState};
use shangji_analytics::store::{catalog, projection};
use shangji_platform::Db;

use data::{Expected, Rng, STAGES, START};

const TENANT: &str = "bench";

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let max_opportunities = env_usize("BENCH_OPPORTUNITIES").unwrap_or(usize::MAX);
    let max_events = match env_usize("BENCH_OPPORTUNITIES") {
        Some(_) => env_usize("BENCH_EVENTS").unwrap_or(usize::MAX),
        None => env_usize("BENCH_EVENTS").unwrap_or(250_000),
    };
    let batch = env_usize("BENCH_BATCH").unwrap_or(2_000).max(1);
    let runs = env_usize("BENCH_RUNS").unwrap_or(50);
    let bench_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench");
    let data_dir = bench_dir.join("data");
    std::fs::create_dir_all(&data_dir)?;
    let url = match std::env::var("BENCH_DATABASE_URL") {
        Ok(url) => url,
        Err(_) => {
            let file = data_dir.join("analytics.db");
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
            format!("sqlite://{}?mode=rwc", file.display())
        }
    };
    let db = Db::connect(&url, "analytics-bench").await?;
    db.migrate(&MIGRATIONS).await?;
    // A PostgreSQL database may hold an earlier run's rows.
    let mut tx = db.begin().await?;
    for table in [
        "opportunity_states",
        "lead_states",
        "rollups",
        "stage_catalog",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE tenant_id = '{TENANT}'"
        )))
        .execute(&mut *tx)
        .await?;
    }
    // The stages' order, as the handlers learn it from the events that state it.
    let mut learned = catalog::Learned::default();
    for (stage, order, _) in STAGES {
        learned.learn(TENANT, stage, order, START);
    }
    learned.write(&mut tx).await?;
    tx.commit().await?;

    let csv_path = data_dir.join("opportunities.csv");
    let mut csv = std::io::BufWriter::new(std::fs::File::create(&csv_path)?);
    writeln!(csv, "opportunity_id,max_order,status,stage,amount_cents")?;

    // Ingest.
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut expected = Expected::default();
    let (mut events, mut applied, mut batches) = (0usize, 0usize, 0usize);
    let started = Instant::now();
    while applied < max_opportunities && events < max_events {
        let mut opportunities: Vec<(String, OpportunityFacts)> = Vec::new();
        let mut leads: Vec<(String, LeadFacts)> = Vec::new();
        let mut in_batch = 0;
        while in_batch < batch && applied < max_opportunities && events < max_events {
            let (o, l) = data::opportunity(&mut rng, applied, &mut expected);
            // The flat file holds the same opportunities' final state.
            let mut state = OpportunityState::new(i64::MAX);
            for one in &o {
                state.merge(one);
            }
            writeln!(
                csv,
                "o{applied},{},{},{},{}",
                state.max_order_reached(),
                state.status().as_str(),
                state.stage.value.stage,
                state.amount_cents.value
            )?;
            events += o.len() + l.len();
            opportunities.extend(o.into_iter().map(|f| (format!("o{applied}"), f)));
            leads.extend(l.into_iter().map(|f| (format!("l{applied}"), f)));
            applied += 1;
            in_batch += 1;
        }
        let o: Vec<(&str, &OpportunityFacts)> = opportunities
            .iter()
            .map(|(id, f)| (id.as_str(), f))
            .collect();
        let l: Vec<(&str, &LeadFacts)> = leads.iter().map(|(id, f)| (id.as_str(), f)).collect();
        let mut tx = db.begin().await?;
        projection::apply_opportunities(&mut tx, TENANT, 0, &o).await?;
        projection::apply_leads(&mut tx, TENANT, 0, &l).await?;
        tx.commit().await?;
        batches += 1;
        if batches % 50 == 0 {
            eprintln!(
                "  {applied} opportunities, {events} events, {:.0} events/s",
                events as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    csv.flush()?;
    let ingest = started.elapsed();
    println!(
        "ingest: {applied} opportunities + {} leads, {events} events in {:.1} s: {:.0} events/s (batches of {batch} opportunities, {:?})",
        expected.leads,
        ingest.as_secs_f64(),
        events as f64 / ingest.as_secs_f64(),
        db.backend()
    );

    let timings = queries::run(&db, TENANT, runs, &expected).await?;
    for t in &timings {
        println!(
            "query {:<18} p50 {:>8.2} ms  p99 {:>8.2} ms  ({runs} runs, answer checked)",
            t.name,
            t.p50.as_secs_f64() * 1000.0,
            t.p99.as_secs_f64() * 1000.0
        );
    }
    duckdb::compare(&bench_dir, &csv_path, timings[0].p50.as_secs_f64() * 1000.0)?;
    db.close().await;
    Ok(())
}
