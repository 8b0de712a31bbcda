//! CheckDuplicate at scale: loads CUSTOMERS (default 1,000,000) generated customers into
//! a real dedup store with the bulk load path (`store::bulk`), starts the real dedup
//! service on it (in-process, real nats-server, gRPC on loopback), and drives
//! CheckDuplicate from CONCURRENCY (default 16) client tasks with QUERIES (default
//! 20,000) queries: exact duplicates written another way, fuzzy variants (traditional
//! characters, pinyin, honorifics, other company spellings) and new people. Prints load
//! time, p50/p99 latency, checks/s, candidates per query and recall; writes the records
//! and queries to `$BENCH_OUT/records.csv` for Splink (benches/splink/run.sh).
//!
//! `cargo bench -p shangji-dedup --bench check_at_scale`
//! Env: CUSTOMERS, QUERIES, CONCURRENCY, BENCH_OUT (default /tmp/shangji-check-at-scale),
//! REFILE=1 (start as a store filed under older key rules and time the re-filing first),
//! REUSE=1 (query the SQLite store an earlier run with the same CUSTOMERS left in
//! BENCH_OUT instead of loading a new one),
//! DEDUP_BENCH_DATABASE_URL (a postgres:// URL; default a SQLite file under BENCH_OUT).

#[path = "check_at_scale/people.rs"]
mod people;

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use people::{Person, Query, QueryKind};
use shangji_contracts::dedup::CheckDuplicateRequest;
use shangji_contracts::dedup::dedup_service_client::DedupServiceClient;
use shangji_contracts::time::now_millis;
use shangji_dedup::store::bulk::{PreparedCustomer, load_customers};
use shangji_platform::Db;
use tonic::transport::Channel;

const TENANT: &str = "bench";
/// Records prepared and loaded per transaction.
const LOAD_BATCH: usize = 10_000;

fn env_usize(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .replace('_', "")
            .parse()
            .with_context(|| format!("{name}={v}")),
        Err(_) => Ok(default),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let customers = env_usize("CUSTOMERS", 1_000_000)?;
    let queries = env_usize("QUERIES", 20_000)?;
    let concurrency = env_usize("CONCURRENCY", 16)?;
    let out = std::path::PathBuf::from(
        std::env::var("BENCH_OUT").unwrap_or_else(|_| "/tmp/shangji-check-at-scale".into()),
    );
    std::fs::create_dir_all(&out)?;
    // The ids of a loaded SQLite store are kept beside it, so that REUSE=1 can run the
    // queries again on it without the minutes of loading (a check changes nothing).
    let ids_file = out.join(format!("ids-{customers}.txt"));
    let mut reused = None;
    let database_url = match std::env::var("DEDUP_BENCH_DATABASE_URL") {
        Ok(url) => url,
        Err(_) => {
            let file = out.join(format!("dedup-{customers}.db"));
            if std::env::var("REUSE").is_ok() && file.exists() && ids_file.exists() {
                let ids = std::fs::read_to_string(&ids_file)?;
                reused = Some(ids.split('\n').map(str::to_owned).collect::<Vec<_>>());
            } else {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
                }
                let _ = std::fs::remove_file(&ids_file);
            }
            format!("sqlite://{}?mode=rwc", file.display())
        }
    };
    let backend = database_url
        .split(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    println!(
        "check_at_scale: {customers} customers, {queries} queries, concurrency {concurrency}, {backend}"
    );

    let ids = match reused {
        Some(ids) => {
            println!("reusing the store loaded by an earlier run (REUSE=1)");
            ids
        }
        None => {
            let ids = load(&database_url, customers).await?;
            if !database_url.starts_with("postgres") {
                std::fs::write(&ids_file, ids.join("\n"))?;
            }
            ids
        }
    };
    let queries: Vec<Query> = (0..queries)
        .map(|n| people::query(n as u64, customers as u64))
        .collect();
    write_csv(&out.join("records.csv"), customers, &queries)?;

    let nats = shangji_testkit::NatsServer::start().await?;
    let mut settings = shangji_dedup::SPEC.default_settings();
    settings.listen_addr = ([127, 0, 0, 1], 0).into();
    settings.metrics_addr = None;
    settings.data_dir = out.clone();
    settings.nats_url = nats.url();
    settings.database_url = Some(database_url.clone());
    let service = shangji_dedup::start(settings, shangji_dedup::DedupConfig::default()).await?;
    if std::env::var("REFILE").is_ok() {
        wait_for_refile(&database_url).await?;
    }
    let (ids, queries) = (Arc::new(ids), Arc::new(queries));

    let channel = Channel::from_shared(service.endpoint())?.connect().await?;
    let run = drive(channel, ids, queries, concurrency).await?;
    run.print("CheckDuplicate over gRPC");
    service.stop().await?;
    Ok(())
}

