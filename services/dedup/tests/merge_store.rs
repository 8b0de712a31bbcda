//! The review queue and merges in the store, one contract run on SQLite and on
//! PostgreSQL: what a merge moves, that it keeps history and can be undone exactly,
//! and that a pair judged different is never queued again.

use shangji_dedup::domain::merge::MovedKind;
use shangji_dedup::domain::merge_review::{PossibleMatch, ReviewEvidence, ReviewStatus};
use shangji_dedup::domain::{KeyKind, MatchKey};
use shangji_dedup::store::merge::{self, MergeDecision, MergeError};
use shangji_dedup::store::review::{self, Queued};
use shangji_dedup::store::{LeadIdentity, Resolution, customers, resolve_customer};
use shangji_platform::Db;
use shangji_testkit::Postgres;

const TENANT: &str = "acme";

async fn migrated(url: &str) -> Db {
    let db = Db::connect(url, "dedup").await.unwrap();
    db.migrate(shangji_dedup::SPEC.migrations).await.unwrap();
    db
}

/// Qualifies one lead in a transaction of its own; returns its customer.
async fn lead(db: &Db, lead_id: &str, keys: Vec<MatchKey>, name: &str, now: i64) -> String {
    let mut keys = keys;
    keys.sort();
    let identity = LeadIdentity {
        lead_id: lead_id.into(),
        keys,
        name: name.into(),
        company: "华为".into(),
    };
    let mut tx = db.begin().await.unwrap();
    let resolution = resolve_customer(&mut tx, TENANT, &identity, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    match resolution {
        Resolution::Created { customer_id, .. } | Resolution::Attached { customer_id, .. } => {
            customer_id
        }
        other => panic!("{other:?}"),
    }
}

fn possible(lead_id: &str, customer: &str, candidate: &str) -> PossibleMatch {
    PossibleMatch {
        lead_id: lead_id.into(),
        customer_id: customer.into(),
        candidate_customer_id: candidate.into(),
        score: 0.72,
        reasons: vec!["name 王先生 ~ 王伟 (same surname, honorific)".into()],
        evidence: vec![ReviewEvidence {
            field: "contact_name".into(),
            similarity: 0.8,
            contribution: 0.4,
            detail: "surname 王 agrees".into(),
        }],
    }
}

async fn queue(db: &Db, possible: &PossibleMatch) -> Queued {
    let mut tx = db.begin().await.unwrap();
    let queued = review::queue_possible_match(&mut tx, TENANT, possible, 5_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    queued
}

async fn leads_of(db: &Db, customer_id: &str) -> Vec<String> {
    let mut conn = db.reader().acquire().await.unwrap();
    customers::customer_lead_ids(&mut conn, TENANT, customer_id)
        .await
        .unwrap()
}

async fn keys_of(db: &Db, customer_id: &str) -> Vec<MatchKey> {
    let mut conn = db.reader().acquire().await.unwrap();
    customers::customer_keys(&mut conn, TENANT, customer_id)
        .await
        .unwrap()
}

async fn lead_count(db: &Db, customer_id: &str) -> i64 {
    let mut conn = db.reader().acquire().await.unwrap();
    customers::customer(&mut conn, TENANT, customer_id)
        .await
        .unwrap()
        .unwrap()
        .lead_count
}

fn decision(by: &str) -> MergeDecision {
    MergeDecision {
        decided_by: by.into(),
        reason: "one person".into(),
        review_id: String::new(),
    }
}

async fn merge_contract(db: &Db) {
    let phone = MatchKey::new(KeyKind::Phone, "13800138000");
    let email = MatchKey::new(KeyKind::Email, "wang@example.com");
    let wang = lead(db, "lead_1", vec![phone.clone()], "王伟", 1_000).await;
    lead(db, "lead_2", vec![phone.clone()], "王伟", 2_000).await;
    let mr_wang = lead(db, "lead_3", vec![email.clone()], "王先生", 3_000).await;
    assert_ne!(wang, mr_wang);

    // The matcher's "possible" puts the pair in the queue once, whichever way round and
    // however many leads raise it.
    let Queued::Added { review_id } = queue(db, &possible("lead_3", &mr_wang, &wang)).await else {
        panic!("expected a new review item")
    };
    assert_eq!(
        queue(db, &possible("lead_9", &wang, &mr_wang)).await,
        Queued::AlreadyOpen
    );
    let mut conn = db.reader().acquire().await.unwrap();
    assert_eq!(
        review::count(&mut conn, TENANT, ReviewStatus::Open)
            .await
            .unwrap(),
        1
    );
    let open = review::list(&mut conn, TENANT, ReviewStatus::Open, None, 10)
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].review_id, review_id);
    assert_eq!(open[0].evidence[0].detail, "surname 王 agrees");
    assert_eq!(open[0].reasons.len(), 1);
    assert_eq!(open[0].score, 0.72);
    assert_eq!(
        review::count(&mut conn, "globex", ReviewStatus::Open)
            .await
            .unwrap(),
        0,
        "another tenant sees no question"
    );
    drop(conn);

    // A dry run shows what would move and changes nothing.
    let mut tx = db.begin().await.unwrap();
    let plan = merge::plan(&mut tx, TENANT, &wang, &[mr_wang.as_str()])
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(plan.count(MovedKind::Lead), 1);
    assert_eq!(plan.count(MovedKind::Key), 1);
    assert_eq!(plan.count(MovedKind::Contact), 1);
    let contact = plan
        .moves
        .iter()
        .find(|m| m.kind == MovedKind::Contact)
        .unwrap();
    assert_eq!(contact.detail, "王先生 (华为)");
    let key = plan
        .moves
        .iter()
        .find(|m| m.kind == MovedKind::Key)
        .unwrap();
    assert_eq!(
        (key.item.as_str(), key.detail.as_str()),
        ("email:wang@example.com", "e-mail wang@example.com")
    );
    assert_eq!(leads_of(db, &mr_wang).await, ["lead_3"]);

    // The merge moves leads and keys, marks the merged customer, answers the question.
    let mut tx = db.begin().await.unwrap();
    let plan = merge::plan(&mut tx, TENANT, &wang, &[mr_wang.as_str()])
        .await
        .unwrap();
    let record = merge::apply(&mut tx, TENANT, &plan, &decision("li"), 6_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(leads_of(db, &wang).await, ["lead_1", "lead_2", "lead_3"]);
    assert!(leads_of(db, &mr_wang).await.is_empty());
    assert_eq!(keys_of(db, &wang).await, vec![phone.clone(), email.clone()]);
    assert_eq!(
        (lead_count(db, &wang).await, lead_count(db, &mr_wang).await),
        (3, 0)
    );
    let mut conn = db.reader().acquire().await.unwrap();
    assert_eq!(
        merge::current_customer(&mut conn, TENANT, &mr_wang)
            .await
            .unwrap(),
        wang
    );
    let settled = review::review_item(&mut conn, TENANT, &review_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(settled.status, ReviewStatus::Same);
    assert_eq!(settled.merge_id, record.merge_id);
    drop(conn);

    // A new lead with the merged customer's e-mail finds the survivor; merging the
    // merged customer again is refused, naming the merge.
    assert_eq!(
        lead(db, "lead_4", vec![email.clone()], "王", 7_000).await,
        wang
    );
    let mut tx = db.begin().await.unwrap();
    let again = merge::plan(&mut tx, TENANT, &wang, &[mr_wang.as_str()]).await;
    assert!(
        matches!(&again, Err(MergeError::AlreadyMerged { merge_id, .. }) if merge_id == &record.merge_id),
        "{again:?}"
    );
    assert!(matches!(
        merge::plan(&mut tx, TENANT, &wang, &["cus_nobody"]).await,
        Err(MergeError::CustomerNotFound(id)) if id == "cus_nobody"
    ));
    // A lead a concurrent transaction attached to the merged customer moves on.
    customers::attach_lead(&mut tx, TENANT, &mr_wang, "lead_5", 7_500)
        .await
        .unwrap();
    let late_key = MatchKey::new(KeyKind::Phone, "13600136000");
    customers::claim_key(&mut tx, TENANT, &late_key, &mr_wang, 7_500)
        .await
        .unwrap();
    let now_on = merge::follow_merges(&mut tx, TENANT, "lead_5", &mr_wang, 7_500)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(now_on, wang);
    assert_eq!(lead_count(db, &wang).await, 5);
    assert!(
        keys_of(db, &mr_wang).await.is_empty(),
        "the late key followed its lead"
    );

    // Undo: exactly what the merge moved goes back; what came later stays.
    let mut tx = db.begin().await.unwrap();
    let undone = merge::unmerge(&mut tx, TENANT, &record.merge_id, "zhao", 8_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        (undone.unmerged_at, undone.unmerged_by.as_str()),
        (8_000, "zhao")
    );
    assert_eq!(leads_of(db, &mr_wang).await, ["lead_3"]);
    assert_eq!(
        leads_of(db, &wang).await,
        ["lead_1", "lead_2", "lead_4", "lead_5"]
    );
    assert_eq!(keys_of(db, &mr_wang).await, vec![email.clone()]);
    assert_eq!(
        keys_of(db, &wang).await,
        vec![phone.clone(), late_key.clone()]
    );
    assert_eq!(
        (lead_count(db, &wang).await, lead_count(db, &mr_wang).await),
        (4, 1)
    );
    let mut conn = db.reader().acquire().await.unwrap();
    assert!(
        merge::merged_into(&mut conn, TENANT, &mr_wang)
            .await
            .unwrap()
            .is_none()
    );
    // The history stays, with the undo recorded on it.
    let kept = merge::merge(&mut conn, TENANT, &record.merge_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.moves, record.moves);
    assert_eq!(kept.merged_customer_ids, vec![mr_wang.clone()]);
    assert_eq!(
        (kept.decided_by.as_str(), kept.unmerged_by.as_str()),
        ("li", "zhao")
    );
    assert!(
        merge::merge(&mut conn, "globex", &record.merge_id)
            .await
            .unwrap()
            .is_none()
    );
    drop(conn);
    let mut tx = db.begin().await.unwrap();
    assert!(matches!(
        merge::unmerge(&mut tx, TENANT, &record.merge_id, "zhao", 9_000).await,
        Err(MergeError::AlreadyUndone { unmerged_by, .. }) if unmerged_by == "zhao"
    ));
    tx.rollback().await.unwrap();

    // Judged different: the pair is never queued again, whichever lead raises it.
    let mut tx = db.begin().await.unwrap();
    review::record_different(&mut tx, TENANT, &wang, &mr_wang, "rev_x", "li", 9_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        queue(db, &possible("lead_6", &wang, &mr_wang)).await,
        Queued::JudgedDifferent
    );

    // Chains: B into A, then A into C. Undoing the first must wait for the second.
    let zhou = lead(
        db,
        "lead_7",
        vec![MatchKey::new(KeyKind::Phone, "13700137000")],
        "周",
        10_000,
    )
    .await;
    let mut tx = db.begin().await.unwrap();
    let plan = merge::plan(&mut tx, TENANT, &wang, &[mr_wang.as_str()])
        .await
        .unwrap();
    let first = merge::apply(&mut tx, TENANT, &plan, &decision("li"), 11_000)
        .await
        .unwrap();
    let plan = merge::plan(&mut tx, TENANT, &zhou, &[wang.as_str()])
        .await
        .unwrap();
    let second = merge::apply(&mut tx, TENANT, &plan, &decision("li"), 12_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        queue(db, &possible("lead_8", &mr_wang, &zhou)).await,
        Queued::SameCustomer
    );
    let mut tx = db.begin().await.unwrap();
    assert_eq!(
        merge::current_customer(&mut tx, TENANT, &mr_wang)
            .await
            .unwrap(),
        zhou
    );
    let blocked = merge::unmerge(&mut tx, TENANT, &first.merge_id, "zhao", 13_000).await;
    assert!(
        matches!(&blocked, Err(MergeError::AlreadyMerged { merge_id, .. }) if merge_id == &second.merge_id),
        "{blocked:?}"
    );
    merge::unmerge(&mut tx, TENANT, &second.merge_id, "zhao", 13_000)
        .await
        .unwrap();
    merge::unmerge(&mut tx, TENANT, &first.merge_id, "zhao", 13_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(leads_of(db, &mr_wang).await, ["lead_3"]);
    assert_eq!(leads_of(db, &zhou).await, ["lead_7"]);
}

#[tokio::test]
async fn merge_contract_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("dedup.db").display()
    );
    merge_contract(&migrated(&url).await).await;
}

#[tokio::test]
async fn merge_contract_on_postgres() {
    let postgres = Postgres::start().await.unwrap();
    merge_contract(&migrated(&postgres.create_database("dedup_merge").await.unwrap()).await).await;
}
