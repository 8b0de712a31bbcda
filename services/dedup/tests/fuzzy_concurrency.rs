//! Two dedup replicas sharing one PostgreSQL database and one durable consumer, fed
//! near-simultaneous leads of one person written in different scripts and with no
//! phone or e-mail in common: fuzzy decisions are serialised, one customer comes out.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{QualifiedFeed, TENANT, lead, publish, received};
use shangji_platform::ids::{new_event_id, new_id};
use shangji_testkit::{NatsServer, Postgres};

const LEADS: usize = 20;

/// The one person at the one company, in the ways people write them, without any key.
const SPELLINGS: [(&str, &str); 5] = [
    ("王伟", "北京华为科技有限公司"),
    ("Wang Wei", "Huawei Technologies Co., Ltd."),
    ("王偉", "華為科技"),
    ("WEI WANG", "华为"),
    ("王伟", "华为技术(深圳)有限公司"),
];

#[tokio::test]
async fn two_replicas_racing_on_spellings_of_one_person_make_one_customer() {
    let nats = NatsServer::start().await.unwrap();
    let postgres = Postgres::start().await.unwrap();
    let database_url = postgres.create_database("dedup").await.unwrap();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let replica_settings = |dir: &tempfile::TempDir| {
        let mut settings = common::settings(&nats.url(), dir.path(), Some(database_url.clone()));
        // One message per pull, so the two replicas really share the work and race.
        settings.bus.batch_size = 1;
        settings
    };
    let (one, two) = tokio::join!(
        common::start(replica_settings(&dirs[0])),
        common::start(replica_settings(&dirs[1]))
    );
    assert_ne!(one.addr(), two.addr());

    let nats_client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(nats_client.clone());
    let mut qualified = QualifiedFeed::subscribe(&nats_client).await;

    let lead_ids: Vec<String> = (0..LEADS).map(|_| new_id("lead")).collect();
    futures::future::join_all(lead_ids.iter().enumerate().map(|(i, lead_id)| {
        let (name, company) = SPELLINGS[i % SPELLINGS.len()];
        let mut spelled = lead(name, "", "");
        spelled.company = company.to_owned();
        let event = received(lead_id, spelled);
        let js = js.clone();
        async move { publish(&js, TENANT, lead_id, &event, &new_event_id()).await }
    }))
    .await;

    let mut seen = BTreeSet::new();
    let mut customers = BTreeSet::new();
    let mut new_customers = 0;
    while seen.len() < LEADS {
        let (_, event) = qualified.next(Duration::from_secs(30)).await;
        assert!(
            seen.insert(event.lead_id.clone()),
            "lead {} qualified twice",
            event.lead_id
        );
        customers.insert(event.customer_id);
        new_customers += usize::from(event.new_customer);
    }
    assert_eq!(seen, lead_ids.iter().cloned().collect::<BTreeSet<_>>());
    assert_eq!(
        customers.len(),
        1,
        "every lead.qualified names the one customer: {customers:?}"
    );
    assert_eq!(new_customers, 1, "exactly one lead created the customer");

    let db = shangji_platform::Db::connect(&database_url, "dedup-test")
        .await
        .unwrap();
    let (count, lead_count): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(MAX(lead_count), 0) FROM customers WHERE tenant_id = $1",
    )
    .bind(TENANT)
    .fetch_one(db.reader())
    .await
    .unwrap();
    assert_eq!(count, 1, "exactly one customer in the database");
    assert_eq!(lead_count, LEADS as i64);
    let attached: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM customer_leads WHERE tenant_id = $1")
            .bind(TENANT)
            .fetch_one(db.reader())
            .await
            .unwrap();
    assert_eq!(attached, LEADS as i64);
    db.close().await;

    let (stopped_one, stopped_two) = tokio::join!(one.stop(), two.stop());
    stopped_one.unwrap();
    stopped_two.unwrap();
}