/// Generates, prepares (two threads) and bulk-loads the customers; their ids by index.
async fn load(database_url: &str, customers: usize) -> anyhow::Result<Vec<String>> {
    let db = Db::connect(database_url, "dedup").await?;
    db.migrate(shangji_dedup::SPEC.migrations).await?;
    let started = Instant::now();
    let mut ids = Vec::with_capacity(customers);
    let mut skipped = 0usize;
    for start in (0..customers).step_by(LOAD_BATCH) {
        let end = (start + LOAD_BATCH).min(customers);
        let prepared = prepare(start as u64, end as u64).await?;
        let mut tx = db.begin().await?;
        let loaded = load_customers(&mut tx, TENANT, &prepared, now_millis()).await?;
        tx.commit().await?;
        for id in loaded {
            skipped += usize::from(id.is_none());
            ids.push(id.unwrap_or_default());
        }
        if (end / LOAD_BATCH).is_multiple_of(10) {
            eprintln!("  loaded {end} in {:.0?}", started.elapsed());
        }
    }
    let took = started.elapsed();
    println!(
        "load: {} customers in {:.1} s = {:.0} customers/s ({skipped} skipped: exact key taken)",
        customers - skipped,
        took.as_secs_f64(),
        customers as f64 / took.as_secs_f64()
    );
    // Everything was filed by this release into a new store, so there is nothing to
    // re-file, unless the run is to measure re-filing (REFILE=1).
    if std::env::var("REFILE").is_err() {
        shangji_dedup::refile::mark_current(&db).await?;
    }
    db.close().await;
    Ok(ids)
}

/// Waits until the started service has re-filed every customer (REFILE=1).
async fn wait_for_refile(database_url: &str) -> anyhow::Result<()> {
    let db = Db::connect(database_url, "dedup-bench").await?;
    let started = Instant::now();
    loop {
        let mut conn = db.reader().acquire().await?;
        let state = shangji_dedup::store::key_scheme::state(&mut conn).await?;
        if state.version >= shangji_dedup::refile::KEY_SCHEME {
            break;
        }
        drop(conn);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "re-filed every customer under key scheme {} in {:.1} s (background, service serving)",
        shangji_dedup::refile::KEY_SCHEME,
        started.elapsed().as_secs_f64()
    );
    db.close().await;
    Ok(())
}

async fn prepare(start: u64, end: u64) -> anyhow::Result<Vec<PreparedCustomer>> {
    let mid = start + (end - start) / 2;
    let half = |from: u64, to: u64| {
        tokio::task::spawn_blocking(move || {
            (from..to)
                .map(|i| PreparedCustomer::from_lead(&Person::nth(i).lead()))
                .collect::<Vec<_>>()
        })
    };
    let (a, b) = (half(start, mid), half(mid, end));
    let mut prepared = a.await?;
    prepared.extend(b.await?);
    Ok(prepared)
}

/// Customers and the queries as one file, `truth` naming the customer each record is
/// (a query of a new person is its own), for Splink to deduplicate.
fn write_csv(path: &std::path::Path, customers: usize, queries: &[Query]) -> anyhow::Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(w, "unique_id,truth,name,company,phone,email")?;
    let clean = |s: &str| s.replace([',', '"', '\n'], " ");
    for i in 0..customers as u64 {
        let lead = Person::nth(i).lead();
        writeln!(
            w,
            "c{i},c{i},{},{},{},{}",
            clean(&lead.contact_name),
            clean(&lead.company),
            clean(&lead.phone),
            clean(&lead.email)
        )?;
    }
    for (n, q) in queries.iter().enumerate() {
        let truth = q.customer.map_or(format!("q{n}"), |c| format!("c{c}"));
        let lead = &q.lead;
        writeln!(
            w,
            "q{n},{truth},{},{},{},{}",
            clean(&lead.contact_name),
            clean(&lead.company),
            clean(&lead.phone),
            clean(&lead.email)
        )?;
    }
    Ok(())
}

struct Run {
    elapsed: Duration,
    latency: Histogram<u64>,
    candidates: Histogram<u64>,
    /// Per kind: queries, true customer found, found as SAME.
    found: [(u64, u64, u64); 3],
    /// Per variant of how a known customer was written: queries, found, found as SAME,
    /// and misses where the answer had no match at all.
    by_variant: std::collections::BTreeMap<&'static str, [u64; 4]>,
    /// New people answered with some match (a namesake at the same company, …).
    new_with_match: u64,
    errors: u64,
    measured: usize,
}

