//! Scaling out: two replicas of every service against one nats-server and one PostgreSQL
//! database per service, as the Kubernetes manifests in k8s/ run them.
//!
//! Leads go in through both intake replicas. The test shows that
//! - every lead is handled exactly once end to end: one lead.received, lead.qualified and
//!   lead.assigned per lead on the stream, one opportunity.created per customer, a repeat
//!   customer's lead attached to the open opportunity, and a complete GetLead trail;
//! - the work is spread: every replica of every service consumed events and both intake
//!   replicas took submissions (from each replica's own /metrics);
//! - SIGKILL of one replica of every service in the middle of the run loses nothing and
//!   sends nothing to the dead letters: the survivors take over the shared durable consumers
//!   and the shared outbox.
//!
//! Needs PostgreSQL (skipped with a message without it: SQLite is one file per process).

mod scaling_support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures::StreamExt;
use prost::Message;
use scaling_support::{ScaledSystem, scrape_sum};
use shangji_contracts::assignment::assignment_service_client::AssignmentServiceClient;
use shangji_contracts::assignment::{Rep, UpsertRepRequest};
use shangji_contracts::common::Lead;
use shangji_contracts::events::{
    DEAD_LETTER_STREAM, Domain, Event, lead as lead_events, opportunity as opportunity_events,
};
use shangji_contracts::intake::intake_service_client::IntakeServiceClient;
use shangji_contracts::intake::{GetLeadRequest, GetLeadResponse, LeadStatus, SubmitLeadRequest};
use shangji_e2e::tenant_request;
use shangji_testkit::{Postgres, SERVICES, poll_until, postgres_available};
use tonic::transport::Channel;

