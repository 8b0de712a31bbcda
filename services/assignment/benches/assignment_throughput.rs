//! Assignment benchmark against a real nats-server: 200 reps in 5 teams, 50 ordered
//! rules. Prints
//! - throughput: leads assigned per second when a burst of qualified leads is waiting;
//! - latency: p50/p99 from `lead.qualified` published to `lead.assigned` observed, with
//!   leads arriving at a steady pace below capacity.
//!
//! Run: `cargo bench -p shangji-assignment --bench assignment_throughput`
//! (env BENCH_LEADS, default 5000; BENCH_PACED, default 1000; BENCH_DATABASE_URL to use
//! PostgreSQL instead of a temporary SQLite file).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream::{self, consumer::pull};
use futures::StreamExt as _;
use prost::Message as _;
use shangji_assignment::{AssignmentConfig, SPEC};
use shangji_contracts::assignment::assignment_service_client::AssignmentServiceClient;
use shangji_contracts::assignment::{
    AssignmentRule, AssignmentStrategy, RepProfile, RuleConditions, UpsertRepProfileRequest,
    UpsertRuleRequest, WorkingStatus,
};
use shangji_contracts::common::Lead;
use shangji_contracts::events::lead::{LeadAssigned, LeadQualified};
use shangji_contracts::events::{Domain, Envelope, Event};
use shangji_testkit::{NatsServer, events};

const TENANT: &str = "bench";
const REPS: usize = 200;
const TEAMS: usize = 5;
const RULES: usize = 50;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn request<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("x-tenant-id", TENANT.parse().expect("ascii tenant"));
    request
}

/// Region of rule i; leads spread over them so every rule position gets evaluated.
fn region(i: usize) -> String {
    format!("region-{:02}", i % (RULES - 1))
}

fn lead(n: usize) -> LeadQualified {
    LeadQualified {
        lead_id: format!("bench-lead-{n}"),
        customer_id: format!("bench-cus-{n}"),
        grade: ["A", "B", "C"][n % 3].into(),
        score: 70.0,
        lead: Some(Lead {
            region: region(n * 7),
            industry: "制造".into(),
            source: "web".into(),
            company: format!("公司{n}"),
            ..Lead::default()
        }),
        ..LeadQualified::default()
    }
}

async fn set_up(
    client: &mut AssignmentServiceClient<tonic::transport::Channel>,
) -> anyhow::Result<()> {
    for n in 0..REPS {
        let profile = RepProfile {
            rep_id: format!("bench-rep-{n:03}"),
            name: format!("压测销售{n:03}"),
            team_id: format!("team-{}", n % TEAMS),
            skill_tier: if n % 4 == 0 { "senior" } else { "junior" }.into(),
            status: WorkingStatus::Active as i32,
            max_open_opportunities: 100_000,
            ..RepProfile::default()
        };
        client
            .upsert_rep_profile(request(UpsertRepProfileRequest {
                idempotency_key: String::new(),
                profile: Some(profile),
            }))
            .await?;
    }
    let strategies = [
        AssignmentStrategy::RoundRobin,
        AssignmentStrategy::LeastLoaded,
        AssignmentStrategy::WeightedByCapacity,
    ];
    for i in 0..RULES {
        // The last rule catches everything; the others match one region and grade.
        let conditions = if i + 1 == RULES {
            RuleConditions::default()
        } else {
            RuleConditions {
                regions: vec![region(i)],
                grades: vec![["A", "B", "C"][i % 3].into()],
                ..RuleConditions::default()
            }
        };
        let rule = AssignmentRule {
            rule_id: format!("rule-{i:02}"),
            enabled: true,
            conditions: Some(conditions),
            target_team_id: format!("team-{}", i % TEAMS),
            target_skill_tier: if i % 2 == 0 { "" } else { "junior" }.into(),
            strategy: strategies[i % 3] as i32,
            ..AssignmentRule::default()
        };
        client
            .upsert_rule(request(UpsertRuleRequest {
                idempotency_key: String::new(),
                rule: Some(rule),
            }))
            .await?;
    }
    Ok(())
}

