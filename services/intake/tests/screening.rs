//! Screening through the real gRPC API with a real nats-server, on SQLite and PostgreSQL:
//! suspicious leads are flagged and kept, not announced until a person releases them
//! (exactly once, however often the release is retried), discarded ones never are, floods
//! are flagged past their limit, good leads pass untouched, and an import keeps its
//! flagged rows.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt as _;
use prost::Message as _;
use shangji_contracts::common::Lead;
use shangji_contracts::events::Event as _;
use shangji_contracts::events::lead::LeadReceived;
use shangji_contracts::intake::import_leads_request::Part;
use shangji_contracts::intake::intake_service_client::IntakeServiceClient;
use shangji_contracts::intake::{
    DiscardFlaggedLeadRequest, FlagState, FlaggedLead, GetLeadRequest, GetLeadResponse,
    ImportLeadsRequest, ImportMetadata, ImportState, LeadStatus, ListFlaggedLeadsRequest,
    ReleaseFlaggedLeadRequest, ScreeningCode, SubmitLeadRequest, SubmitLeadResponse,
};
use shangji_intake::IntakeConfig;
use shangji_testkit::{events, poll_until};
use support::{Backend, Harness, postgres_or_skip, violated_fields, with_tenant};
use tonic::transport::Channel;

const TENANT: &str = "acme";

/// A small per-contact flood limit.
fn config() -> IntakeConfig {
    IntakeConfig {
        flood_max_per_contact: 3,
        ..IntakeConfig::default()
    }
}

fn person(name: &str, phone: &str, email: &str) -> Lead {
    Lead {
        contact_name: name.into(),
        phone: phone.into(),
        email: email.into(),
        company: "北京华为科技有限公司".into(),
        need: "需要一套 CRM".into(),
        ..Default::default()
    }
}

async fn submit(
    client: &mut IntakeServiceClient<Channel>,
    key: &str,
    lead: Lead,
) -> SubmitLeadResponse {
    client
        .submit_lead(with_tenant(
            SubmitLeadRequest {
                idempotency_key: key.into(),
                lead: Some(lead),
            },
            TENANT,
        ))
        .await
        .unwrap()
        .into_inner()
}

async fn get(client: &mut IntakeServiceClient<Channel>, lead_id: &str) -> GetLeadResponse {
    client
        .get_lead(with_tenant(
            GetLeadRequest {
                lead_id: lead_id.into(),
            },
            TENANT,
        ))
        .await
        .unwrap()
        .into_inner()
}

async fn list(
    client: &mut IntakeServiceClient<Channel>,
    request: ListFlaggedLeadsRequest,
) -> (Vec<FlaggedLead>, String) {
    let page = client
        .list_flagged_leads(with_tenant(request, TENANT))
        .await
        .unwrap()
        .into_inner();
    (page.leads, page.next_page_token)
}

fn ids(leads: &[FlaggedLead]) -> Vec<&str> {
    leads.iter().map(|l| l.lead_id.as_str()).collect()
}

fn release(key: &str, lead_id: &str) -> tonic::Request<ReleaseFlaggedLeadRequest> {
    with_tenant(
        ReleaseFlaggedLeadRequest {
            idempotency_key: key.into(),
            lead_id: lead_id.into(),
            note: "called back: a real customer".into(),
        },
        TENANT,
    )
}

fn discard(key: &str, lead_id: &str, note: &str) -> tonic::Request<DiscardFlaggedLeadRequest> {
    with_tenant(
        DiscardFlaggedLeadRequest {
            idempotency_key: key.into(),
            lead_id: lead_id.into(),
            note: note.into(),
        },
        TENANT,
    )
}

/// How often each lead was announced on the lead stream, once `expected` all were and
/// at least `at_least` leads were. A moment later the stream is read again, so that an
/// extra announcement still in the outbox would be counted too.
async fn announced(h: &Harness, expected: &[&str], at_least: usize) -> HashMap<String, usize> {
    let js = async_nats::jetstream::new(async_nats::connect(h.nats.url()).await.unwrap());
    let seen = poll_until(
        "lead.received of the expected leads",
        Duration::from_secs(20),
        Duration::from_millis(50),
        || {
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
                        *counts.entry(event.lead_id).or_insert(0) += 1;
                    }
                }
                if counts.len() >= at_least && expected.iter().all(|id| counts.contains_key(*id)) {
                    Ok(counts)
                } else {
                    Err(format!("announced so far: {counts:?}"))
                }
            }
        },
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again = poll_until(
        "the lead stream again",
        Duration::from_secs(5),
        Duration::from_millis(50),
        || {
            let js = js.clone();
            async move {
                events::stream_envelopes(&js, "SHANGJI_LEAD")
                    .await
                    .map_err(|e| e.to_string())
            }
        },
    )
    .await
    .unwrap();
    let received = again
        .iter()
        .filter(|e| e.event_type == LeadReceived::TYPE)
        .count();
    assert_eq!(
        received,
        seen.values().sum::<usize>(),
        "announcements kept coming: {seen:?}"
    );
    seen
}