impl Run {
    fn print(&self, how: &str) {
        let ms = |v: u64| v as f64 / 1000.0;
        println!(
            "CheckDuplicate ({how}): {} checks in {:.1} s = {:.0} checks/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; errors {}",
            self.measured,
            self.elapsed.as_secs_f64(),
            self.measured as f64 / self.elapsed.as_secs_f64(),
            ms(self.latency.value_at_quantile(0.5)),
            ms(self.latency.value_at_quantile(0.99)),
            ms(self.latency.max()),
            self.errors
        );
        println!(
            "candidates per query: mean {:.1}, p99 {}, max {}",
            self.candidates.mean(),
            self.candidates.value_at_quantile(0.99),
            self.candidates.max()
        );
        for (kind, (n, found, same)) in [QueryKind::Exact, QueryKind::Fuzzy].iter().zip(&self.found)
        {
            println!(
                "recall {:?}: {}/{} = {:.4} (as SAME: {:.4})",
                kind,
                found,
                n,
                *found as f64 / (*n).max(1) as f64,
                *same as f64 / (*n).max(1) as f64
            );
        }
        for (variant, [n, found, same, empty]) in &self.by_variant {
            println!(
                "  {variant}: {found}/{n} = {:.4} (as SAME: {:.4}; misses with no match at all: {empty})",
                *found as f64 / (*n).max(1) as f64,
                *same as f64 / (*n).max(1) as f64
            );
        }
        let (new, _, _) = self.found[2];
        println!(
            "new people: {new}, answered with some match: {} ({:.3})",
            self.new_with_match,
            self.new_with_match as f64 / new.max(1) as f64
        );
    }
}

async fn drive(
    channel: Channel,
    ids: Arc<Vec<String>>,
    queries: Arc<Vec<Query>>,
    concurrency: usize,
) -> anyhow::Result<Run> {
    // Warm-up: caches and connections, not measured.
    let warm = (queries.len() / 20).min(1000);
    let next = Arc::new(AtomicUsize::new(0));
    let mut run = Run {
        elapsed: Duration::ZERO,
        latency: Histogram::new_with_bounds(1, 60_000_000, 3)?,
        candidates: Histogram::new_with_bounds(1, 100_000, 3)?,
        found: [(0, 0, 0); 3],
        by_variant: Default::default(),
        new_with_match: 0,
        errors: 0,
        measured: queries.len() - warm,
    };
    for (range, measure) in [(0..warm, false), (warm..queries.len(), true)] {
        next.store(range.start, Ordering::SeqCst);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (channel, queries, next) = (channel.clone(), queries.clone(), next.clone());
            let end = range.end;
            tasks.push(tokio::spawn(async move {
                let mut client = DedupServiceClient::new(channel);
                let mut results = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= end {
                        break;
                    }
                    let q = &queries[n];
                    let mut request = tonic::Request::new(CheckDuplicateRequest {
                        lead: Some(q.lead.clone()),
                        limit: 0,
                    });
                    request
                        .metadata_mut()
                        .insert("x-tenant-id", TENANT.parse().unwrap());
                    let sent = Instant::now();
                    let answer = client.check_duplicate(request).await;
                    results.push((n, sent.elapsed(), answer.map(|r| r.into_inner())));
                }
                results
            }));
        }
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await?);
        }
        if !measure {
            continue;
        }
        run.elapsed = started.elapsed();
        for (n, took, answer) in all {
            run.latency.record((took.as_micros() as u64).max(1))?;
            let Ok(answer) = answer else {
                run.errors += 1;
                continue;
            };
            run.candidates
                .record(u64::from(answer.candidates_examined).max(1))?;
            let q = &queries[n];
            let slot = &mut run.found[q.kind as usize];
            slot.0 += 1;
            match q.customer {
                Some(c) => {
                    let want = &ids[c as usize];
                    let tally = run.by_variant.entry(q.variant).or_default();
                    tally[0] += 1;
                    if let Some(m) = answer.matches.iter().find(|m| &m.customer_id == want) {
                        slot.1 += 1;
                        slot.2 += u64::from(m.decision == 1);
                        tally[1] += 1;
                        tally[2] += u64::from(m.decision == 1);
                    } else if answer.matches.is_empty() {
                        tally[3] += 1;
                    }
                }
                None => run.new_with_match += u64::from(!answer.matches.is_empty()),
            }
        }
    }
    Ok(run)
}
