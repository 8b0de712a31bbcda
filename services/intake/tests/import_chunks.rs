//! An import larger than one chunk and one multi-row statement, with bad and flagged
//! rows spread through it, uploaded first in part (an import that broke off) and then
//! whole: every good row is stored once, only the unflagged ones are announced, and each
//! exactly once. On SQLite and PostgreSQL.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt as _;
use prost::Message as _;
use shangji_contracts::events::Event as _;
use shangji_contracts::events::lead::LeadReceived;
use shangji_contracts::intake::import_leads_request::Part;
use shangji_contracts::intake::intake_service_client::IntakeServiceClient;
use shangji_contracts::intake::{
    GetLeadRequest, ImportLeadsRequest, ImportMetadata, ImportProgress, ImportState, LeadStatus,
};
use shangji_testkit::{events, poll_until};
use support::{Backend, Harness, postgres_or_skip, with_tenant};
use tonic::transport::Channel;

const TENANT: &str = "acme";
/// More than two chunks of 500 rows, each spanning more than one statement.
const ROWS: usize = 1_300;
/// Rows of the first, broken-off upload.
const FIRST_PART: usize = 640;

fn bad(i: usize) -> bool {
    i % 100 == 7
}

fn flagged(i: usize) -> bool {
    i % 100 == 42
}

/// The file's header and its first `rows` data rows.
fn csv(rows: usize) -> Vec<u8> {
    let mut text = String::from("姓名,手机,邮箱,公司\n");
    for i in 0..rows {
        let phone = if bad(i) {
            "12".to_owned()
        } else {
            format!("139{:08}", 20_000 + i)
        };
        let email = if flagged(i) {
            format!("row{i}@yopmail.com")
        } else {
            format!("row{i}@huawei.com")
        };
        text.push_str(&format!("客户{i},{phone},{email},公司{i}\n"));
    }
    text.into_bytes()
}

/// (rejected, flagged, announced) among the first `rows` rows.
fn expected(rows: usize) -> (i64, i64, i64) {
    let rejected = (0..rows).filter(|&i| bad(i)).count() as i64;
    let flagged = (0..rows).filter(|&i| flagged(i)).count() as i64;
    (rejected, flagged, rows as i64 - rejected - flagged)
}

async fn import(client: &mut IntakeServiceClient<Channel>, bytes: Vec<u8>) -> ImportProgress {
    let mut messages = vec![ImportLeadsRequest {
        part: Some(Part::Metadata(ImportMetadata {
            file_name: "big.csv".into(),
            import_key: "sha256-of-big".into(),
            ..Default::default()
        })),
    }];
    messages.extend(bytes.chunks(8 * 1024).map(|c| ImportLeadsRequest {
        part: Some(Part::Chunk(c.to_vec())),
    }));
    let mut progress = client
        .import_leads(with_tenant(futures::stream::iter(messages), TENANT))
        .await
        .unwrap()
        .into_inner();
    let mut last = None;
    while let Some(message) = progress.next().await {
        last = Some(message.unwrap());
    }
    let done = last.expect("a final progress message");
    assert_eq!(done.state, ImportState::Done as i32, "{done:?}");
    done
}

/// How often each lead was announced, once `count` leads were; read again a moment
/// later so that an extra announcement still in the outbox is counted too.
async fn announced(h: &Harness, count: usize) -> HashMap<String, usize> {
    let js = async_nats::jetstream::new(async_nats::connect(h.nats.url()).await.unwrap());
    let read = || {
        let js = js.clone();
        async move {
            let mut counts = HashMap::new();
            for envelope in events::stream_envelopes(&js, "SHANGJI_LEAD")
                .await
                .map_err(|e| e.to_string())?
            {
                if envelope.event_type == LeadReceived::TYPE {
                    let event = LeadReceived::decode(envelope.payload.as_slice())
                        .map_err(|e| e.to_string())?;
                    *counts.entry(event.lead_id).or_insert(0usize) += 1;
                }
            }
            if counts.len() >= count {
                Ok(counts)
            } else {
                Err(format!("{} leads announced so far", counts.len()))
            }
        }
    };
    let wait = Duration::from_secs(30);
    let every = Duration::from_millis(100);
    poll_until("every good lead announced", wait, every, read)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    poll_until("the lead stream again", wait, every, read)
        .await
        .unwrap()
}

async fn partial_then_whole(backend: Backend) {
    let h = Harness::start(backend).await;
    let mut client = h.client.clone();

    let (rejected, flagged, _) = expected(FIRST_PART);
    let part = import(&mut client, csv(FIRST_PART)).await;
    assert_eq!(
        (part.rows_read, part.accepted, part.replayed, part.rejected),
        (FIRST_PART as i64, FIRST_PART as i64 - rejected, 0, rejected),
        "{part:?}"
    );
    assert!(flagged > 0);

    let (rejected, _, to_announce) = expected(ROWS);
    let whole = import(&mut client, csv(ROWS)).await;
    assert_eq!(
        (
            whole.rows_read,
            whole.accepted,
            whole.replayed,
            whole.rejected
        ),
        (
            ROWS as i64,
            ROWS as i64 - rejected - part.accepted,
            part.accepted,
            rejected
        ),
        "{whole:?}"
    );

    // Flagged rows are stored but not announced; every other good row exactly once.
    let counts = announced(&h, to_announce as usize).await;
    assert_eq!(counts.len() as i64, to_announce);
    assert!(counts.values().all(|&n| n == 1), "announced twice");

    // An announced lead of the second upload carries its trail step.
    let (lead_id, _) = counts.iter().next().unwrap();
    let lead = client
        .get_lead(with_tenant(
            GetLeadRequest {
                lead_id: lead_id.clone(),
            },
            TENANT,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(lead.status, LeadStatus::Received as i32);
    assert_eq!(lead.trail.len(), 1);
    assert_eq!(lead.trail[0].detail, "received via import (big.csv)");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partial_import_then_the_whole_file_stores_each_row_once_on_sqlite() {
    partial_then_whole(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partial_import_then_the_whole_file_stores_each_row_once_on_postgres() {
    if postgres_or_skip("a_partial_import_then_the_whole_file_stores_each_row_once_on_postgres") {
        partial_then_whole(Backend::Postgres).await;
    }
}
