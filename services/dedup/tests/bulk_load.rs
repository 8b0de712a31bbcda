//! The bulk load writes what the lead.received consumer writes for a lead that matches
//! nobody, on SQLite and PostgreSQL: the same exact keys, profile and blocking keys, an
//! account for the company, and a loaded customer is then found by exact and fuzzy
//! matching exactly as one created through the consumer (`resolve_lead`).

use shangji_contracts::common::Lead;
use shangji_dedup::domain::matching::{MatchProfile, MatchThresholds};
use shangji_dedup::store::bulk::{PreparedCustomer, load_customers};
use shangji_dedup::store::{LeadIdentity, Resolution, ResolvedLead, resolve_lead};
use shangji_platform::Db;
use shangji_testkit::Postgres;

/// One tenant gets its customers through the consumer's path, the other by bulk load.
const CONSUMED: &str = "consumed";
const LOADED: &str = "loaded";

fn lead(name: &str, company: &str, phone: &str, email: &str) -> Lead {
    Lead {
        contact_name: name.into(),
        company: company.into(),
        phone: phone.into(),
        email: email.into(),
        ..Lead::default()
    }
}

fn known_people() -> Vec<Lead> {
    vec![
        lead(
            "王伟",
            "北京华为科技有限公司",
            "13800138000",
            "wang.wei@example.cn",
        ),
        lead("Mary Smith", "Acme Pty Ltd", "+61 2 9876 5432", ""),
        lead("李娜", "", "", "li.na@example.cn"),
    ]
}

async fn migrated(url: &str) -> Db {
    let db = Db::connect(url, "dedup").await.unwrap();
    db.migrate(shangji_dedup::SPEC.migrations).await.unwrap();
    db
}

async fn resolve(db: &Db, tenant: &str, lead_id: &str, lead: &Lead) -> ResolvedLead {
    let mut tx = db.begin().await.unwrap();
    let resolved = resolve_lead(
        &mut tx,
        tenant,
        &LeadIdentity::from_lead(lead_id, lead),
        &MatchProfile::from_lead(lead),
        &MatchThresholds::default(),
        1_000,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    resolved
}

/// Everything matching reads about a tenant's customers, with customer ids replaced by
/// the customer's name so that two tenants' states compare.
async fn matching_state(db: &Db, tenant: &str) -> Vec<String> {
    let mut conn = db.reader().acquire().await.unwrap();
    let mut state = Vec::new();
    let keys: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.name, k.kind, k.value FROM match_keys k
         JOIN customers c ON c.tenant_id = k.tenant_id AND c.customer_id = k.customer_id
         WHERE k.tenant_id = $1",
    )
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    state.extend(keys.into_iter().map(|(n, k, v)| format!("key {n} {k} {v}")));
    let profiles: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.name, p.profile FROM customer_profiles p
         JOIN customers c ON c.tenant_id = p.tenant_id AND c.customer_id = p.customer_id
         WHERE p.tenant_id = $1",
    )
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    state.extend(
        profiles
            .into_iter()
            .map(|(n, p)| format!("profile {n} {p}")),
    );
    let blocks: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.name, b.block_key FROM blocking_keys b
         JOIN customers c ON c.tenant_id = b.tenant_id AND c.customer_id = b.customer_id
         WHERE b.tenant_id = $1",
    )
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    state.extend(blocks.into_iter().map(|(n, b)| format!("block {n} {b}")));
    let customers: Vec<(String, String)> =
        sqlx::query_as("SELECT name, company FROM customers WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_all(&mut *conn)
            .await
            .unwrap();
    state.extend(
        customers
            .into_iter()
            .map(|(n, c)| format!("customer {n} {c}")),
    );
    state.sort();
    state
}

fn matched(resolved: &ResolvedLead) -> String {
    match &resolved.resolution {
        Resolution::Attached { customer_id, .. } => customer_id.clone(),
        other => panic!("expected to attach to a known customer, got {other:?}"),
    }
}

async fn bulk_load_contract(db: &Db) {
    let people = known_people();
    let mut consumed_ids = Vec::new();
    for (n, person) in people.iter().enumerate() {
        match resolve(db, CONSUMED, &format!("lead_{n}"), person)
            .await
            .resolution
        {
            Resolution::Created { customer_id, .. } => consumed_ids.push(customer_id),
            other => panic!("distinct people each get a customer, got {other:?}"),
        }
    }
    let prepared: Vec<PreparedCustomer> = people.iter().map(PreparedCustomer::from_lead).collect();
    let mut tx = db.begin().await.unwrap();
    let loaded_ids = load_customers(&mut tx, LOADED, &prepared, 1_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let loaded_ids: Vec<String> = loaded_ids
        .into_iter()
        .map(|id| id.expect("no record clashes"))
        .collect();

    assert_eq!(
        matching_state(db, LOADED).await,
        matching_state(db, CONSUMED).await,
        "the load writes the keys, profiles and blocking keys the consumer writes"
    );
    let accounts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE tenant_id = $1")
        .bind(LOADED)
        .fetch_one(&mut *db.reader().acquire().await.unwrap())
        .await
        .unwrap();
    assert_eq!(accounts, 2, "one account per company named");

    // Loading the same records again skips them all: their keys are taken.
    let mut tx = db.begin().await.unwrap();
    let again = load_customers(&mut tx, LOADED, &prepared, 2_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(again.iter().all(Option::is_none), "{again:?}");

    // Exact (another phone format), fuzzy across scripts, and by e-mail: each later lead
    // finds the loaded customer as it finds the consumed one.
    let later = [
        (0, lead("王伟", "", "+86 138-0013-8000", "")),
        (0, lead("Wang Wei", "Huawei Technologies Co., Ltd.", "", "")),
        (1, lead("SMITH Mary", "Acme Pty Ltd", "", "")),
        (2, lead("李娜", "", "", "LI.NA@example.cn")),
    ];
    for (n, (who, later_lead)) in later.iter().enumerate() {
        let lead_id = format!("later_{n}");
        let consumed = resolve(db, CONSUMED, &lead_id, later_lead).await;
        let loaded = resolve(db, LOADED, &lead_id, later_lead).await;
        assert_eq!(matched(&consumed), consumed_ids[*who], "{later_lead:?}");
        assert_eq!(matched(&loaded), loaded_ids[*who], "{later_lead:?}");
    }
}

#[tokio::test]
async fn bulk_load_matches_the_consumer_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("dedup.db").display()
    );
    bulk_load_contract(&migrated(&url).await).await;
}

#[tokio::test]
async fn bulk_load_matches_the_consumer_on_postgres() {
    let postgres = Postgres::start().await.unwrap();
    bulk_load_contract(&migrated(&postgres.create_database("dedup_bulk").await.unwrap()).await)
        .await;
}
