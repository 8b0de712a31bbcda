//! The customer store on SQLite and on PostgreSQL, including the races between replicas
//! that only PostgreSQL can show.

use std::time::Duration;

use shangji_dedup::domain::{KeyKind, MatchKey};
use shangji_dedup::store::{LeadIdentity, Resolution, customers, resolve_customer};
use shangji_platform::Db;
use shangji_testkit::{Postgres, poll_until};

const TENANT: &str = "acme";

fn phone(value: &str) -> MatchKey {
    MatchKey::new(KeyKind::Phone, value)
}

fn email(value: &str) -> MatchKey {
    MatchKey::new(KeyKind::Email, value)
}

fn identity(lead_id: &str, keys: Vec<MatchKey>) -> LeadIdentity {
    let mut keys = keys;
    keys.sort();
    LeadIdentity {
        lead_id: lead_id.into(),
        keys,
        name: format!("name of {lead_id}"),
        company: String::new(),
    }
}

async fn migrated(url: &str) -> Db {
    let db = Db::connect(url, "dedup").await.unwrap();
    db.migrate(shangji_dedup::SPEC.migrations).await.unwrap();
    db
}

/// Resolves one lead in a transaction of its own.
async fn resolve(db: &Db, tenant: &str, lead: &LeadIdentity, now: i64) -> Resolution {
    let mut tx = db.begin().await.unwrap();
    let resolution = resolve_customer(&mut tx, tenant, lead, now).await.unwrap();
    tx.commit().await.unwrap();
    resolution
}

fn created(resolution: &Resolution) -> String {
    match resolution {
        Resolution::Created { customer_id, .. } => customer_id.clone(),
        other => panic!("expected a new customer, got {other:?}"),
    }
}

async fn customer_count(db: &Db, tenant: &str) -> i64 {
    let mut conn = db.reader().acquire().await.unwrap();
    customers::count_customers(&mut conn, tenant).await.unwrap()
}

/// The behaviour every backend must show.
async fn store_contract(db: &Db) {
    let mut conn = db.reader().acquire().await.unwrap();

    // A first lead creates its customer and claims its key.
    let first = resolve(
        db,
        TENANT,
        &identity("lead_1", vec![phone("13800138000")]),
        1_000,
    )
    .await;
    let wang = created(&first);

    // A second lead sharing the phone joins it and brings its e-mail along.
    let second_lead = identity(
        "lead_2",
        vec![phone("13800138000"), email("wang@example.com")],
    );
    let second = resolve(db, TENANT, &second_lead, 2_000).await;
    let Resolution::Attached {
        customer_id,
        reasons,
    } = &second
    else {
        panic!("expected to attach, got {second:?}")
    };
    assert_eq!(customer_id, &wang);
    assert_eq!(
        reasons,
        &vec![format!("phone 13800138000 matches customer {wang} exactly")]
    );
    assert_eq!(
        customers::customer_keys(&mut conn, TENANT, &wang)
            .await
            .unwrap(),
        vec![phone("13800138000"), email("wang@example.com")]
    );

    // The same lead again changes nothing.
    let again = resolve(db, TENANT, &second_lead, 3_000).await;
    assert_eq!(
        again,
        Resolution::AlreadyAttached {
            customer_id: wang.clone()
        }
    );
    let record = customers::customer(&mut conn, TENANT, &wang)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.lead_count, 2);
    assert_eq!(record.name, "name of lead_1");
    assert_eq!((record.created_at, record.updated_at), (1_000, 2_000));
    assert_eq!(
        customers::customer_lead_ids(&mut conn, TENANT, &wang)
            .await
            .unwrap(),
        vec!["lead_1", "lead_2"]
    );

    // Leads without keys always get customers of their own.
    let a = created(&resolve(db, TENANT, &identity("lead_3", vec![]), 4_000).await);
    let b = created(&resolve(db, TENANT, &identity("lead_4", vec![]), 4_000).await);
    assert_ne!(a, b);
    assert_ne!(a, wang);

    // Keys split over two customers: the one holding more wins; on a tie, the older.
    let li = created(
        &resolve(
            db,
            TENANT,
            &identity("lead_5", vec![email("li@example.com")]),
            5_000,
        )
        .await,
    );
    let zhao = created(
        &resolve(
            db,
            TENANT,
            &identity("lead_6", vec![phone("13900139000")]),
            6_000,
        )
        .await,
    );
    let tie = resolve(
        db,
        TENANT,
        &identity(
            "lead_7",
            vec![email("li@example.com"), phone("13900139000")],
        ),
        7_000,
    )
    .await;
    let Resolution::Attached {
        customer_id,
        reasons,
    } = &tie
    else {
        panic!("{tie:?}")
    };
    assert_eq!(customer_id, &li, "the older customer wins a tie");
    assert!(reasons[1].contains(&zhao), "{reasons:?}");
    let most = resolve(
        db,
        TENANT,
        &identity(
            "lead_8",
            vec![email("wang@example.com"), phone("13800138000")],
        ),
        8_000,
    )
    .await;
    assert!(
        matches!(&most, Resolution::Attached { customer_id, .. } if customer_id == &wang),
        "{most:?}"
    );

    // Several leads in one transaction (a consumer batch) see each other's writes.
    let mut tx = db.begin().await.unwrap();
    let batch_first = resolve_customer(
        &mut tx,
        TENANT,
        &identity("lead_9", vec![phone("13700137000")]),
        9_000,
    )
    .await
    .unwrap();
    let batch_second = resolve_customer(
        &mut tx,
        TENANT,
        &identity("lead_10", vec![phone("13700137000")]),
        9_000,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let zhou = created(&batch_first);
    assert!(
        matches!(&batch_second, Resolution::Attached { customer_id, .. } if customer_id == &zhou)
    );

    // Tenants never see each other's customers or keys.
    let other = created(
        &resolve(
            db,
            "globex",
            &identity("lead_1", vec![phone("13800138000")]),
            10_000,
        )
        .await,
    );
    assert_ne!(other, wang);
    assert!(
        customers::customer(&mut conn, "globex", &wang)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        customers::customer_lead_ids(&mut conn, "globex", &wang)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(customer_count(db, "globex").await, 1);
    assert_eq!(customer_count(db, TENANT).await, 6);

    // Claiming keys in one statement: a key listed twice counts once; one key held by
    // another customer makes the claim report false, and the holder keeps it.
    let mut tx = db.begin().await.unwrap();
    let fresh = [
        phone("13900000001"),
        email("new@example.com"),
        phone("13900000001"),
    ];
    assert!(
        customers::claim_keys(&mut tx, TENANT, &fresh, &zhou, 11_000)
            .await
            .unwrap()
    );
    let taken = [phone("13900000002"), phone("13800138000")];
    assert!(
        !customers::claim_keys(&mut tx, TENANT, &taken, &zhou, 11_000)
            .await
            .unwrap()
    );
    let all = [fresh[1].clone(), taken[0].clone(), taken[1].clone()];
    let owners = customers::key_owners(&mut tx, TENANT, &all).await.unwrap();
    let held: Vec<&str> = owners.iter().map(|o| o.customer_id.as_str()).collect();
    assert_eq!(held, vec![zhou.as_str(), zhou.as_str(), wang.as_str()]);
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn store_contract_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("dedup.db").display()
    );
    store_contract(&migrated(&url).await).await;
}

