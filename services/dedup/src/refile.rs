//! Re-filing stored customers when the rules behind their keys change.
//!
//! Blocking keys and account keys are worked out by the normalisers (name spellings,
//! company parsing). A release that improves them ("Tengwei Medical" and 腾为医疗器械
//! now give one account key) would otherwise only help customers filed after it: a new
//! lead's keys would miss the customers filed under the old ones. So every release
//! names the version of its rules ([`KEY_SCHEME`]); at start, if the store is behind,
//! this pass re-files every customer under the keys its stored profile gives now and
//! re-keys the accounts, in the background, page by page, recording its progress so a
//! restart resumes where it stopped. It only adds keys: a key filed under the old rules
//! keeps finding what it found, so matching never sees less than before while the pass
//! runs, and a lead handled concurrently can lose nothing. Replicas may run it at once;
//! every write is idempotent.

use std::time::Duration;

use shangji_contracts::time::now_millis;
use shangji_platform::Db;
use tokio_util::sync::CancellationToken;

use crate::domain::matching::{ParsedProfile, blocking_keys};
use crate::domain::text::CompanyName;
use crate::store::{blocking, key_scheme};

/// The version of the key rules this release files under. Raise it with any change to
/// `blocking_keys` or to the normalisers behind them and the account key.
/// 2: English industry words, Latin surnames marked by capitals or a comma.
pub const KEY_SCHEME: i64 = 2;

/// Customers re-filed per transaction.
const PAGE: i64 = 500;

/// Re-files until done or shut down; a failed attempt is retried after a pause.
pub async fn run(db: Db, shutdown: CancellationToken) -> anyhow::Result<()> {
    let mut pause = Duration::from_secs(1);
    loop {
        match refile(&db, &shutdown).await {
            Ok(()) => return Ok(()),
            Err(err) => {
                tracing::warn!(
                    error = format!("{err:#}"),
                    retry_in_s = pause.as_secs(),
                    "re-filing customers failed; will retry"
                );
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(pause) => {}
                }
                pause = (pause * 2).min(Duration::from_secs(60));
            }
        }
    }
}

/// Marks the store as following [`KEY_SCHEME`] without re-filing: for a store that was
/// empty before everything in it was filed by this release (a bulk load into a new one).
pub async fn mark_current(db: &Db) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    key_scheme::complete(&mut tx, KEY_SCHEME, now_millis()).await?;
    tx.commit().await?;
    Ok(())
}

async fn refile(db: &Db, shutdown: &CancellationToken) -> anyhow::Result<()> {
    let state = {
        let mut conn = db.reader().acquire().await?;
        key_scheme::state(&mut conn).await?
    };
    if state.version >= KEY_SCHEME {
        return Ok(());
    }
    let mut cursor = state.cursor;
    if state.target != KEY_SCHEME {
        let mut tx = db.begin().await?;
        key_scheme::begin(&mut tx, KEY_SCHEME, now_millis()).await?;
        tx.commit().await?;
        cursor = (String::new(), String::new());
    }
    tracing::info!(
        from = state.version,
        to = KEY_SCHEME,
        after_customer = %cursor.1,
        "re-filing customers under the current key rules"
    );
    let started = std::time::Instant::now();
    let mut customers = 0usize;
    loop {
        if shutdown.is_cancelled() {
            tracing::info!(
                customers,
                "re-filing paused by shutdown; it resumes at the next start"
            );
            return Ok(());
        }
        let page = {
            let mut conn = db.reader().acquire().await?;
            key_scheme::profiles_after(&mut conn, (&cursor.0, &cursor.1), PAGE).await?
        };
        let Some(last) = page.last() else {
            break;
        };
        let next = (last.0.clone(), last.1.clone());
        let keys: Vec<(&str, &str, Vec<String>)> = page
            .iter()
            .filter_map(|(tenant_id, customer_id, json)| {
                match blocking::parse_profile(json) {
                    Ok(profile) => Some((
                        tenant_id.as_str(),
                        customer_id.as_str(),
                        blocking_keys(&ParsedProfile::from(&profile)),
                    )),
                    Err(err) => {
                        // Left as filed: its old keys still find it.
                        tracing::warn!(tenant_id, customer_id, error = %err, "unreadable profile; not re-filed");
                        None
                    }
                }
            })
            .collect();
        let mut tx = db.begin().await?;
        // A page is in (tenant, customer) order, so each tenant's customers are together.
        for tenant in keys.chunk_by(|a, b| a.0 == b.0) {
            let filed: Vec<(&str, &str)> = tenant
                .iter()
                .flat_map(|(_, customer_id, keys)| {
                    keys.iter().map(move |key| (*customer_id, key.as_str()))
                })
                .collect();
            blocking::file_keys(&mut tx, tenant[0].0, &filed).await?;
        }
        key_scheme::advance(&mut tx, KEY_SCHEME, (&next.0, &next.1), now_millis()).await?;
        tx.commit().await?;
        customers += page.len();
        cursor = next;
        if customers.is_multiple_of(50_000) {
            tracing::info!(customers, "re-filing customers");
        }
        // Live leads share the writer: let them in between pages.
        tokio::task::yield_now().await;
    }
    let accounts = rekey_accounts(db).await?;
    let mut tx = db.begin().await?;
    key_scheme::complete(&mut tx, KEY_SCHEME, now_millis()).await?;
    tx.commit().await?;
    tracing::info!(
        customers,
        accounts_rekeyed = accounts,
        seconds = started.elapsed().as_secs_f64(),
        version = KEY_SCHEME,
        "customers re-filed under the current key rules"
    );
    Ok(())
}

/// Gives every account the key its name gives now. Returns how many changed.
async fn rekey_accounts(db: &Db) -> anyhow::Result<usize> {
    let mut cursor = (String::new(), String::new());
    let mut changed = 0;
    loop {
        let page = {
            let mut conn = db.reader().acquire().await?;
            key_scheme::accounts_after(&mut conn, (&cursor.0, &cursor.1), PAGE).await?
        };
        let Some(last) = page.last() else {
            return Ok(changed);
        };
        cursor = (last.0.clone(), last.1.clone());
        for (tenant_id, account_id, key, name) in &page {
            let Some(company) = CompanyName::parse(name) else {
                continue;
            };
            if company.key == *key {
                continue;
            }
            // One transaction each: on PostgreSQL a concurrent lead creating an account
            // with the new key makes this one fail, and only this one.
            let mut tx = db.begin().await?;
            match key_scheme::rekey_account(&mut tx, tenant_id, account_id, &company.key).await {
                Ok(true) => {
                    tx.commit().await?;
                    changed += 1;
                }
                Ok(false) => {
                    tracing::info!(tenant_id, account_id, key = %company.key, "another account has the new key; this one keeps its old key");
                    tx.rollback().await?;
                }
                Err(err) if shangji_platform::db::is_unique_violation(&err) => {
                    tracing::info!(tenant_id, account_id, key = %company.key, "another account took the new key meanwhile; kept the old one");
                    tx.rollback().await?;
                }
                Err(err) => return Err(err.into()),
            }
        }
    }
}
