//! Timer scale benchmark: 1,000,000 open opportunities, each with a pending reminder not
//! yet due, plus reminders falling due. Prints
//! - memory: RSS of the process (the SQLite page cache lives in it) after the load;
//! - tick cost: a timer round with nothing due, and per reminder when 1,000 are due: the
//!   round reads the `next_fire_at` index, so its cost follows what is due, not what is open;
//! - delay from due time to delivery (the reminder fired and its `reminder.due` in the
//!   outbox, ready for the relay) with the timer ticking every `tick_ms`.
//!
//! Run: `cargo bench -p shangji-reminders --bench timer_scale`
//! (env BENCH_OPEN, default 1000000; BENCH_TICK_MS, default 1000 as the service;
//! BENCH_DATABASE_URL to use PostgreSQL instead of a temporary SQLite file).

use std::time::{Duration, Instant};

use shangji_contracts::time::now_millis;
use shangji_platform::Db;
use shangji_platform::db::Backend;
use shangji_reminders::{MIGRATIONS, timer};

const BATCH: u32 = 500;
const DUE_NOW: i64 = 1_000;
const DELAYED: i64 = 1_000;
const DAY: i64 = 86_400_000;

fn env_num(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// VmRSS and VmHWM of this process, in MiB.
fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Inserts `count` pending reminders `prefix_<i>` due at `first_due + i * step_ms`,
/// generated inside the database (one statement, no round trips per row).
async fn insert_reminders(db: &Db, prefix: &str, count: i64, first_due: i64, step_ms: i64) {
    let columns = "tenant_id, reminder_id, opportunity_id, owner_rep_id, kind, due_at, state, \
                   message, created_at, updated_at, fired_at, policy_id, policy_version, \
                   escalation_step, ladder_from, next_fire_at";
    let values = format!(
        "'bench', '{prefix}_' || i, 'opp_{prefix}_' || i, 'rep_' || (i % 500), 'no_activity', \
         {first_due} + i * {step_ms}, 'pending', 'no activity for 3 days', 0, 0, NULL, '', 0, 0, \
         {first_due} + i * {step_ms}, {first_due} + i * {step_ms}"
    );
    let sql = match db.backend() {
        Backend::Sqlite => format!(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {last})
             INSERT INTO reminders ({columns}) SELECT {values} FROM n",
            last = count - 1
        ),
        Backend::Postgres => format!(
            "INSERT INTO reminders ({columns})
             SELECT {values} FROM generate_series(0, {last}) AS n(i)",
            last = count - 1
        ),
    };
    let mut tx = db.begin().await.expect("begin");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut *tx)
        .await
        .expect("insert reminders");
    tx.commit().await.expect("commit");
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let open = env_num("BENCH_OPEN", 1_000_000);
    let tick_ms = env_num("BENCH_TICK_MS", 1_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let url = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}/bench.db?mode=rwc", dir.path().display()));
    let db = Db::connect(&url, "reminders").await.expect("connect");
    db.migrate(&MIGRATIONS).await.expect("migrate");
    println!(
        "timer_scale: backend {:?}, {open} open opportunities",
        db.backend()
    );

    let now = now_millis();
    let started = Instant::now();
    insert_reminders(&db, "open", open, now + 30 * DAY, 1).await;
    let (rss, _) = rss_mib();
    println!(
        "load: {open} pending reminders in {:.1} s; RSS {rss:.0} MiB",
        started.elapsed().as_secs_f64()
    );

    // A tick with nothing due.
    let mut empty = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let round = timer::fire_due(&db, now_millis(), BATCH)
            .await
            .expect("round");
        assert_eq!(round.due, 0);
        empty.push(t.elapsed().as_secs_f64() * 1e3);
    }
    empty.sort_by(f64::total_cmp);
    println!(
        "empty tick: p50 {:.3} ms, p99 {:.3} ms (over {open} open)",
        percentile(&empty, 0.5),
        percentile(&empty, 0.99)
    );

    // 1,000 due at once.
    insert_reminders(&db, "due", DUE_NOW, now - 60_000, 1).await;
    let t = Instant::now();
    let mut fired = 0;
    let mut rounds = 0;
    loop {
        let round = timer::fire_due(&db, now_millis(), BATCH)
            .await
            .expect("round");
        fired += round.fired;
        rounds += 1;
        if round.due == 0 {
            break;
        }
    }
    let took = t.elapsed().as_secs_f64() * 1e3;
    println!(
        "due tick: {fired} reminders fired in {rounds} rounds, {took:.1} ms ({:.3} ms each, each its own transaction with its outbox row)",
        took / fired.max(1) as f64
    );

    // Due times spread over 5 s; the timer ticks every tick_ms as the service does.
    let start = now_millis() + 200;
    let step = 5_000 / DELAYED;
    insert_reminders(&db, "delay", DELAYED, start, step).await;
    let until = start + 5_000 + 2 * tick_ms + 500;
    while now_millis() < until {
        timer::fire_due(&db, now_millis(), BATCH)
            .await
            .expect("round");
        tokio::time::sleep(Duration::from_millis(tick_ms as u64)).await;
    }
    let delays: Vec<(i64,)> = sqlx::query_as(
        "SELECT fired_at - due_at FROM reminders
         WHERE reminder_id LIKE 'delay_%' AND fired_at IS NOT NULL",
    )
    .fetch_all(db.reader())
    .await
    .expect("delays");
    let mut delays: Vec<f64> = delays.into_iter().map(|(d,)| d as f64).collect();
    delays.sort_by(f64::total_cmp);
    println!(
        "due -> delivered (tick {tick_ms} ms): {} of {DELAYED} fired; delay p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        delays.len(),
        percentile(&delays, 0.5),
        percentile(&delays, 0.99),
        delays.last().copied().unwrap_or(0.0)
    );
    let (rss, hwm) = rss_mib();
    println!("memory: RSS {rss:.0} MiB, peak {hwm:.0} MiB");
    db.close().await;
}