#[tokio::test]
async fn store_contract_and_races_on_postgres() {
    let postgres = Postgres::start().await.unwrap();
    store_contract(&migrated(&postgres.create_database("dedup_contract").await.unwrap()).await)
        .await;
    two_new_leads_racing_for_one_phone_make_one_customer(
        &migrated(&postgres.create_database("dedup_race_keys").await.unwrap()).await,
    )
    .await;
    one_lead_delivered_twice_at_once_is_attached_once(
        &migrated(&postgres.create_database("dedup_race_lead").await.unwrap()).await,
    )
    .await;
}

/// Waits until some transaction of this database is blocked on a lock.
async fn until_a_transaction_waits(db: &Db) {
    poll_until(
        "a transaction waiting on a lock",
        Duration::from_secs(10),
        Duration::from_millis(10),
        || async {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(db.reader())
            .await
            .map_err(|e| e.to_string())?;
            if waiting > 0 {
                Ok(())
            } else {
                Err("none waiting yet".to_owned())
            }
        },
    )
    .await
    .unwrap();
}

/// Replica one creates a customer and claims the phone but has not committed; replica
/// two, seeing no owner, creates a customer too and blocks claiming the phone. When one
/// commits, two must give up its customer and attach to one's.
async fn two_new_leads_racing_for_one_phone_make_one_customer(db: &Db) {
    let mut first_tx = db.begin().await.unwrap();
    let first = resolve_customer(
        &mut first_tx,
        TENANT,
        &identity("lead_a", vec![phone("13800138000")]),
        1_000,
    )
    .await
    .unwrap();
    let winner = created(&first);

    let second_db = db.clone();
    let second = tokio::spawn(async move {
        let lead = identity(
            "lead_b",
            vec![phone("13800138000"), email("wang@example.com")],
        );
        let mut tx = second_db.begin().await.unwrap();
        let resolution = resolve_customer(&mut tx, TENANT, &lead, 2_000)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        resolution
    });
    until_a_transaction_waits(db).await;
    first_tx.commit().await.unwrap();

    let second = second.await.unwrap();
    assert!(
        matches!(&second, Resolution::Attached { customer_id, .. } if customer_id == &winner),
        "{second:?}"
    );
    assert_eq!(customer_count(db, TENANT).await, 1);
    let mut conn = db.reader().acquire().await.unwrap();
    let record = customers::customer(&mut conn, TENANT, &winner)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.lead_count, 2);
    // The loser's e-mail went to the winner.
    assert_eq!(
        customers::customer_keys(&mut conn, TENANT, &winner)
            .await
            .unwrap()
            .len(),
        2
    );
}

/// The same lead (without keys, so nothing but the lead id collides) handled by two
/// replicas at once: one attaches it, the other changes nothing.
async fn one_lead_delivered_twice_at_once_is_attached_once(db: &Db) {
    let lead = identity("lead_x", vec![]);
    let mut first_tx = db.begin().await.unwrap();
    let winner = created(
        &resolve_customer(&mut first_tx, TENANT, &lead, 1_000)
            .await
            .unwrap(),
    );

    let second_db = db.clone();
    let second_lead = lead.clone();
    let second = tokio::spawn(async move {
        let mut tx = second_db.begin().await.unwrap();
        let resolution = resolve_customer(&mut tx, TENANT, &second_lead, 2_000)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        resolution
    });
    until_a_transaction_waits(db).await;
    first_tx.commit().await.unwrap();

    assert_eq!(
        second.await.unwrap(),
        Resolution::AlreadyAttached {
            customer_id: winner.clone()
        }
    );
    assert_eq!(customer_count(db, TENANT).await, 1);
    let mut conn = db.reader().acquire().await.unwrap();
    assert_eq!(
        customers::customer(&mut conn, TENANT, &winner)
            .await
            .unwrap()
            .unwrap()
            .lead_count,
        1
    );
}
