//! What a statement's round trip to SQLite's connection thread costs: 20,000 pairs of
//! one-row inserts in one transaction, sent one statement at a time and then each pair
//! together ([`Together`]). Prints wall and CPU time per pair.
//!
//! `cargo run --release -p shangji-platform --example round_trips`
//! (`taskset -c 0` in front shows the same with both threads on one CPU.)

use std::time::Instant;

use shangji_platform::db::{Db, Together};

const PAIRS: usize = 20_000;

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}/round_trips.db?mode=rwc", dir.path().display());
    let db = Db::connect(&url, "round_trips").await?;
    let mut tx = db.begin().await?;
    for table in ["a", "b"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE {table} (id TEXT PRIMARY KEY, note TEXT, n BIGINT)"
        )))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    for round in 0..3 {
        let (wall, cpu) = timed(async {
            let mut tx = db.begin().await?;
            for i in 0..PAIRS {
                for table in ["a", "b"] {
                    insert(table, &format!("s{round}-{i}"), i)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await
        })
        .await?;
        println!("one at a time: {wall:6.1} µs wall, {cpu:6.1} µs CPU per pair");
        let (wall, cpu) = timed(async {
            let mut tx = db.begin().await?;
            for i in 0..PAIRS {
                let mut together = Together::new(&tx);
                for table in ["a", "b"] {
                    together.push(insert(table, &format!("t{round}-{i}"), i))?;
                }
                together.execute(&mut tx).await?;
            }
            tx.commit().await
        })
        .await?;
        println!("together:      {wall:6.1} µs wall, {cpu:6.1} µs CPU per pair");
    }
    Ok(())
}

fn insert(table: &str, id: &str, n: usize) -> shangji_platform::db::BoundQuery<'static> {
    let sql = if table == "a" {
        "INSERT INTO a (id, note, n) VALUES ($1, 'x', $2)"
    } else {
        "INSERT INTO b (id, note, n) VALUES ($1, 'x', $2)"
    };
    sqlx::query(sql).bind(id.to_owned()).bind(n as i64)
}

/// Wall and process CPU time per pair of what `work` does.
async fn timed(
    work: impl std::future::Future<Output = Result<(), sqlx::Error>>,
) -> anyhow::Result<(f64, f64)> {
    let (cpu0, t0) = (cpu_seconds()?, Instant::now());
    work.await?;
    let per_pair = |s: f64| s * 1e6 / PAIRS as f64;
    Ok((
        per_pair(t0.elapsed().as_secs_f64()),
        per_pair(cpu_seconds()? - cpu0),
    ))
}

/// User plus system time of this process so far (/proc/self/stat, in clock ticks of
/// 1/100 s).
fn cpu_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks = |i: usize| -> anyhow::Result<f64> { Ok(fields[i].parse::<f64>()?) };
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}
