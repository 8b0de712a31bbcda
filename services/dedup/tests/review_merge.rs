//! The review queue and merges over gRPC, with a real nats-server, on SQLite and on
//! PostgreSQL: a `same` decision merges and publishes customer_merged, an undo publishes
//! customer_unmerged, retries change nothing, bad requests name their fields.

mod common;

use std::time::Duration;

use common::{QualifiedFeed, TENANT, lead, publish, received};
use futures::StreamExt as _;
use prost::Message as _;
use shangji_contracts::dedup::dedup_service_client::DedupServiceClient;
use shangji_contracts::dedup::{
    GetCustomerRequest, ListReviewQueueRequest, MatchDecision, MergeCustomersRequest,
    ResolveReviewRequest, ReviewStatus, UnmergeCustomersRequest,
};
use shangji_contracts::events::lead::{CustomerMerged, CustomerUnmerged};
use shangji_contracts::events::{Envelope, Event};
use shangji_dedup::domain::merge_review::PossibleMatch;
use shangji_dedup::store::review::{self, Queued};
use shangji_platform::Db;
use shangji_platform::ids::{new_event_id, new_id};
use shangji_testkit::{NatsServer, Postgres};
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt as _;

const WAIT: Duration = Duration::from_secs(15);

/// Core-NATS subscription to one event type (JetStream publishes reach it too).
struct Feed<E> {
    subscriber: async_nats::Subscriber,
    _event: std::marker::PhantomData<E>,
}

impl<E: Event> Feed<E> {
    async fn subscribe(client: &async_nats::Client) -> Feed<E> {
        let subscriber = client.subscribe(E::subject()).await.unwrap();
        client.flush().await.unwrap();
        Feed {
            subscriber,
            _event: std::marker::PhantomData,
        }
    }

    async fn next(&mut self) -> (Envelope, E) {
        let message = tokio::time::timeout(WAIT, self.subscriber.next())
            .await
            .unwrap_or_else(|_| panic!("a {} event in time", E::TYPE))
            .unwrap();
        let envelope = Envelope::decode(message.payload.as_ref()).unwrap();
        let event = E::decode(envelope.payload.as_slice()).unwrap();
        (envelope, event)
    }

    /// Nothing more arrives within a short while.
    async fn assert_quiet(&mut self) {
        let next = tokio::time::timeout(Duration::from_millis(700), self.subscriber.next()).await;
        assert!(next.is_err(), "unexpected second {}", E::TYPE);
    }
}