/// Publishes leads `range` (each at its moment when paced), and returns per lead the
/// time from publishing to seeing its `lead.assigned`.
async fn run(
    js: &jetstream::Context,
    observed: &mut pull::Stream,
    range: std::ops::Range<usize>,
    pace: Option<Duration>,
) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let count = range.len();
    let mut sent: HashMap<String, Instant> = HashMap::with_capacity(count);
    let started = Instant::now();
    let publisher = {
        let js = js.clone();
        let range = range.clone();
        tokio::spawn(async move {
            let mut times = Vec::with_capacity(range.len());
            for n in range {
                if let Some(pace) = pace {
                    tokio::time::sleep(pace).await;
                }
                let lead = lead(n);
                let envelope = events::envelope(TENANT, &lead.lead_id, "dedup", &lead);
                times.push((lead.lead_id.clone(), Instant::now()));
                events::publish_envelope(
                    &js,
                    &LeadQualified::subject(),
                    &envelope,
                    &envelope.event_id,
                )
                .await?;
            }
            anyhow::Ok(times)
        })
    };
    let mut seen: Vec<(String, Instant)> = Vec::with_capacity(count);
    while seen.len() < count {
        let message = tokio::time::timeout(Duration::from_secs(60), observed.next())
            .await
            .context("no lead.assigned for 60 s")?
            .context("observer ended")?
            .map_err(|e| anyhow::anyhow!("observer: {e}"))?;
        let envelope = Envelope::decode(message.payload.as_ref())?;
        let assigned = LeadAssigned::decode(envelope.payload.as_slice())?;
        seen.push((assigned.lead_id, Instant::now()));
    }
    let elapsed = started.elapsed();
    sent.extend(publisher.await??);
    let mut latencies: Vec<Duration> = seen
        .into_iter()
        .filter_map(|(id, at)| sent.get(&id).map(|s| at.saturating_duration_since(*s)))
        .collect();
    latencies.sort();
    Ok((latencies, elapsed))
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let burst = env_usize("BENCH_LEADS", 5000);
    let paced = env_usize("BENCH_PACED", 1000);
    let nats = NatsServer::start().await?;
    let data = tempfile::tempdir()?;
    let mut settings = SPEC.default_settings();
    settings.listen_addr = "127.0.0.1:0".parse()?;
    settings.metrics_addr = None;
    settings.data_dir = data.path().to_path_buf();
    settings.nats_url = nats.url();
    if let Ok(url) = std::env::var("BENCH_DATABASE_URL") {
        settings.database_url = Some(url);
    }
    let service = shangji_assignment::start(settings, AssignmentConfig::default()).await?;
    let mut client = AssignmentServiceClient::connect(service.endpoint()).await?;
    set_up(&mut client).await?;
    let js = jetstream::new(async_nats::connect(nats.url()).await?);
    let mut observed = js
        .get_stream(Domain::Lead.stream_name())
        .await?
        .create_consumer(pull::Config {
            filter_subjects: vec![LeadAssigned::subject()],
            ack_policy: jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await?
        .messages()
        .await?;

    println!(
        "assignment benchmark: {REPS} reps in {TEAMS} teams, {RULES} rules, SQLite unless BENCH_DATABASE_URL"
    );
    let (latencies, elapsed) = run(&js, &mut observed, 0..burst, None).await?;
    println!(
        "burst:  {burst} leads assigned in {:.2} s = {:.0} leads/s (p50 {:?}, p99 {:?} including queueing)",
        elapsed.as_secs_f64(),
        burst as f64 / elapsed.as_secs_f64(),
        quantile(&latencies, 0.50),
        quantile(&latencies, 0.99),
    );
    let (latencies, elapsed) = run(
        &js,
        &mut observed,
        burst..burst + paced,
        Some(Duration::from_millis(10)),
    )
    .await?;
    println!(
        "paced:  {paced} leads at 100/s in {:.2} s: lead.qualified -> lead.assigned p50 {:?}, p99 {:?}, max {:?}",
        elapsed.as_secs_f64(),
        quantile(&latencies, 0.50),
        quantile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default(),
    );
    drop(client);
    service.stop().await?;
    Ok(())
}
