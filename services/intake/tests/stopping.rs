//! Stopping a service while a client keeps a call open.

mod support;

use std::time::Duration;

use futures::StreamExt as _;
use shangji_contracts::intake::LeadSubmission;
use support::{Backend, Harness, lead, with_tenant};

/// A SubmitLeads stream the client never ends would keep a graceful gRPC stop waiting
/// forever (the call is still open). The stop must end after the grace period (5 s in
/// the harness) anyway, and cleanly (`stop` fails otherwise), or a rollout hangs on one
/// slow client.
#[tokio::test]
async fn a_call_left_open_does_not_hold_the_stop() {
    let harness = Harness::start(Backend::Sqlite).await;
    let first = LeadSubmission {
        idempotency_key: "open-1".into(),
        lead: Some(lead()),
        attribution: None,
    };
    // One submission, then nothing, never the end of the stream.
    let never_ending = futures::stream::iter([first]).chain(futures::stream::pending());
    let mut client = harness.client.clone();
    let call =
        tokio::spawn(async move { client.submit_leads(with_tenant(never_ending, "acme")).await });
    // Let the call reach the server and start reading the stream.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!call.is_finished(), "the call is still open");

    tokio::time::timeout(Duration::from_secs(30), harness.stop())
        .await
        .expect("the stop ends after the grace period despite the open call");
    // In-process the abandoned connection's task outlives the stop; a service binary
    // exits right after, which closes it.
    call.abort();
}
