//! Fuzzy matching in the store on SQLite and PostgreSQL: spellings of one person across
//! scripts become one contact, a title with a surname is only a possible match, accounts
//! are found by brand, thresholds are per tenant, and on PostgreSQL a lead that could be
//! another's candidate waits for it instead of creating a second customer.

use std::time::Duration;

use shangji_dedup::domain::matching::{Decision, MatchThresholds};
use shangji_dedup::store::{Resolution, thresholds};
use shangji_platform::Db;
use shangji_testkit::{Postgres, poll_until};

mod common;

use common::store::{
    company_lead as lead, created, migrated, migrated_sqlite, resolve, resolve_in,
};

const TENANT: &str = "acme";

async fn fuzzy_contract(db: &Db) {
    let first = resolve(
        db,
        TENANT,
        "lead_1",
        &lead("王伟", "北京华为科技有限公司", "13800138000"),
    )
    .await;
    let wang = created(&first);
    assert!(first.account_id.starts_with("acc_"), "{first:?}");

    // Another script, the company in English: the same contact.
    let latin = resolve(
        db,
        TENANT,
        "lead_2",
        &lead("Wang Wei", "Huawei Technologies Co., Ltd.", ""),
    )
    .await;
    let Resolution::Attached {
        customer_id,
        reasons,
    } = &latin.resolution
    else {
        panic!("expected to attach, got {latin:?}")
    };
    assert_eq!(customer_id, &wang);
    assert!(
        reasons[0].starts_with(&format!("same customer {wang}")),
        "{reasons:?}"
    );
    assert!(latin.candidates_examined >= 1);
    assert_eq!(latin.account_id, first.account_id);

    // Traditional script with an e-mail finds it too, and the e-mail then matches exactly.
    let mut traditional_lead = lead("王偉", "華為科技", "");
    traditional_lead.email = "Wang.Wei@Huawei.com".into();
    let traditional = resolve(db, TENANT, "lead_3", &traditional_lead).await;
    assert_eq!(traditional.customer_id(), wang);
    let mut by_email = lead("", "", "");
    by_email.email = " wang.wei@huawei.com ".into();
    assert_eq!(
        resolve(db, TENANT, "lead_4", &by_email).await.customer_id(),
        wang
    );

    // The same name and company with another phone: a person should look.
    let other_phone = resolve(db, TENANT, "lead_4b", &lead("王伟", "华为", "13900139000")).await;
    assert_ne!(other_phone.customer_id(), wang);
    assert_eq!(other_phone.possible[0].customer_id, wang, "{other_phone:?}");

    // Only a surname with a title: a new contact of the same account, and a possible match.
    let title = resolve(db, TENANT, "lead_5", &lead("王先生", "华为(深圳)", "")).await;
    let mister = created(&title);
    assert_ne!(mister, wang);
    assert_eq!(title.account_id, first.account_id, "the account matched");
    // Both 王伟 at 华为 (the second kept apart above) may be this 王先生.
    let possible: Vec<&str> = title
        .possible
        .iter()
        .map(|v| v.customer_id.as_str())
        .collect();
    assert_eq!(possible.len(), 2, "{title:?}");
    assert!(possible.contains(&wang.as_str()), "{title:?}");
    assert!(
        title
            .possible
            .iter()
            .all(|v| v.decision == Decision::Possible)
    );

    // A colleague: new contact, same account, no possible match.
    let colleague = resolve(db, TENANT, "lead_6", &lead("李娜", "华为技术有限公司", "")).await;
    created(&colleague);
    assert_eq!(colleague.account_id, first.account_id);
    assert!(colleague.possible.is_empty(), "{colleague:?}");

    // Another company: another account.
    let other = resolve(db, TENANT, "lead_7", &lead("王伟", "腾讯", "")).await;
    created(&other);
    assert_ne!(other.account_id, first.account_id);

    // Redelivered: nothing changes.
    let again = resolve(
        db,
        TENANT,
        "lead_2",
        &lead("Wang Wei", "Huawei", "13900139000"),
    )
    .await;
    assert_eq!(
        again.resolution,
        Resolution::AlreadyAttached {
            customer_id: wang.clone()
        }
    );

    // A stricter tenant only calls the Latin spelling possible.
    let mut conn = db.reader().acquire().await.unwrap();
    thresholds::set_tenant_thresholds(
        &mut conn,
        "strict",
        MatchThresholds::new(0.999, 0.5).unwrap(),
        1,
    )
    .await
    .unwrap();
    drop(conn);
    let strict_wang = created(&resolve(db, "strict", "lead_s1", &lead("王伟", "华为", "")).await);
    let strict = resolve(db, "strict", "lead_s2", &lead("Wang Wei", "Huawei", "")).await;
    assert_ne!(strict.customer_id(), strict_wang);
    assert_eq!(strict.possible[0].customer_id, strict_wang);
    let mut conn = db.reader().acquire().await.unwrap();
    thresholds::clear_tenant_thresholds(&mut conn, "strict")
        .await
        .unwrap();
    assert_eq!(
        thresholds::tenant_thresholds(&mut conn, "strict", MatchThresholds::default())
            .await
            .unwrap(),
        MatchThresholds::default()
    );
}

#[tokio::test]
async fn fuzzy_matching_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    fuzzy_contract(&migrated_sqlite(&dir).await).await;
}

#[tokio::test]
async fn fuzzy_matching_and_its_race_on_postgres() {
    let postgres = Postgres::start().await.unwrap();
    fuzzy_contract(&migrated(&postgres.create_database("dedup_fuzzy").await.unwrap()).await).await;
    two_spellings_racing_make_one_customer(
        &migrated(&postgres.create_database("dedup_fuzzy_race").await.unwrap()).await,
    )
    .await;
}

/// Replica one matches 王伟 and has not committed; replica two, matching "Wang Wei" with
/// no key in common, must wait on the shared partition and then attach to one's customer.
async fn two_spellings_racing_make_one_customer(db: &Db) {
    let mut first_tx = db.begin().await.unwrap();
    let first = resolve_in(&mut first_tx, TENANT, "lead_a", &lead("王伟", "华为", "")).await;
    let winner = created(&first);

    let second_db = db.clone();
    let second = tokio::spawn(async move {
        let mut tx = second_db.begin().await.unwrap();
        let resolved = resolve_in(
            &mut tx,
            TENANT,
            "lead_b",
            &lead("Wang Wei", "Huawei Inc.", ""),
        )
        .await;
        tx.commit().await.unwrap();
        resolved
    });
    poll_until(
        "the second lead waiting on a partition",
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
    first_tx.commit().await.unwrap();
    let second = second.await.unwrap();
    assert_eq!(second.customer_id(), winner, "{second:?}");
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers WHERE tenant_id = $1")
        .bind(TENANT)
        .fetch_one(db.reader())
        .await
        .unwrap();
    assert_eq!(count, 1);
}