/// Queues a possible match through a second connection to the service's database, as
/// the matcher's hook would inside the service. On SQLite this second writer can lose a
/// race with the service's own writer (SQLITE_BUSY); it then simply tries again.
async fn queue_beside_the_service(db: &Db, possible: &PossibleMatch) -> Queued {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let mut tx = db.begin().await.unwrap();
        let now = shangji_contracts::time::now_millis();
        match review::queue_possible_match(&mut tx, TENANT, possible, now).await {
            Ok(queued) => match tx.commit().await {
                Ok(()) => return queued,
                Err(err) if attempts < 20 => eprintln!("retrying after {err}"),
                Err(err) => panic!("{err}"),
            },
            Err(err) if attempts < 20 => eprintln!("retrying after {err}"),
            Err(err) => panic!("{err}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A request with tenant and acting user in its metadata.
fn as_user<T>(user: &str, message: T) -> tonic::Request<T> {
    let mut request = common::as_tenant(TENANT, message);
    request
        .metadata_mut()
        .insert("x-user-id", user.parse().unwrap());
    request
}

async fn customer_leads(
    client: &mut DedupServiceClient<Channel>,
    customer_id: &str,
) -> Vec<String> {
    client
        .get_customer(as_user(
            "li",
            GetCustomerRequest {
                customer_id: customer_id.into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .lead_ids
}

async fn review_and_merge_over_grpc(database_url: Option<String>) {
    let nats = NatsServer::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let dedup = common::start(common::settings(
        &nats.url(),
        data.path(),
        database_url.clone(),
    ))
    .await;
    let db_url = database_url.unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            data.path().join("dedup.db").display()
        )
    });
    let db = Db::connect(&db_url, "dedup").await.unwrap();
    let nats_client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(nats_client.clone());
    let mut qualified = QualifiedFeed::subscribe(&nats_client).await;
    let mut merged_feed = Feed::<CustomerMerged>::subscribe(&nats_client).await;
    let mut unmerged_feed = Feed::<CustomerUnmerged>::subscribe(&nats_client).await;

    // Three leads, three customers: nothing exact ties them together.
    let mut customers = Vec::new();
    let mut lead_ids = Vec::new();
    for (name, phone, email) in [
        ("王伟", "13800138000", ""),
        ("王先生", "", "wang@example.com"),
        ("李娜", "13900139000", ""),
    ] {
        let lead_id = new_id("lead");
        publish(
            &js,
            TENANT,
            &lead_id,
            &received(&lead_id, lead(name, phone, email)),
            &new_event_id(),
        )
        .await;
        let (_, event) = qualified.next(WAIT).await;
        assert_eq!(event.lead_id, lead_id);
        customers.push(event.customer_id);
        lead_ids.push(lead_id);
    }
    let (wang, mr_wang, li) = (
        customers[0].clone(),
        customers[1].clone(),
        customers[2].clone(),
    );

    // The matcher found two possible matches (as its Possible hook does).
    let mut review_ids = Vec::new();
    for (lead_id, customer, candidate) in
        [(&lead_ids[1], &mr_wang, &wang), (&lead_ids[2], &li, &wang)]
    {
        let possible = PossibleMatch {
            lead_id: lead_id.clone(),
            customer_id: customer.clone(),
            candidate_customer_id: candidate.clone(),
            score: 0.7,
            reasons: vec!["names alike".into()],
            evidence: vec![],
        };
        let queued = queue_beside_the_service(&db, &possible).await;
        let Queued::Added { review_id } = queued else {
            panic!("{queued:?}")
        };
        review_ids.push(review_id);
    }

    // The queue, one item per page, oldest first, with both customers to compare.
    let mut client = common::client(&dedup).await;
    let first_page = client
        .list_review_queue(as_user(
            "li",
            ListReviewQueueRequest {
                page_size: 1,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first_page.total_count, 2);
    assert_eq!(first_page.items.len(), 1);
    let item = &first_page.items[0];
    assert_eq!(item.review_id, review_ids[0]);
    assert_eq!(item.status, ReviewStatus::Open as i32);
    assert_eq!(item.customer.as_ref().unwrap().name, "王先生");
    assert_eq!(item.candidate.as_ref().unwrap().phones, vec!["13800138000"]);
    let second_page = client
        .list_review_queue(as_user(
            "li",
            ListReviewQueueRequest {
                page_size: 1,
                page_token: first_page.next_page_token.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second_page.items[0].review_id, review_ids[1]);
    assert!(second_page.next_page_token.is_empty());
    let other_tenant = client
        .list_review_queue(common::as_tenant(
            "globex",
            ListReviewQueueRequest::default(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(other_tenant.total_count, 0);

    // "Same": the older customer survives, the lead moves, customer_merged goes out.
    let same = ResolveReviewRequest {
        review_id: review_ids[0].clone(),
        decision: MatchDecision::Same as i32,
        note: "同一个人".into(),
        idempotency_key: "resolve-1".into(),
    };
    let resolved = client
        .resolve_review(as_user("li", same.clone()))
        .await
        .unwrap()
        .into_inner();
    let merge = resolved.merge.clone().expect("a merge");
    assert_eq!(merge.survivor_customer_id, wang);
    assert_eq!(merge.merged_customer_ids, vec![mr_wang.clone()]);
    assert_eq!(merge.decided_by, "li");
    assert_eq!(merge.review_id, review_ids[0]);
    let item = resolved.item.unwrap();
    assert_eq!(item.status, ReviewStatus::Same as i32);
    assert_eq!(
        (item.resolved_by.as_str(), item.note.as_str()),
        ("li", "同一个人")
    );
    assert_eq!(item.merge_id, merge.merge_id);
    let (envelope, event) = merged_feed.next().await;
    assert_eq!(event.merge_id, merge.merge_id);
    assert_eq!(event.survivor_customer_id, wang);
    assert_eq!(event.merged_customer_ids, vec![mr_wang.clone()]);
    assert_eq!(event.decided_by, "li");
    assert_eq!(
        (envelope.tenant_id.as_str(), envelope.user_id.as_str()),
        (TENANT, "li")
    );
    assert_eq!(
        customer_leads(&mut client, &wang).await,
        vec![lead_ids[0].clone(), lead_ids[1].clone()]
    );

    // A retry gets the same answer and merges nothing more; the opposite is refused.
    let retried = client
        .resolve_review(as_user("li", same.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried.merge.unwrap().merge_id, merge.merge_id);
    merged_feed.assert_quiet().await;
    let overturn = client
        .resolve_review(as_user(
            "zhao",
            ResolveReviewRequest {
                decision: MatchDecision::Different as i32,
                idempotency_key: String::new(),
                ..same.clone()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(overturn.code(), Code::FailedPrecondition);
    assert!(
        overturn.message().contains("resolved as same by li"),
        "{}",
        overturn.message()
    );

    // "Different": recorded, no merge, no event.
    let different = client
        .resolve_review(as_user(
            "li",
            ResolveReviewRequest {
                review_id: review_ids[1].clone(),
                decision: MatchDecision::Different as i32,
                note: String::new(),
                idempotency_key: "resolve-2".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(different.merge.is_none());
    assert_eq!(
        different.item.unwrap().status,
        ReviewStatus::Different as i32
    );
    merged_feed.assert_quiet().await;
    let open = client
        .list_review_queue(as_user("li", ListReviewQueueRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(open.total_count, 0);
    let decided = client
        .list_review_queue(as_user(
            "li",
            ListReviewQueueRequest {
                status: ReviewStatus::Different as i32,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(decided.items[0].review_id, review_ids[1]);

    // A dry run shows what would move and changes nothing.
    let dry = client
        .merge_customers(as_user(
            "li",
            MergeCustomersRequest {
                survivor_customer_id: wang.clone(),
                merged_customer_ids: vec![li.clone()],
                dry_run: true,
                reason: "same phone owner".into(),
                idempotency_key: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(dry.dry_run);
    let plan = dry.merge.unwrap();
    assert!(plan.merge_id.is_empty());
    let moved: Vec<(&str, &str)> = plan
        .moved
        .iter()
        .map(|m| (m.kind.as_str(), m.item.as_str()))
        .collect();
    assert_eq!(
        moved,
        vec![
            ("lead", lead_ids[2].as_str()),
            ("key", "phone:13900139000"),
            ("contact", li.as_str())
        ]
    );
    assert_eq!(
        customer_leads(&mut client, &li).await,
        vec![lead_ids[2].clone()]
    );
    merged_feed.assert_quiet().await;

    // Undo the review's merge: the lead goes back, customer_unmerged goes out; a retry
    // changes nothing, a second undo without the key is refused.
    let undo = UnmergeCustomersRequest {
        merge_id: merge.merge_id.clone(),
        idempotency_key: "undo-1".into(),
    };
    let undone = client
        .unmerge_customers(as_user("zhao", undo.clone()))
        .await
        .unwrap()
        .into_inner();
    let undone_merge = undone.merge.unwrap();
    assert_eq!(undone_merge.unmerged_by, "zhao");
    assert!(undone_merge.unmerged_at.is_some());
    let (_, event) = unmerged_feed.next().await;
    assert_eq!(event.merge_id, merge.merge_id);
    assert_eq!(event.survivor_customer_id, wang);
    assert_eq!(event.restored_customer_ids, vec![mr_wang.clone()]);
    assert_eq!(event.decided_by, "zhao");
    assert_eq!(
        customer_leads(&mut client, &mr_wang).await,
        vec![lead_ids[1].clone()]
    );
    assert_eq!(
        customer_leads(&mut client, &wang).await,
        vec![lead_ids[0].clone()]
    );
    let again = client
        .unmerge_customers(as_user("zhao", undo.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.merge.unwrap().unmerged_at, undone_merge.unmerged_at);
    unmerged_feed.assert_quiet().await;
    let twice = client
        .unmerge_customers(as_user(
            "zhao",
            UnmergeCustomersRequest {
                idempotency_key: String::new(),
                ..undo
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition);

    // Bad requests name each field; unknown ids are NOT_FOUND; a reused key is refused.
    let bad = client
        .resolve_review(as_user(
            "li",
            ResolveReviewRequest {
                review_id: " ".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let fields: Vec<String> = bad
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert_eq!(fields, ["review_id", "decision"]);
    let bad = client
        .merge_customers(as_user(
            "li",
            MergeCustomersRequest {
                survivor_customer_id: wang.clone(),
                merged_customer_ids: vec![wang.clone()],
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(
        bad.message().contains("merged_customer_ids"),
        "{}",
        bad.message()
    );
    let missing = client
        .merge_customers(as_user(
            "li",
            MergeCustomersRequest {
                survivor_customer_id: wang.clone(),
                merged_customer_ids: vec!["cus_nobody".into()],
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let reused = client
        .resolve_review(as_user(
            "li",
            ResolveReviewRequest {
                note: "other words".into(),
                ..same
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::InvalidArgument);
    assert!(
        reused.message().contains("idempotency_key"),
        "{}",
        reused.message()
    );

    dedup.stop().await.unwrap();
}

#[tokio::test]
async fn review_and_merge_on_sqlite() {
    review_and_merge_over_grpc(None).await;
}

#[tokio::test]
async fn review_and_merge_on_postgres() {
    let postgres = Postgres::start().await.unwrap();
    review_and_merge_over_grpc(Some(
        postgres.create_database("dedup_review").await.unwrap(),
    ))
    .await;
}
