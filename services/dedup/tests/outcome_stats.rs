//! What the learned model reads of a lead's values, on SQLite and on PostgreSQL: each
//! value's outcomes and how many values of its field have outcomes, in one statement;
//! and the leads that opened a batch's opportunities, recorded together.

use shangji_dedup::store::lead_scores::{self, LeadScoreRecord};
use shangji_dedup::store::outcomes;
use shangji_platform::Db;
use shangji_testkit::Postgres;

async fn migrated(url: &str) -> Db {
    let db = Db::connect(url, "dedup").await.unwrap();
    db.migrate(shangji_dedup::SPEC.migrations).await.unwrap();
    db
}

async fn value_stats_contract(db: &Db) {
    let rows = [
        ("acme", "source", "referral", 5, 1),
        ("acme", "source", "cold_call", 1, 5),
        ("acme", "source", "fair", 0, 0), // all its outcomes withdrawn: not a value seen
        ("acme", "region", "north", 2, 0),
        ("other", "source", "referral", 9, 9),
        ("other", "source", "web", 9, 9),
    ];
    let mut tx = db.begin().await.unwrap();
    for (tenant, field, value, won, lost) in rows {
        sqlx::query(
            "INSERT INTO feature_outcomes (tenant_id, field, value, won, lost)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(tenant)
        .bind(field)
        .bind(value)
        .bind(won as i64)
        .bind(lost as i64)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    let features: Vec<(String, String)> = [
        ("region", "north"),
        ("source", "referral"),
        ("source", "unseen"),
        ("industry", "saas"),
    ]
    .iter()
    .map(|(f, v)| (f.to_string(), v.to_string()))
    .collect();
    let mut conn = db.reader().acquire().await.unwrap();
    let stats = outcomes::value_stats(&mut conn, "acme", &features)
        .await
        .unwrap();
    let got: Vec<(&str, &str, i64, i64, i64)> = stats
        .iter()
        .map(|s| {
            (
                s.field.as_str(),
                s.value.as_str(),
                s.counts.won,
                s.counts.lost,
                s.distinct_values,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("region", "north", 2, 0, 1),
            ("source", "referral", 5, 1, 2),
            ("source", "unseen", 0, 0, 2),
            ("industry", "saas", 0, 0, 0),
        ],
        "in the order asked, this tenant's counts only"
    );
    assert!(
        outcomes::value_stats(&mut conn, "acme", &[])
            .await
            .unwrap()
            .is_empty()
    );
}

fn scored(lead_id: &str, source: &str) -> LeadScoreRecord {
    LeadScoreRecord {
        lead_id: lead_id.into(),
        customer_id: format!("cus_{lead_id}"),
        model: "rules".into(),
        rules_version: 1,
        score: 0.5,
        grade: "B".into(),
        rule_score: 0.5,
        factors: Vec::new(),
        missed: Vec::new(),
        features: vec![("source".into(), source.into())],
        outcomes_learned: 0,
        scored_at: 1,
    }
}

/// The leads that opened a batch's opportunities are recorded together at its end: an
/// opportunity whose outcome arrived before its lead is counted then, once; one just
/// opened counts nothing; noting the same opportunity twice records it once.
async fn opened_by_contract(db: &Db) {
    // The leads were scored (and their scores committed) when they were qualified.
    let mut tx = db.begin().await.unwrap();
    lead_scores::record(&mut tx, "acme", scored("lead_a", "referral"));
    lead_scores::record(&mut tx, "acme", scored("lead_b", "fair"));
    tx.commit().await.unwrap();
    let mut tx = db.begin().await.unwrap();
    // opp_a was won before its opportunity.created arrived.
    outcomes::record_outcome(&mut tx, "acme", "opp_a", outcomes::Outcome::Won, 10)
        .await
        .unwrap();
    let mut opened = outcomes::OpenedBy::default();
    opened.note("acme", "opp_b", "lead_b");
    opened.note("acme", "opp_a", "lead_a");
    opened.note("acme", "opp_a", "lead_a");
    opened.record(&mut tx, 20).await.unwrap();
    // Recording them again (a redelivered batch whose inbox row was lost) counts nothing.
    opened.note("acme", "opp_a", "lead_a");
    opened.record(&mut tx, 30).await.unwrap();
    tx.commit().await.unwrap();

    let mut conn = db.reader().acquire().await.unwrap();
    let totals = outcomes::totals(&mut conn, "acme").await.unwrap();
    assert_eq!((totals.won, totals.lost), (1, 0), "opp_a's win, once");
    let features = [
        ("source".to_owned(), "referral".to_owned()),
        ("source".to_owned(), "fair".to_owned()),
    ];
    let stats = outcomes::value_stats(&mut conn, "acme", &features)
        .await
        .unwrap();
    let counts: Vec<(i64, i64)> = stats
        .iter()
        .map(|s| (s.counts.won, s.counts.lost))
        .collect();
    assert_eq!(
        counts,
        vec![(1, 0), (0, 0)],
        "lead_a's value learned the win"
    );
}

#[tokio::test]
async fn opened_by_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/dedup.db?mode=rwc", dir.path().display());
    opened_by_contract(&migrated(&url).await).await;
}

#[tokio::test]
async fn opened_by_on_postgres() {
    let postgres = Postgres::start().await.unwrap();
    let url = postgres.create_database("dedup_opened").await.unwrap();
    opened_by_contract(&migrated(&url).await).await;
}

#[tokio::test]
async fn value_stats_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/dedup.db?mode=rwc", dir.path().display());
    value_stats_contract(&migrated(&url).await).await;
}

#[tokio::test]
async fn value_stats_on_postgres() {
    let postgres = Postgres::start().await.unwrap();
    let url = postgres.create_database("dedup_stats").await.unwrap();
    value_stats_contract(&migrated(&url).await).await;
}
