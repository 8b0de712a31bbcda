//! Submissions arriving together are committed together: a burst of concurrent
//! SubmitLead calls (fresh keys, retries of the same keys racing each other, a key
//! sent with two different leads, two tenants) each gets the answer it would get alone, every
//! lead is stored and announced once, and none is lost to another's failure.

mod support;

use std::collections::{HashMap, HashSet};

use futures::future::join_all;
use shangji_contracts::common::Lead;
use shangji_contracts::events::Domain;
use shangji_contracts::events::lead::LeadReceived;
use shangji_contracts::intake::{GetLeadRequest, LeadStatus, SubmitLeadRequest};
use shangji_testkit::events::stream_envelopes;
use support::{Backend, Harness, postgres_or_skip, with_tenant};

const LEADS: usize = 120;

fn lead(n: usize) -> Lead {
    Lead {
        contact_name: format!("客户{n}"),
        phone: format!("138{:08}", n),
        company: format!("公司{n}"),
        ..Default::default()
    }
}

async fn burst_of_submissions(backend: Backend) {
    let h = Harness::start(backend).await;
    // Every lead submitted twice at once under its key; half the leads in each tenant.
    let calls = (0..LEADS).flat_map(|n| [n, n]).map(|n| {
        let mut client = h.client.clone();
        let tenant = if n % 2 == 0 { "acme" } else { "globex" };
        async move {
            let request = SubmitLeadRequest {
                idempotency_key: format!("key-{n}"),
                lead: Some(lead(n)),
            };
            let answer = client.submit_lead(with_tenant(request, tenant)).await;
            (n, tenant, answer.map(|r| r.into_inner()))
        }
    });
    // One key sent at once with two different leads: one is stored, the other refused
    // (whichever came second), and neither harms the burst around them.
    let contested = [9_998, 9_999].map(|n| {
        let mut client = h.client.clone();
        async move {
            let request = SubmitLeadRequest {
                idempotency_key: "contested".into(),
                lead: Some(lead(n)),
            };
            client.submit_lead(with_tenant(request, "acme")).await
        }
    });
    let (answers, contested) = tokio::join!(join_all(calls), join_all(contested));

    let mut ids: HashMap<usize, String> = HashMap::new();
    for (n, tenant, answer) in &answers {
        let answer = answer
            .as_ref()
            .unwrap_or_else(|e| panic!("lead {n} of {tenant}: {e}"));
        assert!(!answer.flagged, "lead {n}: {:?}", answer.flags);
        let first = ids.entry(*n).or_insert_with(|| answer.lead_id.clone());
        assert_eq!(
            *first, answer.lead_id,
            "both calls for key-{n} get one lead"
        );
    }
    let distinct: HashSet<&String> = ids.values().collect();
    assert_eq!(distinct.len(), LEADS, "one lead per key");
    let (stored, refused): (Vec<_>, Vec<_>) = contested.into_iter().partition(|r| r.is_ok());
    assert_eq!(
        (stored.len(), refused.len()),
        (1, 1),
        "one stored, one refused"
    );
    let status = refused[0].as_ref().unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");

    // Every lead is stored under its tenant with its first step, and announced once.
    let mut client = h.client.clone();
    for (n, lead_id) in &ids {
        let tenant = if n % 2 == 0 { "acme" } else { "globex" };
        let got = client
            .get_lead(with_tenant(
                GetLeadRequest {
                    lead_id: lead_id.clone(),
                },
                tenant,
            ))
            .await
            .unwrap_or_else(|e| panic!("lead {n} in {tenant}: {e}"))
            .into_inner();
        assert_eq!(got.lead.unwrap().contact_name, format!("客户{n}"));
        assert_eq!(got.trail[0].status, LeadStatus::Received as i32);
    }
    let js = async_nats::jetstream::new(async_nats::connect(h.nats.url()).await.unwrap());
    let announced = shangji_testkit::poll_until(
        "every lead announced",
        std::time::Duration::from_secs(20),
        std::time::Duration::from_millis(100),
        || {
            let js = js.clone();
            async move {
                let envelopes = stream_envelopes(&js, &Domain::Lead.stream_name())
                    .await
                    .map_err(|e| e.to_string())?;
                let received: Vec<_> = envelopes
                    .into_iter()
                    .filter(|e| {
                        e.event_type == <LeadReceived as shangji_contracts::events::Event>::TYPE
                    })
                    .collect();
                if received.len() > LEADS {
                    Ok(received)
                } else {
                    Err(format!("{} announced so far", received.len()))
                }
            }
        },
    )
    .await
    .unwrap();
    assert_eq!(announced.len(), LEADS + 1, "each lead announced once");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_submissions_on_sqlite() {
    burst_of_submissions(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_submissions_on_postgres() {
    if postgres_or_skip("a_burst_of_submissions_on_postgres") {
        burst_of_submissions(Backend::Postgres).await;
    }
}
