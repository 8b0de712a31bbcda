//! The score each lead got at qualification, with what made it up: ExplainScore reads it
//! back, and learning from outcomes reads the lead's features from it.

use serde_json::{Map, Value, json};
use shangji_platform::db::Params;
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

/// Records the lead's score once; a lead qualified again keeps its first score.
pub async fn record(
    conn: &mut AnyConnection,
    tenant_id: &str,
    score: &LeadScoreRecord,
) -> Result<(), sqlx::Error> {
    let mut pending = PendingScores::default();
    pending.push(tenant_id, score.clone());
    pending.write(conn).await
}

/// Scores of a batch's leads, recorded in one statement when the batch ends (nothing
/// in the batch reads a score back).
#[derive(Debug, Default)]
pub struct PendingScores {
    scores: Vec<(String, LeadScoreRecord)>,
}

impl PendingScores {
    pub fn push(&mut self, tenant_id: &str, score: LeadScoreRecord) {
        self.scores.push((tenant_id.to_owned(), score));
    }

    /// Records every pending score once (a lead scored before keeps its first score)
    /// and forgets them.
    pub async fn write(&mut self, conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
        let scores = std::mem::take(&mut self.scores);
        // Thirteen parameters a row keeps every statement far below the bind limits.
        for chunk in scores.chunks(200) {
            let values = Params::new(conn).rows(chunk.len(), 13);
            let sql = format!(
                "INSERT INTO lead_scores (tenant_id, lead_id, customer_id, model, rules_version, score, grade,
                                          rule_score, factors, missed, features, outcomes_learned, scored_at)
                 VALUES {values}
                 ON CONFLICT (tenant_id, lead_id) DO NOTHING"
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (tenant_id, score) in chunk {
                let features: Map<String, Value> = score
                    .features
                    .iter()
                    .map(|(field, value)| (field.clone(), Value::String(value.clone())))
                    .collect();
                query = query
                    .bind(tenant_id)
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
                    .bind(score.scored_at);
            }
            query.execute(&mut *conn).await?;
        }
        Ok(())
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
