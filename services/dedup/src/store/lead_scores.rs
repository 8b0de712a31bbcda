//! The score each lead got at qualification, with what made it up: ExplainScore reads it
//! back, and learning from outcomes reads the lead's features from it.

use serde_json::{Map, Value, json};
use shangji_platform::Tx;
use shangji_platform::db::{BoundQuery, DeferredRow};
use sqlx::AnyConnection;

use crate::domain::ScoreFactor;

/// A lead's score as computed when it was qualified.
#[derive(Clone, Debug, PartialEq)]
pub struct LeadScoreRecord {
    pub lead_id: String,
    pub customer_id: String,
    /// `rules` or `learned`.
    pub model: String,
    pub rules_version: u32,
    pub score: f64,
    pub grade: String,
    /// The rule score, also when the learned model scored.
    pub rule_score: f64,
    pub factors: Vec<ScoreFactor>,
    pub missed: Vec<ScoreFactor>,
    /// The lead's values the learned model looks at, field -> value.
    pub features: Vec<(String, String)>,
    pub outcomes_learned: i64,
    pub scored_at: i64,
}

/// Records the lead's score once (a lead qualified again keeps its first score) when
/// `tx` commits, with the transaction's other scores in one statement: nothing reads a
/// score back in the transaction that scored the lead.
pub fn record(tx: &mut Tx, tenant_id: &str, score: LeadScoreRecord) {
    tx.defer(ScoreRow {
        tenant_id: tenant_id.to_owned(),
        score,
    });
}

/// A score waiting in its transaction to be written.
struct ScoreRow {
    tenant_id: String,
    score: LeadScoreRecord,
}

impl DeferredRow for ScoreRow {
    fn insert(&self) -> &'static str {
        "INSERT INTO lead_scores (tenant_id, lead_id, customer_id, model, rules_version, score, grade,
                                  rule_score, factors, missed, features, outcomes_learned, scored_at)"
    }

    fn on_conflict(&self) -> &'static str {
        "ON CONFLICT (tenant_id, lead_id) DO NOTHING"
    }

    fn width(&self) -> usize {
        13
    }

    fn bind<'q>(&'q self, query: BoundQuery<'q>) -> BoundQuery<'q> {
        let score = &self.score;
        let features: Map<String, Value> = score
            .features
            .iter()
            .map(|(field, value)| (field.clone(), Value::String(value.clone())))
            .collect();
        query
            .bind(&self.tenant_id)
            .bind(&score.lead_id)
            .bind(&score.customer_id)
            .bind(&score.model)
            .bind(i64::from(score.rules_version))
            .bind(score.score)
            .bind(&score.grade)
            .bind(score.rule_score)
            .bind(factors_json(&score.factors))
            .bind(factors_json(&score.missed))
            .bind(Value::Object(features).to_string())
            .bind(score.outcomes_learned)
            .bind(score.scored_at)
    }
}

type Row = (
    String,
    String,
    i64,
    f64,
    String,
    f64,
    String,
    String,
    String,
    i64,
    i64,
);

pub async fn lead_score(
    conn: &mut AnyConnection,
    tenant_id: &str,
    lead_id: &str,
) -> Result<Option<LeadScoreRecord>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT customer_id, model, rules_version, score, grade, rule_score, factors, missed,
                features, outcomes_learned, scored_at
         FROM lead_scores WHERE tenant_id = $1 AND lead_id = $2",
    )
    .bind(tenant_id)
    .bind(lead_id)
    .fetch_optional(conn)
    .await?;
    let Some((
        customer_id,
        model,
        rules_version,
        score,
        grade,
        rule_score,
        factors,
        missed,
        features,
        outcomes_learned,
        scored_at,
    )) = row
    else {
        return Ok(None);
    };
    let features = match serde_json::from_str::<Value>(&features) {
        Ok(Value::Object(map)) => map
            .into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
            .collect(),
        _ => Vec::new(),
    };
    Ok(Some(LeadScoreRecord {
        lead_id: lead_id.to_owned(),
        customer_id,
        model,
        rules_version: u32::try_from(rules_version).unwrap_or_default(),
        score,
        grade,
        rule_score,
        factors: parse_factors(&factors),
        missed: parse_factors(&missed),
        features,
        outcomes_learned,
        scored_at,
    }))
}

fn factors_json(factors: &[ScoreFactor]) -> String {
    Value::Array(
        factors
            .iter()
            .map(|f| json!({"factor": f.factor, "points": f.points, "detail": f.detail}))
            .collect(),
    )
    .to_string()
}

fn parse_factors(stored: &str) -> Vec<ScoreFactor> {
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(stored) else {
        return Vec::new();
    };
    items
        .iter()
        .map(|item| ScoreFactor {
            factor: item["factor"].as_str().unwrap_or_default().to_owned(),
            points: item["points"].as_f64().unwrap_or_default(),
            detail: item["detail"].as_str().unwrap_or_default().to_owned(),
        })
        .collect()
}