const TENANT: &str = "scale-co";
const REPLICAS: usize = 2;
/// Leads of new customers before the kill, and after it.
const FIRST_WAVE: usize = 120;
const SECOND_WAVE: usize = 120;
/// Of the second wave, this many are repeat customers from the first wave.
const REPEATS: usize = 24;
/// Leads in flight at once from the test's side.
const CONCURRENCY: usize = 16;
/// Lead index at which one replica of every service is killed during the second wave.
const KILL_AFTER: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_share_the_work_and_survive_a_crash() -> anyhow::Result<()> {
    if !postgres_available() {
        eprintln!("skipped: replicas need PostgreSQL (apt-get install postgresql-15)");
        return Ok(());
    }
    let started = Instant::now();
    let postgres = Postgres::start().await?;
    let mut system = ScaledSystem::start(&postgres, REPLICAS).await?;
    eprintln!(
        "{} replicas up in {:?}",
        system.replicas.len(),
        started.elapsed()
    );

    let intakes = intake_clients(&system).await?;
    let mut assignment = AssignmentServiceClient::new(
        connect(&system.of("assignment")[0].process.endpoint()).await?,
    );
    for (id, name) in [("chen", "陈一"), ("lin", "林二"), ("zhou", "周三")] {
        assignment
            .upsert_rep(tenant_request(TENANT, rep(id, name)))
            .await?;
    }

    // First wave: new customers through both intake replicas.
    let first: Vec<(String, Lead)> = (0..FIRST_WAVE)
        .map(|i| (format!("new-{i}"), new_customer(i)))
        .collect();
    let first_ids = submit_all(&intakes, &first, 0).await?;
    let js = jetstream::new(async_nats::connect(system.nats.url()).await?);
    let first_done = match wait_all_done(&intakes, &first_ids).await {
        Ok(done) => done,
        Err(err) => return Err(explain(err, &system, &js).await),
    };
    eprintln!("first wave of {FIRST_WAVE} done at {:?}", started.elapsed());

    // Spread: every replica took part while all were up.
    for replica in &system.replicas {
        let consumed = scrape_sum(replica.metrics_addr, "shangji_events_consumed_total").await?;
        eprintln!("{} consumed {consumed} events", replica.label());
        assert!(
            consumed > 0.0,
            "{} consumed no events: the load is not shared",
            replica.label()
        );
    }
    for replica in system.of("intake") {
        let requests = scrape_sum(replica.metrics_addr, "shangji_grpc_requests_total").await?;
        assert!(requests >= 1.0, "{} served no requests", replica.label());
    }

    // Second wave: new customers and repeats of first-wave customers; one replica of each
    // service is SIGKILLed after KILL_AFTER submissions, with the earlier ones in flight.
    let second: Vec<(String, Lead)> = (0..SECOND_WAVE)
        .map(|i| {
            if i % (SECOND_WAVE / REPEATS) == 0 {
                let original = i / (SECOND_WAVE / REPEATS);
                (format!("repeat-{original}"), repeat_customer(original))
            } else {
                (
                    format!("new-{}", FIRST_WAVE + i),
                    new_customer(FIRST_WAVE + i),
                )
            }
        })
        .collect();
    let mut second_ids = submit_all(&intakes, &second[..KILL_AFTER], 1).await?;
    for service in SERVICES {
        system.replica_mut(service, 1).process.kill();
    }
    eprintln!(
        "killed replica #1 of every service at {:?}",
        started.elapsed()
    );
    second_ids.extend(submit_all(&intakes, &second[KILL_AFTER..], 0).await?);
    let second_done = match wait_all_done(&intakes, &second_ids).await {
        Ok(done) => done,
        Err(err) => return Err(explain(err, &system, &js).await),
    };
    eprintln!(
        "second wave of {SECOND_WAVE} done at {:?}",
        started.elapsed()
    );

    // The streams: each step happened exactly once per lead, one opportunity per customer,
    // and nothing was given up on.
    let all_ids: Vec<&String> = first_ids.iter().chain(&second_ids).collect();
    let lead_stream = payloads_by_type(&js, &Domain::Lead.stream_name()).await?;
    let received = count_by_lead(&lead_stream, lead_events::LeadReceived::TYPE, |p| {
        Ok(lead_events::LeadReceived::decode(p)?.lead_id)
    })?;
    let assigned = count_by_lead(&lead_stream, lead_events::LeadAssigned::TYPE, |p| {
        Ok(lead_events::LeadAssigned::decode(p)?.lead_id)
    })?;
    for (event_type, count) in [("lead.received", &received), ("lead.assigned", &assigned)] {
        for id in &all_ids {
            let times = count.get(*id).copied().unwrap_or(0);
            assert_eq!(times, 1, "{event_type} {times} times for lead {id}");
        }
        assert_eq!(
            count.len(),
            all_ids.len(),
            "{event_type}: events for unknown leads"
        );
    }
    // lead id -> customer id, from the one lead.qualified of each lead.
    let mut customer_of: BTreeMap<String, String> = BTreeMap::new();
    for payload in lead_stream
        .get(lead_events::LeadQualified::TYPE)
        .into_iter()
        .flatten()
    {
        let qualified = lead_events::LeadQualified::decode(payload.as_slice())?;
        let previous = customer_of.insert(qualified.lead_id.clone(), qualified.customer_id);
        assert!(
            previous.is_none(),
            "lead.qualified twice for {}",
            qualified.lead_id
        );
    }
    assert_eq!(
        customer_of.len(),
        all_ids.len(),
        "one lead.qualified per lead"
    );
    // lead id -> opportunity id, and opportunities per customer, from opportunity.created.
    let opportunity_stream = payloads_by_type(&js, &Domain::Opportunity.stream_name()).await?;
    let mut opened_for_lead: BTreeMap<String, String> = BTreeMap::new();
    let mut created_per_customer: BTreeMap<String, usize> = BTreeMap::new();
    for payload in opportunity_stream
        .get(opportunity_events::OpportunityCreated::TYPE)
        .into_iter()
        .flatten()
    {
        let created = opportunity_events::OpportunityCreated::decode(payload.as_slice())?;
        *created_per_customer.entry(created.customer_id).or_default() += 1;
        opened_for_lead.insert(created.lead_id, created.opportunity_id);
    }

    // Per lead: its trail has every step once; a new customer got an opportunity of its
    // own, a repeat customer's lead joined the original's.
    let keys: Vec<&String> = first.iter().chain(&second).map(|(key, _)| key).collect();
    let leads: Vec<&GetLeadResponse> = first_done.iter().chain(&second_done).collect();
    let mut customers: BTreeMap<String, &str> = BTreeMap::new();
    let mut summary_disagrees = Vec::new();
    for ((key, lead_id), lead) in keys.iter().zip(&all_ids).zip(&leads) {
        let customer = &customer_of[*lead_id];
        let (terminal, opportunity) = match key.strip_prefix("repeat-") {
            Some(original) => {
                let original = &first_ids[original.parse::<usize>()?];
                assert_eq!(
                    customer, &customer_of[original],
                    "{key}: same customer as {original}"
                );
                assert!(
                    !opened_for_lead.contains_key(*lead_id),
                    "{key} opened a second opportunity"
                );
                (
                    LeadStatus::AttachedToOpportunity,
                    opened_for_lead[original].clone(),
                )
            }
            None => {
                if let Some(other) = customers.insert(customer.clone(), key) {
                    panic!("{key} and {other} are different customers but share {customer}");
                }
                let opened = opened_for_lead.get(*lead_id).cloned();
                (LeadStatus::OpportunityCreated, opened.unwrap_or_default())
            }
        };
        assert!(
            !opportunity.is_empty(),
            "{key}: no opportunity.created for its lead (trail {:?})",
            lead.trail.iter().map(|s| s.status).collect::<Vec<_>>()
        );
        for step in [
            LeadStatus::Received,
            LeadStatus::Qualified,
            LeadStatus::Assigned,
            terminal,
        ] {
            let times = lead
                .trail
                .iter()
                .filter(|s| s.status == step as i32)
                .count();
            assert_eq!(times, 1, "{key}: {step:?} {times} times in the trail");
        }
        if lead.status != terminal as i32
            || lead.opportunity_id != opportunity
            || &lead.customer_id != customer
        {
            summary_disagrees.push(format!(
                "{key}: status {:?} opportunity {:?} customer {:?}, trail says {terminal:?} {opportunity} {customer}",
                lead.status, lead.opportunity_id, lead.customer_id
            ));
        }
    }
    assert_eq!(
        customers.len(),
        FIRST_WAVE + SECOND_WAVE - REPEATS,
        "one customer per new lead"
    );
    for customer in customers.keys() {
        assert_eq!(
            created_per_customer.get(customer),
            Some(&1),
            "opportunities of {customer}"
        );
    }
    assert_eq!(
        created_per_customer.len(),
        customers.len(),
        "no opportunity for other customers"
    );
    // GetLead's summary (status, customer, opportunity) must agree with its trail: two
    // replicas applying two steps of one lead at once must not lose either.
    assert!(
        summary_disagrees.is_empty(),
        "{} of {} leads' GetLead summary lost a step:\n{}",
        summary_disagrees.len(),
        all_ids.len(),
        summary_disagrees
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );

    let dead = dead_letters(&js).await?;
    assert!(
        dead.is_empty(),
        "messages went to the dead letters: {dead:#?}"
    );

    eprintln!(
        "{} leads, {} customers, exactly once, in {:?}",
        all_ids.len(),
        customers.len(),
        started.elapsed()
    );
    drop(intakes);
    drop(assignment);
    system.shutdown().await
}

