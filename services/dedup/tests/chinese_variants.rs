//! The Chinese-variant test set (tests/fixtures/chinese_variants.csv, built by
//! bench/chinese_variants.py from Faker zh_CN/zh_TW): every record is resolved in turn
//! on SQLite, then pairwise precision and recall are measured at contact level
//! (customer) and at account level. Both must be at least 0.95.

use std::collections::HashMap;

use shangji_contracts::common::Lead;
use shangji_dedup::domain::matching::{MatchProfile, MatchThresholds};
use shangji_dedup::store::{LeadIdentity, resolve_lead};
use shangji_platform::Db;

struct Record {
    record_id: String,
    contact: String,
    account: String,
    lead: Lead,
}

fn records() -> Vec<Record> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/chinese_variants.csv"
    );
    let mut reader = csv::Reader::from_path(path).expect("the fixture is committed");
    reader
        .records()
        .map(|row| {
            let row = row.expect("a well-formed row");
            Record {
                record_id: row[0].to_owned(),
                contact: row[1].to_owned(),
                account: row[2].to_owned(),
                lead: Lead {
                    contact_name: row[3].to_owned(),
                    company: row[4].to_owned(),
                    phone: row[5].to_owned(),
                    email: row[6].to_owned(),
                    ..Lead::default()
                },
            }
        })
        .collect()
}

/// Pairwise precision and recall of `predicted` clusters against `truth` clusters.
fn precision_recall(predicted: &[String], truth: &[String]) -> (f64, f64) {
    let pairs = |n: usize| (n * n.saturating_sub(1) / 2) as f64;
    let count = |labels: Vec<(&String, Option<&String>)>| {
        let mut sizes: HashMap<(&String, Option<&String>), usize> = HashMap::new();
        for label in labels {
            *sizes.entry(label).or_default() += 1;
        }
        sizes.values().map(|n| pairs(*n)).sum::<f64>()
    };
    let both = count(
        predicted
            .iter()
            .zip(truth)
            .map(|(p, t)| (p, Some(t)))
            .collect(),
    );
    let predicted_pairs = count(predicted.iter().map(|p| (p, None)).collect());
    let true_pairs = count(truth.iter().map(|t| (t, None)).collect());
    (both / predicted_pairs.max(1.0), both / true_pairs.max(1.0))
}

#[tokio::test]
async fn chinese_variants_match_at_contact_and_account_level() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("dedup.db").display()
    );
    let db = Db::connect(&url, "dedup").await.unwrap();
    db.migrate(shangji_dedup::SPEC.migrations).await.unwrap();

    let records = records();
    assert!(
        records.len() > 1000,
        "the fixture has {} records",
        records.len()
    );
    let (mut contacts, mut accounts) = (Vec::new(), Vec::new());
    for chunk in records.chunks(100) {
        let mut tx = db.begin().await.unwrap();
        for record in chunk {
            let resolved = resolve_lead(
                &mut tx,
                "acme",
                &LeadIdentity::from_lead(&record.record_id, &record.lead),
                &MatchProfile::from_lead(&record.lead),
                &MatchThresholds::default(),
                1_000,
            )
            .await
            .unwrap();
            contacts.push(resolved.customer_id().to_owned());
            accounts.push(resolved.account_id.clone());
        }
        tx.commit().await.unwrap();
    }
    let truth_contacts: Vec<String> = records.iter().map(|r| r.contact.clone()).collect();
    let truth_accounts: Vec<String> = records.iter().map(|r| r.account.clone()).collect();
    let (contact_p, contact_r) = precision_recall(&contacts, &truth_contacts);
    let (account_p, account_r) = precision_recall(&accounts, &truth_accounts);
    println!(
        "contact precision {contact_p:.4} recall {contact_r:.4}; account precision {account_p:.4} recall {account_r:.4}"
    );
    assert!(
        contact_p >= 0.95 && contact_r >= 0.95,
        "contact p {contact_p} r {contact_r}"
    );
    assert!(
        account_p >= 0.95 && account_r >= 0.95,
        "account p {account_p} r {account_r}"
    );
}

#[test]
fn precision_and_recall_count_pairs() {
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        precision_recall(&s(&["a", "a", "b"]), &s(&["x", "x", "y"])),
        (1.0, 1.0)
    );
    let (p, r) = precision_recall(&s(&["a", "a", "a"]), &s(&["x", "x", "y"]));
    assert!((p - 1.0 / 3.0).abs() < 1e-9 && r == 1.0);
    let (p, r) = precision_recall(&s(&["a", "b", "c"]), &s(&["x", "x", "y"]));
    assert_eq!((p, r), (0.0, 0.0));
}
