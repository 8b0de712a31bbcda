//! Merged customers are never matched again, in the store, one contract run on SQLite
//! and on PostgreSQL: a lead like a merged-away customer resolves to its survivor (along
//! a chain of merges), the survivor is found by the merged customer's keys, the review
//! queue stops offering pairs with a merged-away side, and an undo restores the merged
//! customer as a match of its own.

use shangji_contracts::common::Lead;
use shangji_dedup::domain::matching::{MatchProfile, MatchThresholds};
use shangji_dedup::domain::merge_review::{PossibleMatch, ReviewStatus};
use shangji_dedup::store::merge::{self, MergeDecision, MergeRecord};
use shangji_dedup::store::review::{self, Queued};
use shangji_dedup::store::{LeadIdentity, Resolution, ResolvedLead, customers, resolve_lead};
use shangji_platform::Db;
use shangji_testkit::Postgres;

async fn migrated(url: &str) -> Db {
    let db = Db::connect(url, "dedup").await.unwrap();
    db.migrate(shangji_dedup::SPEC.migrations).await.unwrap();
    db
}

fn lead(name: &str, company: &str, phone: &str) -> Lead {
    Lead {
        contact_name: name.into(),
        company: company.into(),
        phone: phone.into(),
        ..Lead::default()
    }
}

/// 李娜 at Tencent: nothing in common with 王伟 at Huawei.
fn li_na() -> Lead {
    lead("李娜", "腾讯科技", "13900139000")
}

/// 王伟 at Huawei with a phone 李娜 does not have.
fn wang_wei() -> Lead {
    lead("王伟", "北京华为科技有限公司", "13800138000")
}

/// 王伟 at Huawei again, in Latin script and without a phone: the matcher judges this
/// the same as [`wang_wei`] on name and company alone (no exact key in common).
fn wang_wei_in_latin() -> Lead {
    lead("Wang Wei", "Huawei Technologies Co., Ltd.", "")
}