fn rep(id: &str, name: &str) -> UpsertRepRequest {
    UpsertRepRequest {
        rep: Some(Rep {
            rep_id: id.into(),
            name: name.into(),
            team: "east".into(),
            regions: vec!["华东".into()],
            industries: vec![],
            capacity: 0,
            active: true,
        }),
    }
}

/// Surnames and given names for test customers: every customer a different person.
const SURNAMES: [&str; 20] = [
    "赵", "钱", "孙", "李", "周", "吴", "郑", "王", "冯", "陈", "褚", "卫", "蒋", "沈", "韩", "杨",
    "朱", "秦", "尤", "许",
];
const GIVEN_NAMES: [&str; 15] = [
    "建国", "秀英", "志强", "丽华", "海涛", "晓燕", "振宇", "雅琴", "国栋", "美玲", "文博", "静怡",
    "子轩", "慧敏", "鹏飞",
];

/// Customer `i`'s mobile number, as digits. Multiplying by a number coprime with 10^9
/// spreads consecutive customers over distant numbers, so that no two customers' phones
/// look alike to a fuzzy matcher (they differ in most digits, not in one).
fn phone_digits(i: usize) -> String {
    let spread = (i as u64 * 736_878_787 + 104_729) % 1_000_000_000;
    format!("13{spread:09}")
}

