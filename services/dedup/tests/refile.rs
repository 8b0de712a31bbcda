//! Re-filing after the key rules change, on SQLite and PostgreSQL: a store written under
//! older rules (simulated: the keys the current rules add are taken away, the account
//! carries its old key and the scheme says version 1) is re-filed by the background pass
//! so that a lead written the new way finds the old customer; accounts get their new key
//! unless another account has it; the pass resumes from its cursor and a second run
//! changes nothing.

use shangji_dedup::refile::{self, KEY_SCHEME};
use shangji_dedup::store::Resolution;
use shangji_dedup::store::key_scheme;
use shangji_platform::Db;
use shangji_testkit::Postgres;
use tokio_util::sync::CancellationToken;

mod common;

use common::store::{company_lead, created, migrated, migrated_sqlite, resolve};

const TENANT: &str = "acme";

async fn execute(db: &Db, sql: &str, binds: &[&str]) {
    let mut tx = db.begin().await.unwrap();
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
    for bind in binds {
        query = query.bind(*bind);
    }
    query.execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

async fn keys_of(db: &Db, customer_id: &str) -> Vec<String> {
    let mut conn = db.reader().acquire().await.unwrap();
    sqlx::query_scalar(
        "SELECT block_key FROM blocking_keys WHERE tenant_id = $1 AND customer_id = $2 ORDER BY block_key",
    )
    .bind(TENANT)
    .bind(customer_id)
    .fetch_all(&mut *conn)
    .await
    .unwrap()
}

async fn account_key(db: &Db, account_id: &str) -> String {
    let mut conn = db.reader().acquire().await.unwrap();
    sqlx::query_scalar("SELECT account_key FROM accounts WHERE tenant_id = $1 AND account_id = $2")
        .bind(TENANT)
        .bind(account_id)
        .fetch_one(&mut *conn)
        .await
        .unwrap()
}

async fn scheme(db: &Db) -> key_scheme::SchemeState {
    let mut conn = db.reader().acquire().await.unwrap();
    key_scheme::state(&mut conn).await.unwrap()
}

async fn refile_contract(db: &Db) {
    // A fresh store starts at the first rules; with nothing in it the pass is instant.
    assert_eq!(scheme(db).await.version, 1);

    // Two customers filed "under the old rules": their keys with the industry word
    // (`sa:…|tengweimedical`) instead of the new ones, accounts keyed the old way.
    let xie = resolve(
        db,
        TENANT,
        "lead_1",
        &company_lead("谢国", "南京腾为医疗器械有限公司", "13885652993"),
    )
    .await;
    let xie_id = &created(&xie);
    let chen = resolve(
        db,
        TENANT,
        "lead_2",
        &company_lead("陈静", "城美制造有限公司", "13900001111"),
    )
    .await;
    let chen_id = &created(&chen);
    let new_keys = keys_of(db, xie_id).await;
    assert!(
        new_keys.contains(&"sa:xie|tengwei".to_owned()),
        "{new_keys:?}"
    );
    execute(
        db,
        "DELETE FROM blocking_keys WHERE tenant_id = $1 AND block_key LIKE 'sa:%'",
        &[TENANT],
    )
    .await;
    execute(
        db,
        "INSERT INTO blocking_keys (tenant_id, block_key, customer_id) VALUES ($1, 'sa:xie|tengweimedical', $2)",
        &[TENANT, xie_id],
    )
    .await;
    execute(db, "UPDATE accounts SET account_key = 'tengweimedical' WHERE tenant_id = $1 AND account_id = $2", &[TENANT, &xie.account_id]).await;
    execute(db, "UPDATE accounts SET account_key = 'chengmeizhizao' WHERE tenant_id = $1 AND account_id = $2", &[TENANT, &chen.account_id]).await;
    // Someone else's account already has the key chen's would get under the new rules.
    execute(
        db,
        "INSERT INTO accounts (tenant_id, account_id, account_key, name, created_at) VALUES ($1, 'acc_other', 'chengmei', 'chengmei', 1)",
        &[TENANT],
    )
    .await;
    execute(db, "UPDATE key_scheme SET version = 1, target = 1", &[]).await;

    // Under the old keys, "Guo Xie" at "Tengwei Medical Corp." shares only the name key.
    refile::run(db.clone(), CancellationToken::new())
        .await
        .unwrap();
    let state = scheme(db).await;
    assert_eq!(state.version, KEY_SCHEME);
    assert_eq!(state.cursor, (String::new(), String::new()));
    let refiled = keys_of(db, xie_id).await;
    assert!(
        refiled.contains(&"sa:xie|tengwei".to_owned()),
        "{refiled:?}"
    );
    assert!(
        refiled.contains(&"sa:xie|tengweimedical".to_owned()),
        "old keys stay: they still find what they found"
    );
    assert!(
        keys_of(db, chen_id)
            .await
            .contains(&"sa:chen|chengmei".to_owned())
    );
    assert_eq!(account_key(db, &xie.account_id).await, "tengwei");
    assert_eq!(
        account_key(db, &chen.account_id).await,
        "chengmeizhizao",
        "the new key belongs to another account: kept the old one"
    );

    // The lead written the English way finds the re-filed customer and its account.
    let english = resolve(
        db,
        TENANT,
        "lead_3",
        &company_lead("Guo Xie", "Tengwei Medical Corp.", ""),
    )
    .await;
    assert_eq!(english.account_id, xie.account_id, "{english:?}");
    assert!(
        english.candidates_examined >= 1
            && match &english.resolution {
                Resolution::Attached { customer_id, .. } => customer_id == xie_id,
                Resolution::Created { .. } =>
                    english.possible.iter().any(|p| &p.customer_id == xie_id),
                Resolution::AlreadyAttached { .. } => false,
            },
        "{english:?}"
    );

    // Interrupted passes resume from the cursor; a finished one is not run again.
    execute(
        db,
        &format!("UPDATE key_scheme SET version = 1, target = {KEY_SCHEME}, cursor_tenant = $1, cursor_customer = 'zzz'"),
        &[TENANT],
    )
    .await;
    execute(
        db,
        "DELETE FROM blocking_keys WHERE tenant_id = $1 AND block_key = 'sa:chen|chengmei'",
        &[TENANT],
    )
    .await;
    refile::run(db.clone(), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(scheme(db).await.version, KEY_SCHEME);
    assert!(
        !keys_of(db, chen_id)
            .await
            .contains(&"sa:chen|chengmei".to_owned()),
        "customers before the cursor were done already and are not read again"
    );
    let before = keys_of(db, xie_id).await;
    refile::run(db.clone(), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(keys_of(db, xie_id).await, before);
}

#[tokio::test]
async fn refile_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    refile_contract(&migrated_sqlite(&dir).await).await;
}

#[tokio::test]
async fn refile_on_postgres() {
    let postgres = Postgres::start().await.unwrap();
    refile_contract(&migrated(&postgres.create_database("dedup_refile").await.unwrap()).await)
        .await;
}