async fn resolve(db: &Db, tenant: &str, lead_id: &str, lead: &Lead, now: i64) -> ResolvedLead {
    let mut tx = db.begin().await.unwrap();
    let resolved = resolve_lead(
        &mut tx,
        tenant,
        &LeadIdentity::from_lead(lead_id, lead),
        &MatchProfile::from_lead(lead),
        &MatchThresholds::default(),
        now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    resolved
}

fn created(resolved: &ResolvedLead) -> String {
    match &resolved.resolution {
        Resolution::Created { customer_id, .. } => customer_id.clone(),
        other => panic!("expected a new customer, got {other:?}"),
    }
}

fn attached(resolved: &ResolvedLead) -> String {
    match &resolved.resolution {
        Resolution::Attached { customer_id, .. } => customer_id.clone(),
        other => panic!("expected to attach to a known customer, got {other:?}"),
    }
}

async fn merge_into(db: &Db, tenant: &str, survivor: &str, merged: &str, now: i64) -> MergeRecord {
    let mut tx = db.begin().await.unwrap();
    let plan = merge::plan(&mut tx, tenant, survivor, &[merged])
        .await
        .unwrap();
    let decision = MergeDecision {
        decided_by: "li".into(),
        reason: "one person".into(),
        review_id: String::new(),
    };
    let record = merge::apply(&mut tx, tenant, &plan, &decision, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    record
}

async fn unmerge(db: &Db, tenant: &str, merge_id: &str, now: i64) {
    let mut tx = db.begin().await.unwrap();
    merge::unmerge(&mut tx, tenant, merge_id, "zhao", now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn leads_of(db: &Db, tenant: &str, customer_id: &str) -> Vec<String> {
    let mut conn = db.reader().acquire().await.unwrap();
    customers::customer_lead_ids(&mut conn, tenant, customer_id)
        .await
        .unwrap()
}

/// The open pairs the queue offers, each as (customer, candidate).
async fn open_pairs(db: &Db, tenant: &str) -> (Vec<(String, String)>, i64) {
    let mut conn = db.reader().acquire().await.unwrap();
    let items = review::list(&mut conn, tenant, ReviewStatus::Open, None, 100)
        .await
        .unwrap();
    let total = review::count(&mut conn, tenant, ReviewStatus::Open)
        .await
        .unwrap();
    let pairs = items
        .into_iter()
        .map(|item| (item.customer_id, item.candidate_customer_id))
        .collect();
    (pairs, total)
}

/// Puts (customer, candidate) in the review queue as the lead consumer's hook would.
async fn queue_pair(db: &Db, tenant: &str, lead_id: &str, customer: &str, candidate: &str) {
    let possible = PossibleMatch {
        lead_id: lead_id.into(),
        customer_id: customer.into(),
        candidate_customer_id: candidate.into(),
        score: 0.7,
        reasons: vec!["surname 王 at 华为".into()],
        evidence: Vec::new(),
    };
    let mut tx = db.begin().await.unwrap();
    let queued = review::queue_possible_match(&mut tx, tenant, &possible, 5_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(matches!(queued, Queued::Added { .. }), "{queued:?}");
}

/// Points 1, 2 and 5: after 王伟 (B) is merged into 李娜 (A), leads like B and leads with
/// B's phone go to A, and later to whoever A is merged into; B is never a candidate.
async fn merged_away_is_never_matched(db: &Db) {
    const TENANT: &str = "acme";
    let a = created(&resolve(db, TENANT, "lead_a", &li_na(), 1_000).await);
    let b = created(&resolve(db, TENANT, "lead_b", &wang_wei(), 2_000).await);
    assert_ne!(a, b);
    // A 王先生 at Huawei: a customer of its own, possibly B; the pair waits for a person.
    let mister = resolve(
        db,
        TENANT,
        "lead_x",
        &lead("王先生", "华为(深圳)", ""),
        3_000,
    )
    .await;
    let x = created(&mister);
    assert!(
        mister.possible.iter().any(|v| v.customer_id == b),
        "{mister:?}"
    );
    queue_pair(db, TENANT, "lead_x", &x, &b).await;
    assert_eq!(
        open_pairs(db, TENANT).await,
        (vec![(x.clone(), b.clone())], 1)
    );

    merge_into(db, TENANT, &a, &b, 4_000).await;

    // 5. B is merged away: the pair (X, B) is no question any more.
    assert_eq!(open_pairs(db, TENANT).await, (Vec::new(), 0));

    // 1. Like B on name and company alone: the survivor A, never B.
    let like_b = resolve(db, TENANT, "lead_c", &wang_wei_in_latin(), 5_000).await;
    assert_eq!(attached(&like_b), a, "{like_b:?}");
    assert!(
        leads_of(db, TENANT, &a)
            .await
            .contains(&"lead_c".to_owned())
    );
    assert!(
        !leads_of(db, TENANT, &b)
            .await
            .contains(&"lead_c".to_owned())
    );

    // 2. B's phone, which A never had, finds A.
    let by_phone = resolve(db, TENANT, "lead_d", &lead("", "", "13800138000"), 6_000).await;
    assert_eq!(attached(&by_phone), a, "{by_phone:?}");

    // A possible match names the survivor, never the merged-away customer, and once.
    let title = resolve(db, TENANT, "lead_y", &lead("王先生", "华为", ""), 7_000).await;
    assert!(
        title.possible.iter().all(|v| v.customer_id != b),
        "{title:?}"
    );
    let mut named: Vec<&str> = title
        .possible
        .iter()
        .map(|v| v.customer_id.as_str())
        .collect();
    let listed = named.len();
    named.sort_unstable();
    named.dedup();
    assert_eq!(named.len(), listed, "a customer listed twice: {title:?}");

    // 1. Chains: A merged into Z sends B's look-alikes on to Z.
    let z = created(
        &resolve(
            db,
            TENANT,
            "lead_z",
            &lead("张三", "阿里巴巴", "13700137000"),
            8_000,
        )
        .await,
    );
    merge_into(db, TENANT, &z, &a, 9_000).await;
    let along_chain = resolve(
        db,
        TENANT,
        "lead_e",
        &lead("WEI WANG", "华为技术有限公司", ""),
        10_000,
    )
    .await;
    assert_eq!(attached(&along_chain), z, "{along_chain:?}");
    let phone_along_chain =
        resolve(db, TENANT, "lead_f", &lead("", "", "13800138000"), 11_000).await;
    assert_eq!(attached(&phone_along_chain), z, "{phone_along_chain:?}");
}

/// Point 4 (and 5 undone): after the merge is undone, B is matched as itself again and
/// the pair it was in is a question again.
async fn unmerge_restores_the_customer(db: &Db) {
    const TENANT: &str = "globex";
    let a = created(&resolve(db, TENANT, "lead_a", &li_na(), 1_000).await);
    let b = created(&resolve(db, TENANT, "lead_b", &wang_wei(), 2_000).await);
    let x = created(
        &resolve(
            db,
            TENANT,
            "lead_x",
            &lead("王先生", "华为(深圳)", ""),
            3_000,
        )
        .await,
    );
    queue_pair(db, TENANT, "lead_x", &x, &b).await;
    let merged = merge_into(db, TENANT, &a, &b, 4_000).await;
    assert_eq!(open_pairs(db, TENANT).await, (Vec::new(), 0));

    unmerge(db, TENANT, &merged.merge_id, 5_000).await;

    assert_eq!(open_pairs(db, TENANT).await, (vec![(x, b.clone())], 1));
    let like_b = resolve(db, TENANT, "lead_c", &wang_wei_in_latin(), 6_000).await;
    assert_eq!(attached(&like_b), b, "{like_b:?}");
    let by_phone = resolve(db, TENANT, "lead_d", &lead("", "", "13800138000"), 7_000).await;
    assert_eq!(attached(&by_phone), b, "{by_phone:?}");
    assert_eq!(leads_of(db, TENANT, &a).await, ["lead_a"]);
}

async fn contract(db: &Db) {
    merged_away_is_never_matched(db).await;
    unmerge_restores_the_customer(db).await;
}

#[tokio::test]
async fn merged_customers_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("dedup.db").display()
    );
    contract(&migrated(&url).await).await;
}

#[tokio::test]
async fn merged_customers_on_postgres() {
    let postgres = Postgres::start().await.unwrap();
    contract(
        &migrated(
            &postgres
                .create_database("dedup_merged_matching")
                .await
                .unwrap(),
        )
        .await,
    )
    .await;
}