/// A lead of customer `i` (fewer than 300): a name and a phone no other customer has, no
/// company or e-mail (so that nothing else can tie two customers together).
fn new_customer(i: usize) -> Lead {
    Lead {
        contact_name: format!(
            "{}{}",
            SURNAMES[i % SURNAMES.len()],
            GIVEN_NAMES[i / SURNAMES.len() % GIVEN_NAMES.len()]
        ),
        phone: phone_digits(i),
        region: "华东".into(),
        industry: "制造".into(),
        source: "web".into(),
        need: "销售管理系统".into(),
        ..Default::default()
    }
}

/// Customer `i` again, written as another channel would: same phone in another format,
/// the surname with a courtesy title.
fn repeat_customer(i: usize) -> Lead {
    let digits = phone_digits(i);
    Lead {
        contact_name: format!("{}先生", SURNAMES[i % SURNAMES.len()]),
        phone: format!("+86 {}-{}-{}", &digits[..3], &digits[3..7], &digits[7..]),
        region: "华东".into(),
        source: "wechat".into(),
        need: "销售管理系统".into(),
        ..Default::default()
    }
}

async fn connect(endpoint: &str) -> anyhow::Result<Channel> {
    Ok(Channel::from_shared(endpoint.to_owned())?.connect().await?)
}

async fn intake_clients(
    system: &ScaledSystem,
) -> anyhow::Result<Vec<IntakeServiceClient<Channel>>> {
    let mut clients = Vec::new();
    for replica in system.of("intake") {
        clients.push(IntakeServiceClient::new(
            connect(&replica.process.endpoint()).await?,
        ));
    }
    Ok(clients)
}

