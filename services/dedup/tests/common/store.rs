//! Store-level helpers: a migrated database, and a lead resolved the way the
//! lead.received consumer does it (the tenant's thresholds, one transaction).

use shangji_contracts::common::Lead;
use shangji_dedup::domain::matching::{MatchProfile, MatchThresholds};
use shangji_dedup::store::{LeadIdentity, Resolution, ResolvedLead, resolve_lead, thresholds};
use shangji_platform::Db;

/// Dedup's database at `url`, migrated.
pub async fn migrated(url: &str) -> Db {
    let db = Db::connect(url, "dedup").await.unwrap();
    db.migrate(shangji_dedup::SPEC.migrations).await.unwrap();
    db
}

/// Dedup's database in a SQLite file under `dir`, migrated.
pub async fn migrated_sqlite(dir: &tempfile::TempDir) -> Db {
    migrated(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("dedup.db").display()
    ))
    .await
}

/// The customer a lead created; panics if it attached to one instead.
pub fn created(resolved: &ResolvedLead) -> String {
    match &resolved.resolution {
        Resolution::Created { customer_id, .. } => customer_id.clone(),
        other => panic!("expected a new customer, got {other:?}"),
    }
}

/// A lead with a contact name, a company and a phone.
pub fn company_lead(name: &str, company: &str, phone: &str) -> Lead {
    Lead {
        contact_name: name.into(),
        company: company.into(),
        phone: phone.into(),
        ..Lead::default()
    }
}

/// Resolves the lead in `tx` with the tenant's thresholds, at time 1,000.
pub async fn resolve_in(
    tx: &mut shangji_platform::Tx,
    tenant: &str,
    lead_id: &str,
    lead: &Lead,
) -> ResolvedLead {
    let thresholds = thresholds::tenant_thresholds(tx, tenant, MatchThresholds::default())
        .await
        .unwrap();
    resolve_lead(
        tx,
        tenant,
        &LeadIdentity::from_lead(lead_id, lead),
        &MatchProfile::from_lead(lead),
        &thresholds,
        1_000,
    )
    .await
    .unwrap()
}

/// [`resolve_in`] in a transaction of its own, committed.
pub async fn resolve(db: &Db, tenant: &str, lead_id: &str, lead: &Lead) -> ResolvedLead {
    let mut tx = db.begin().await.unwrap();
    let resolved = resolve_in(&mut tx, tenant, lead_id, lead).await;
    tx.commit().await.unwrap();
    resolved
}
