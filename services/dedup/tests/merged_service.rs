//! Merged customers over the bus and gRPC, with a real nats-server, on SQLite and on
//! PostgreSQL: after 王伟 (B) is merged into 李娜 (A), leads and CheckDuplicate find A
//! (once), GetCustomer(B) points at A, the review queue drops pairs with B, and undoing
//! the merge makes B a customer of its own again.

mod common;

use std::time::Duration;

use common::{QualifiedFeed, TENANT, publish, received};
use shangji_contracts::common::Lead;
use shangji_contracts::dedup::dedup_service_client::DedupServiceClient;
use shangji_contracts::dedup::{
    CheckDuplicateRequest, Customer, GetCustomerRequest, ListReviewQueueRequest,
    MergeCustomersRequest, UnmergeCustomersRequest,
};
use shangji_contracts::events::lead::LeadQualified;
use shangji_platform::ids::{new_event_id, new_id};
use shangji_testkit::{NatsServer, Postgres};
use tonic::transport::Channel;

const WAIT: Duration = Duration::from_secs(15);

fn lead(name: &str, company: &str, phone: &str) -> Lead {
    Lead {
        contact_name: name.into(),
        company: company.into(),
        phone: phone.into(),
        ..Lead::default()
    }
}

struct Bus {
    js: async_nats::jetstream::Context,
    qualified: QualifiedFeed,
}

impl Bus {
    /// Publishes a lead.received and waits for its lead.qualified.
    async fn qualify(&mut self, lead: Lead) -> LeadQualified {
        let lead_id = new_id("lead");
        publish(
            &self.js,
            TENANT,
            &lead_id,
            &received(&lead_id, lead),
            &new_event_id(),
        )
        .await;
        let (_, event) = self.qualified.next(WAIT).await;
        assert_eq!(event.lead_id, lead_id);
        event
    }
}

fn as_user<T>(message: T) -> tonic::Request<T> {
    let mut request = common::as_tenant(TENANT, message);
    request
        .metadata_mut()
        .insert("x-user-id", "li".parse().unwrap());
    request
}

/// The customers CheckDuplicate names for `lead`, in its order.
async fn duplicates(client: &mut DedupServiceClient<Channel>, lead: Lead) -> Vec<String> {
    client
        .check_duplicate(as_user(CheckDuplicateRequest {
            lead: Some(lead),
            limit: 0,
        }))
        .await
        .unwrap()
        .into_inner()
        .matches
        .into_iter()
        .map(|m| m.customer_id)
        .collect()
}

async fn customer(client: &mut DedupServiceClient<Channel>, customer_id: &str) -> Customer {
    client
        .get_customer(as_user(GetCustomerRequest {
            customer_id: customer_id.into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap()
}

/// (customer, candidate) of each open review item, and the total the queue reports.
async fn open_pairs(client: &mut DedupServiceClient<Channel>) -> (Vec<(String, String)>, u64) {
    let page = client
        .list_review_queue(as_user(ListReviewQueueRequest::default()))
        .await
        .unwrap()
        .into_inner();
    let pairs = page
        .items
        .into_iter()
        .map(|item| (item.customer_id, item.candidate_customer_id))
        .collect();
    (pairs, page.total_count)
}

async fn merged_customers_over_the_bus(database_url: Option<String>) {
    let nats = NatsServer::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let dedup = common::start(common::settings(&nats.url(), data.path(), database_url)).await;
    let nats_client = async_nats::connect(nats.url()).await.unwrap();
    let mut bus = Bus {
        js: async_nats::jetstream::new(nats_client.clone()),
        qualified: QualifiedFeed::subscribe(&nats_client).await,
    };
    let mut client = common::client(&dedup).await;

    let a = bus
        .qualify(lead("李娜", "腾讯科技", "13900139000"))
        .await
        .customer_id;
    let b = bus
        .qualify(lead("王伟", "北京华为科技有限公司", "13800138000"))
        .await
        .customer_id;
    assert_ne!(a, b);
    // 王先生 at Huawei: a customer of his own, and the pair (him, B) waits for review.
    let x = bus
        .qualify(lead("王先生", "华为(深圳)", ""))
        .await
        .customer_id;
    assert_eq!(open_pairs(&mut client).await, (vec![(x, b.clone())], 1));

    let merged = client
        .merge_customers(as_user(MergeCustomersRequest {
            survivor_customer_id: a.clone(),
            merged_customer_ids: vec![b.clone()],
            dry_run: false,
            reason: "one person, two phones".into(),
            idempotency_key: "merge-b-into-a".into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .merge
        .unwrap();

    // 5. The pair with the merged-away B is no longer offered.
    assert_eq!(open_pairs(&mut client).await, (Vec::new(), 0));
    // 3. B still answers, pointing at A; A points nowhere.
    let merged_away = customer(&mut client, &b).await;
    assert_eq!(
        (
            merged_away.survivor_customer_id.as_str(),
            merged_away.merged_by_merge_id.as_str()
        ),
        (a.as_str(), merged.merge_id.as_str())
    );
    let survivor = customer(&mut client, &a).await;
    assert_eq!(survivor.survivor_customer_id, "");
    assert_eq!(survivor.merged_by_merge_id, "");
    // 1. CheckDuplicate names A first for B's look-alike and for B's own data, once,
    // and never B (王先生 may follow as a possible match).
    let like_b = lead("Wang Wei", "Huawei Technologies Co., Ltd.", "");
    for check in [like_b.clone(), lead("王伟", "华为", "13800138000")] {
        let found = duplicates(&mut client, check).await;
        assert_eq!(found.first(), Some(&a), "{found:?}");
        assert!(!found.contains(&b), "merged-away B offered: {found:?}");
        let mut distinct = found.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), found.len(), "a customer twice: {found:?}");
    }
    // 1 and 2. Leads like B, or with B's phone, are qualified for A.
    let qualified = bus.qualify(like_b.clone()).await;
    assert_eq!(
        (qualified.customer_id.as_str(), qualified.new_customer),
        (a.as_str(), false)
    );
    let qualified = bus.qualify(lead("", "", "13800138000")).await;
    assert_eq!(qualified.customer_id, a);

    // 4. Undone: B is a customer of its own again, found by its phone and its profile.
    client
        .unmerge_customers(as_user(UnmergeCustomersRequest {
            merge_id: merged.merge_id.clone(),
            idempotency_key: "unmerge-b".into(),
        }))
        .await
        .unwrap();
    let restored = customer(&mut client, &b).await;
    assert_eq!(restored.survivor_customer_id, "");
    assert_eq!(restored.merged_by_merge_id, "");
    assert_eq!(open_pairs(&mut client).await.1, 1);
    // (A keeps the leads that came to it while B was merged, so it may follow B.)
    let by_phone = duplicates(&mut client, lead("", "", "13800138000")).await;
    assert_eq!(by_phone.first(), Some(&b), "{by_phone:?}");
    let qualified = bus
        .qualify(lead("王伟", "北京华为科技有限公司", "13800138000"))
        .await;
    assert_eq!(qualified.customer_id, b);
}

#[tokio::test]
async fn merged_customers_over_the_bus_on_sqlite() {
    merged_customers_over_the_bus(None).await;
}

#[tokio::test]
async fn merged_customers_over_the_bus_on_postgres() {
    let postgres = Postgres::start().await.unwrap();
    let url = postgres
        .create_database("dedup_merged_service")
        .await
        .unwrap();
    merged_customers_over_the_bus(Some(url)).await;
}