/// Submits `leads` with at most CONCURRENCY in flight, lead n to intake replica
/// `(n + offset) % replicas`; a replica that fails (killed) makes the client retry the same
/// idempotency key on the next one, as a load balancer would. Returns the lead ids in order.
async fn submit_all(
    intakes: &[IntakeServiceClient<Channel>],
    leads: &[(String, Lead)],
    offset: usize,
) -> anyhow::Result<Vec<String>> {
    let submissions = leads.iter().enumerate().map(|(n, (key, lead))| async move {
        let mut last = None;
        for attempt in 0..2 * intakes.len() {
            let mut intake = intakes[(n + offset + attempt) % intakes.len()].clone();
            let request = SubmitLeadRequest {
                idempotency_key: key.clone(),
                lead: Some(lead.clone()),
            };
            match intake.submit_lead(tenant_request(TENANT, request)).await {
                Ok(response) => return Ok(response.into_inner().lead_id),
                Err(status) => last = Some(status),
            }
        }
        anyhow::bail!("{key}: no intake replica accepted it: {last:?}")
    });
    futures::stream::iter(submissions)
        .buffered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// The trail steps that end a lead's way through intake: an opportunity opened, or joined.
const TERMINAL: [LeadStatus; 2] = [
    LeadStatus::OpportunityCreated,
    LeadStatus::AttachedToOpportunity,
];

/// Whether a lead's trail shows its whole way: received, qualified, assigned, and an
/// opportunity opened or joined. Steps arrive on two streams in any order (and a step
/// fetched by a killed replica only after its ack wait), so reaching the opportunity alone
/// does not mean every earlier step has been recorded yet.
fn complete(steps: &[i32]) -> bool {
    [
        LeadStatus::Received,
        LeadStatus::Qualified,
        LeadStatus::Assigned,
    ]
    .iter()
    .all(|step| steps.contains(&(*step as i32)))
        && TERMINAL.iter().any(|t| steps.contains(&(*t as i32)))
}

/// Waits until every lead's trail is complete, asking any live intake replica. The trail,
/// not the summary fields, is the signal: it is append-only, one row per event, so it shows
/// every step a service reported even if the summary lost one.
async fn wait_all_done(
    intakes: &[IntakeServiceClient<Channel>],
    lead_ids: &[String],
) -> anyhow::Result<Vec<GetLeadResponse>> {
    let mut done = Vec::with_capacity(lead_ids.len());
    for lead_id in lead_ids {
        let lead = poll_until(
            &format!("lead {lead_id} to reach its opportunity"),
            Duration::from_secs(40),
            Duration::from_millis(50),
            || async {
                let mut last = String::new();
                for intake in intakes {
                    let request = GetLeadRequest {
                        lead_id: lead_id.clone(),
                    };
                    match intake
                        .clone()
                        .get_lead(tenant_request(TENANT, request))
                        .await
                    {
                        Ok(lead) => {
                            let lead = lead.into_inner();
                            let steps: Vec<i32> = lead.trail.iter().map(|s| s.status).collect();
                            if complete(&steps) {
                                return Ok(lead);
                            }
                            last = format!("status {:?}, trail {steps:?}", lead.status);
                        }
                        Err(status) => last = status.to_string(),
                    }
                }
                Err(last)
            },
        )
        .await?;
        done.push(lead);
    }
    Ok(done)
}

/// How many events of `event_type` the stream holds for each lead.
fn count_by_lead(
    stream: &BTreeMap<String, Vec<Vec<u8>>>,
    event_type: &str,
    lead_of: impl Fn(&[u8]) -> Result<String, prost::DecodeError>,
) -> anyhow::Result<BTreeMap<String, usize>> {
    let mut count = BTreeMap::new();
    for payload in stream.get(event_type).into_iter().flatten() {
        *count.entry(lead_of(payload)?).or_default() += 1;
    }
    Ok(count)
}

/// A stuck run's story: the replicas' last log lines and every durable consumer's state.
async fn explain(
    err: anyhow::Error,
    system: &ScaledSystem,
    js: &jetstream::Context,
) -> anyhow::Error {
    eprintln!("{}", system.log_tails(15));
    for domain in Domain::ALL {
        let Ok(mut stream) = js.get_stream(domain.stream_name()).await else {
            continue;
        };
        let Ok(info) = stream.info().await.cloned() else {
            continue;
        };
        eprintln!("{}: {} messages", domain.stream_name(), info.state.messages);
        let mut names = stream.consumer_names();
        while let Some(Ok(name)) = names.next().await {
            let consumer: Result<jetstream::consumer::PullConsumer, _> =
                stream.get_consumer(&name).await;
            if let Ok(mut consumer) = consumer
                && let Ok(info) = consumer.info().await
            {
                eprintln!(
                    "  {name}: pending {}, ack pending {}, redelivered {}, ack floor {}",
                    info.num_pending,
                    info.num_ack_pending,
                    info.num_redelivered,
                    info.ack_floor.stream_sequence
                );
            }
        }
    }
    err
}

/// Who gave up on each dead letter and why (the consumer's headers), counted.
async fn dead_letters(js: &jetstream::Context) -> anyhow::Result<BTreeMap<String, usize>> {
    let mut stream = js.get_stream(DEAD_LETTER_STREAM).await?;
    let state = stream.info().await?.state.clone();
    let mut reasons = BTreeMap::new();
    if state.messages == 0 {
        return Ok(reasons);
    }
    for seq in state.first_sequence..=state.last_sequence {
        let Ok(message) = stream.get_raw_message(seq).await else {
            continue;
        };
        let header = |name: &str| {
            message
                .headers
                .get(name)
                .map(|v| v.to_string())
                .unwrap_or_default()
        };
        let reason = format!(
            "{}: {}",
            header("Shangji-Consumer"),
            header("Shangji-Error")
        );
        *reasons.entry(reason).or_default() += 1;
    }
    Ok(reasons)
}

/// Every payload in a stream, grouped by envelope event type.
async fn payloads_by_type(
    js: &jetstream::Context,
    stream: &str,
) -> anyhow::Result<BTreeMap<String, Vec<Vec<u8>>>> {
    let mut by_type: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for envelope in shangji_testkit::events::stream_envelopes(js, stream).await? {
        by_type
            .entry(envelope.event_type)
            .or_default()
            .push(envelope.payload);
    }
    Ok(by_type)
}
