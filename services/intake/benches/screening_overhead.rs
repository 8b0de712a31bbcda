//! What screening costs on the hot path. Two figures:
//! 1. the content checks alone (impossible phone, disposable e-mail, test data), called
//!    in-process on varied realistic leads: nanoseconds per lead;
//! 2. SubmitLead end to end against intake started in-process on a real nats-server,
//!    with flood counting off (`flood_window_secs = 0`) and on (the default limits: one
//!    upsert per lead for its phone and e-mail), alternating, each round on a fresh tenant
//!    so the counters start empty: leads per second and latency percentiles.
//!    No lead is flagged (every phone and e-mail is distinct), so both modes do the same
//!    writes apart from the counters.
//!
//! Run: `cargo bench -p shangji-intake --bench screening_overhead`
//! (env BENCH_LEADS, default 3000 per round; BENCH_ROUNDS, default 6, alternating off
//! and on, so that a noisy machine shows as noise; BENCH_CONCURRENCY, default 16;
//! BENCH_DATABASE_URL to use PostgreSQL instead of a temporary SQLite file).

use std::hint::black_box;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use shangji_contracts::common::Lead;
use shangji_contracts::intake::SubmitLeadRequest;
use shangji_contracts::intake::intake_service_client::IntakeServiceClient;
use shangji_intake::IntakeConfig;
use shangji_intake::domain::screening;
use shangji_testkit::NatsServer;

const SURNAMES: [&str; 8] = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵"];
const GIVEN: [&str; 8] = ["伟", "芳", "娜", "敏", "静", "强", "磊", "秀英"];

fn lead(i: u64) -> Lead {
    Lead {
        contact_name: format!(
            "{}{}",
            SURNAMES[(i % 8) as usize],
            GIVEN[(i / 8 % 8) as usize]
        ),
        phone: if i.is_multiple_of(3) {
            format!("+86 139-{:04}-{:04}", i / 10_000 % 10_000, i % 10_000)
        } else {
            format!("139{:08}", i % 100_000_000)
        },
        email: format!("user.{i}@corp{}.com.cn", i % 13),
        company: format!("城市{}科技有限公司{i}", i % 97),
        need: format!("需要 CRM {i}"),
        ..Default::default()
    }
}

fn content_checks(n: u64) {
    let leads: Vec<Lead> = (0..n).map(lead).collect();
    let started = Instant::now();
    let mut flagged = 0;
    for lead in &leads {
        flagged += usize::from(!black_box(screening::screen(black_box(lead))).is_empty());
    }
    let per_lead = started.elapsed().as_nanos() as f64 / n as f64;
    println!("content checks: {n} leads, {flagged} flagged, {per_lead:.0} ns per lead");
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

/// One round: `n` SubmitLeads, `concurrency` in flight; returns (leads/s, p50 ms, p99 ms).
async fn round(
    settings: &shangji_platform::Settings,
    config: IntakeConfig,
    tenant: &str,
    first: u64,
    n: u64,
    concurrency: usize,
) -> anyhow::Result<(f64, f64, f64)> {
    let service = shangji_intake::start(settings.clone(), config).await?;
    let client = IntakeServiceClient::connect(service.endpoint()).await?;
    let started = Instant::now();
    let results: Vec<anyhow::Result<(Duration, bool)>> = futures::stream::iter(first..first + n)
        .map(|i| {
            let mut client = client.clone();
            async move {
                let mut request = tonic::Request::new(SubmitLeadRequest {
                    idempotency_key: format!("bench-{i}"),
                    lead: Some(lead(i)),
                });
                request
                    .metadata_mut()
                    .insert("x-tenant-id", tenant.parse()?);
                let sent = Instant::now();
                let answer = client.submit_lead(request).await?.into_inner();
                Ok((sent.elapsed(), answer.flagged))
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    service.stop().await?;
    let mut latencies = Vec::with_capacity(results.len());
    for result in results {
        let (latency, flagged) = result?;
        anyhow::ensure!(
            !flagged,
            "a bench lead was flagged: the comparison would be off"
        );
        latencies.push(latency);
    }
    latencies.sort();
    Ok((
        n as f64 / elapsed,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
    ))
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let env_number = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(default)
    };
    let n = env_number("BENCH_LEADS", 3000);
    let concurrency = env_number("BENCH_CONCURRENCY", 16) as usize;
    let rounds = env_number("BENCH_ROUNDS", 6);
    content_checks(100_000);

    let nats = NatsServer::start().await?;
    let data = tempfile::tempdir()?;
    let mut settings = shangji_intake::SPEC.default_settings();
    settings.listen_addr = "127.0.0.1:0".parse()?;
    settings.metrics_addr = None;
    settings.data_dir = data.path().to_owned();
    settings.nats_url = nats.url();
    settings.database_url = std::env::var("BENCH_DATABASE_URL").ok();
    let backend = if settings.database_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!("SubmitLead, {backend}, {n} leads per round, {concurrency} in flight");
    println!(
        "{:>6}  {:>14}  {:>9}  {:>8}  {:>8}",
        "round", "flood counting", "leads/s", "p50 ms", "p99 ms"
    );
    let run = std::process::id();
    for r in 0..rounds {
        let counting = r % 2 == 1;
        let config = IntakeConfig {
            http_addr: String::new(),
            flood_window_secs: if counting { 3600 } else { 0 },
            ..IntakeConfig::default()
        };
        let tenant = format!("bench-{run}-{r}");
        let (rate, p50, p99) = round(&settings, config, &tenant, r * n, n, concurrency).await?;
        let mode = if counting { "on" } else { "off" };
        println!("{r:>6}  {mode:>14}  {rate:>9.0}  {p50:>8.2}  {p99:>8.2}");
    }
    Ok(())
}