async fn suspicious_leads_wait_for_a_person(backend: Backend) {
    let h = Harness::start_with(backend, config()).await;
    let mut client = h.client.clone();
    let c = &mut client;

    // A good lead passes untouched.
    let good = submit(
        c,
        "good",
        person("王伟", "+86 138-0013-8001", "wang.wei@huawei.com"),
    )
    .await;
    assert!(!good.flagged);
    assert!(good.flags.is_empty());
    assert_eq!(
        get(c, &good.lead_id).await.status,
        LeadStatus::Received as i32
    );

    // Suspicious ones are stored, flagged with reasons, and not announced.
    let disposable = submit(c, "d", person("李娜", "13912345670", "li@mailinator.com")).await;
    assert!(disposable.flagged);
    assert_eq!(disposable.flags.len(), 1);
    assert_eq!(
        disposable.flags[0].code,
        ScreeningCode::DisposableEmail as i32
    );
    assert_eq!(disposable.flags[0].field, "lead.email");
    assert!(
        disposable.flags[0].reason.contains("一次性邮箱"),
        "{:?}",
        disposable.flags
    );
    assert!(disposable.flags[0].reason.contains("mailinator.com"));
    let test_data = submit(c, "t", person("测试", "13912345671", "")).await;
    assert_eq!(test_data.flags[0].code, ScreeningCode::TestData as i32);
    let impossible = submit(c, "p", person("赵强", "11111111111", "")).await;
    assert_eq!(
        impossible.flags[0].code,
        ScreeningCode::ImpossiblePhone as i32
    );

    let held = get(c, &disposable.lead_id).await;
    assert_eq!(held.status, LeadStatus::Flagged as i32);
    assert_eq!(held.lead.unwrap().email, "li@mailinator.com");
    assert_eq!(held.trail.len(), 1);
    assert_eq!(held.trail[0].status, LeadStatus::Flagged as i32);
    assert!(
        held.trail[0]
            .detail
            .contains("held for review by screening"),
        "{:?}",
        held.trail
    );
    assert!(held.trail[0].detail.contains("mailinator.com"));

    // A retried submission answers as the first time: still flagged, nothing new.
    let again = submit(c, "d", person("李娜", "13912345670", "li@mailinator.com")).await;
    assert!(again.replayed && again.flagged);
    assert_eq!(again.lead_id, disposable.lead_id);

    // The queue lists them in arrival order, by reason, page by page.
    let (pending, next) = list(c, ListFlaggedLeadsRequest::default()).await;
    assert_eq!(
        ids(&pending),
        [&disposable.lead_id, &test_data.lead_id, &impossible.lead_id]
    );
    assert!(next.is_empty());
    assert_eq!(pending[0].state, FlagState::Pending as i32);
    assert_eq!(pending[0].attribution.as_ref().unwrap().channel, "grpc");
    assert_eq!(
        pending[0].flags[0].code,
        ScreeningCode::DisposableEmail as i32
    );
    let (only_phones, _) = list(
        c,
        ListFlaggedLeadsRequest {
            code: ScreeningCode::ImpossiblePhone as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(&only_phones), [&impossible.lead_id]);
    let (first, token) = list(
        c,
        ListFlaggedLeadsRequest {
            page_size: 2,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(first.len(), 2);
    let (second, last) = list(
        c,
        ListFlaggedLeadsRequest {
            page_size: 2,
            page_token: token,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(&second), [&impossible.lead_id]);
    assert!(last.is_empty());

    // Released: once, whether retried with the same key, another key, or concurrently.
    let released = c
        .release_flagged_lead(release("r-1", &disposable.lead_id))
        .await
        .unwrap()
        .into_inner();
    assert!(!released.replayed);
    let decided = released.lead.unwrap();
    assert_eq!(decided.state, FlagState::Released as i32);
    assert_eq!(decided.decided_by, "admin.li");
    let (mut c1, mut c2, mut c3) = (c.clone(), c.clone(), c.clone());
    let (a, b, d) = tokio::join!(
        c1.release_flagged_lead(release("r-1", &disposable.lead_id)),
        c2.release_flagged_lead(release("r-2", &disposable.lead_id)),
        c3.release_flagged_lead(release("", &disposable.lead_id)),
    );
    for retry in [a, b, d] {
        let retry = retry.unwrap().into_inner();
        assert!(retry.replayed);
        assert_eq!(retry.lead.unwrap().decided_at, decided.decided_at);
    }
    let now_received = get(c, &disposable.lead_id).await;
    assert_eq!(now_received.status, LeadStatus::Received as i32);
    assert!(
        now_received
            .trail
            .iter()
            .any(|s| s.status == LeadStatus::Received as i32
                && s.detail == "released by admin.li: called back: a real customer"),
        "{:?}",
        now_received.trail
    );

    // Discarded: kept with who and why, never announced.
    let err = c
        .discard_flagged_lead(discard("x-0", &test_data.lead_id, ""))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert_eq!(violated_fields(&err), ["note"]);
    let thrown = c
        .discard_flagged_lead(discard(
            "x-1",
            &test_data.lead_id,
            "someone trying the form",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        thrown.lead.as_ref().unwrap().state,
        FlagState::Discarded as i32
    );
    let twice = c
        .discard_flagged_lead(discard(
            "x-2",
            &test_data.lead_id,
            "someone trying the form",
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(twice.replayed);
    let gone = get(c, &test_data.lead_id).await;
    assert_eq!(gone.status, LeadStatus::Discarded as i32);
    assert!(
        gone.trail
            .iter()
            .any(|s| s.detail == "discarded by admin.li: someone trying the form")
    );

    // The other decision is refused once one was made; non-flagged leads have none.
    let err = c
        .discard_flagged_lead(discard("x-3", &disposable.lead_id, "changed my mind"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert!(
        err.message().contains("already released by admin.li"),
        "{}",
        err.message()
    );
    let err = c
        .release_flagged_lead(release("r-3", &test_data.lead_id))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert!(err.message().contains("discarded"), "{}", err.message());
    let err = c
        .release_flagged_lead(release("r-4", &good.lead_id))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    let err = c
        .release_flagged_lead(release("r-5", "lead_nope"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);

    let (still_pending, _) = list(c, ListFlaggedLeadsRequest::default()).await;
    assert_eq!(ids(&still_pending), [&impossible.lead_id]);
    let (was_released, _) = list(
        c,
        ListFlaggedLeadsRequest {
            state: FlagState::Released as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(&was_released), [&disposable.lead_id]);

    // On the bus: the good lead and the released one, each exactly once; the discarded
    // and the pending ones never.
    let counts = announced(&h, &[&good.lead_id, &disposable.lead_id], 2).await;
    assert_eq!(counts.get(&good.lead_id), Some(&1));
    assert_eq!(counts.get(&disposable.lead_id), Some(&1), "{counts:?}");
    assert_eq!(counts.get(&test_data.lead_id), None);
    assert_eq!(counts.get(&impossible.lead_id), None);
    assert_eq!(counts.len(), 2, "{counts:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn suspicious_leads_wait_for_a_person_on_sqlite() {
    suspicious_leads_wait_for_a_person(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn suspicious_leads_wait_for_a_person_on_postgres() {
    if postgres_or_skip("suspicious_leads_wait_for_a_person_on_postgres") {
        suspicious_leads_wait_for_a_person(Backend::Postgres).await;
    }
}

async fn floods_are_flagged_past_the_limit(backend: Backend) {
    let h = Harness::start_with(backend, config()).await;
    let mut client = h.client.clone();
    let c = &mut client;
    // The limit is 3 per phone: the fourth submission within the hour is a flood, however
    // the number is written.
    let spellings = [
        "13700137000",
        "+86 137-0013-7000",
        "137 0013 7000",
        "0086 13700137000",
    ];
    let mut results = Vec::new();
    for (i, phone) in spellings.iter().enumerate() {
        results.push(submit(c, &format!("f-{i}"), person("周杰", phone, "")).await);
    }
    let flagged: Vec<bool> = results.iter().map(|r| r.flagged).collect();
    assert_eq!(flagged, [false, false, false, true]);
    let flood = &results[3].flags;
    assert_eq!(flood.len(), 1);
    assert_eq!(flood[0].code, ScreeningCode::Flood as i32);
    assert_eq!(flood[0].field, "lead.phone");
    assert!(
        flood[0].reason.contains("more than the limit of 3"),
        "{}",
        flood[0].reason
    );
    // Replays are not submissions: they count nothing.
    assert!(
        !submit(c, "f-0", person("周杰", spellings[0], ""))
            .await
            .flagged
    );
    // Another contact is not held back by this one's flood; another tenant counts apart.
    assert!(
        !submit(c, "other", person("吴敏", "13600136000", ""))
            .await
            .flagged
    );
    let theirs = c
        .submit_lead(with_tenant(
            SubmitLeadRequest {
                idempotency_key: "f-x".into(),
                lead: Some(person("周杰", spellings[0], "")),
            },
            "globex",
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!theirs.flagged);
    let (queue, _) = list(
        c,
        ListFlaggedLeadsRequest {
            code: ScreeningCode::Flood as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(&queue), [&results[3].lead_id]);
    h.stop().await;
}

/// Submissions arriving together share a transaction and one count of the flood
/// counters; each must still see the count as it was right after it was added, so a
/// burst for one phone lets exactly the limit through, however the burst was grouped,
/// and a retry racing its first call counts once.
async fn a_burst_for_one_contact_lets_the_limit_through(backend: Backend) {
    let h = Harness::start_with(backend, config()).await;
    let calls = (0..12).map(|i| {
        let mut client = h.client.clone();
        async move {
            // Keys 0-7, four of them sent twice at once.
            let key = format!("burst-{}", i % 8);
            let lead = person("郑洁", "13500135000", "");
            (key.clone(), submit(&mut client, &key, lead).await)
        }
    });
    let answers = futures::future::join_all(calls).await;
    let mut by_key: HashMap<String, SubmitLeadResponse> = HashMap::new();
    for (key, answer) in answers {
        if let Some(first) = by_key.get(&key) {
            assert_eq!(
                first.lead_id, answer.lead_id,
                "a retry of {key} got another lead"
            );
            assert_eq!(
                first.flagged, answer.flagged,
                "a retry of {key} was screened apart"
            );
        }
        by_key.insert(key, answer);
    }
    assert_eq!(by_key.len(), 8);
    let flagged = by_key.values().filter(|a| a.flagged).count();
    assert_eq!(
        flagged, 5,
        "a limit of 3 lets three of eight submissions through"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_for_one_contact_lets_the_limit_through_on_sqlite() {
    a_burst_for_one_contact_lets_the_limit_through(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_for_one_contact_lets_the_limit_through_on_postgres() {
    if postgres_or_skip("a_burst_for_one_contact_lets_the_limit_through_on_postgres") {
        a_burst_for_one_contact_lets_the_limit_through(Backend::Postgres).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn floods_are_flagged_past_the_limit_on_sqlite() {
    floods_are_flagged_past_the_limit(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn floods_are_flagged_past_the_limit_on_postgres() {
    if postgres_or_skip("floods_are_flagged_past_the_limit_on_postgres") {
        floods_are_flagged_past_the_limit(Backend::Postgres).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_keeps_its_flagged_rows() {
    let h = Harness::start_with(Backend::Sqlite, config()).await;
    let mut client = h.client.clone();
    let c = &mut client;
    let csv = "name,phone,email,company\n\
               王伟,13800138002,wang@huawei.com,华为\n\
               测试,13800138003,,测试公司\n\
               李娜,13800138004,li@yopmail.com,中兴\n";
    let messages = vec![
        ImportLeadsRequest {
            part: Some(Part::Metadata(ImportMetadata {
                file_name: "expo.csv".into(),
                import_key: "expo-1".into(),
                ..Default::default()
            })),
        },
        ImportLeadsRequest {
            part: Some(Part::Chunk(csv.as_bytes().to_vec())),
        },
    ];
    let mut progress = c
        .import_leads(with_tenant(futures::stream::iter(messages), TENANT))
        .await
        .unwrap()
        .into_inner();
    let mut last = None;
    while let Some(message) = progress.next().await {
        last = Some(message.unwrap());
    }
    let done = last.unwrap();
    assert_eq!(done.state, ImportState::Done as i32);
    // Flagged rows are stored leads, not rejected rows.
    assert_eq!((done.accepted, done.rejected), (3, 0));

    let (queue, _) = list(c, ListFlaggedLeadsRequest::default()).await;
    let codes: Vec<i32> = queue.iter().map(|l| l.flags[0].code).collect();
    assert_eq!(
        codes,
        [
            ScreeningCode::TestData as i32,
            ScreeningCode::DisposableEmail as i32
        ]
    );
    let attribution = queue[0].attribution.as_ref().unwrap();
    assert_eq!(
        (
            attribution.channel.as_str(),
            attribution.channel_id.as_str()
        ),
        ("import", "expo.csv")
    );
    assert_eq!(queue[1].lead.as_ref().unwrap().contact_name, "李娜");

    // Only the good row went downstream.
    let counts = announced(&h, &[], 1).await;
    let good: Vec<&String> = counts.keys().collect();
    assert_eq!(good.len(), 1, "{counts:?}");
    assert_eq!(get(c, good[0]).await.lead.unwrap().contact_name, "王伟");
    h.stop().await;
}
