//! Learning from outcomes: which lead opened each opportunity and how it ended, and
//! the naive Bayes counts (per tenant, and per field value of the leads) that the
//! learned score reads. Counts change incrementally as outcomes arrive, so the model is
//! always trained on everything known, without batch retraining.

use std::collections::BTreeMap;

use shangji_platform::db::Params;
use sqlx::AnyConnection;

use super::lead_scores;
use crate::domain::learned::{OutcomeCounts, ValueStats};

/// An opportunity's outcome as far as learning goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Open,
    Won,
    Lost,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Open => "",
            Outcome::Won => "won",
            Outcome::Lost => "lost",
        }
    }

    fn parse(stored: &str) -> Outcome {
        match stored {
            "won" => Outcome::Won,
            "lost" => Outcome::Lost,
            _ => Outcome::Open,
        }
    }

    /// (won, lost) this outcome adds to the counts.
    fn increments(self) -> (i64, i64) {
        match self {
            Outcome::Open => (0, 0),
            Outcome::Won => (1, 0),
            Outcome::Lost => (0, 1),
        }
    }
}

/// The leads that opened a batch's opportunities, noted in one statement when the
/// batch ends (an opportunity just opened most often has nothing to settle).
#[derive(Debug, Default)]
pub struct OpenedBy {
    /// (tenant, opportunity) -> lead; ordered, so writers lock rows in the same order.
    leads: BTreeMap<(String, String), String>,
}

impl OpenedBy {
    pub fn note(&mut self, tenant_id: &str, opportunity_id: &str, lead_id: &str) {
        self.leads.insert(
            (tenant_id.to_owned(), opportunity_id.to_owned()),
            lead_id.to_owned(),
        );
    }

    /// Records every noted lead, settles each opportunity whose outcome was known
    /// before its lead, and forgets them.
    pub async fn record(&mut self, conn: &mut AnyConnection, now: i64) -> Result<(), sqlx::Error> {
        let leads: Vec<_> = std::mem::take(&mut self.leads).into_iter().collect();
        // Four parameters a row keeps every statement far below the bind limits.
        for chunk in leads.chunks(500) {
            let values = Params::new(conn).rows(chunk.len(), 4);
            let sql = format!(
                "INSERT INTO opportunity_outcomes (tenant_id, opportunity_id, lead_id, updated_at)
                 VALUES {values}
                 ON CONFLICT (tenant_id, opportunity_id) DO UPDATE SET lead_id = excluded.lead_id
                 RETURNING tenant_id, opportunity_id, lead_id, outcome, counted"
            );
            let mut query = sqlx::query_as::<_, (String, String, String, String, String)>(
                sqlx::AssertSqlSafe(sql),
            );
            for ((tenant_id, opportunity_id), lead_id) in chunk {
                query = query
                    .bind(tenant_id)
                    .bind(opportunity_id)
                    .bind(lead_id)
                    .bind(now);
            }
            let known = query.fetch_all(&mut *conn).await?;
            for (tenant_id, opportunity_id, lead_id, outcome, counted) in known {
                settle(
                    conn,
                    &tenant_id,
                    &opportunity_id,
                    (lead_id, outcome, counted),
                    now,
                )
                .await?;
            }
        }
        Ok(())
    }
}

/// Notes how the opportunity stands (won, lost, or open again), then settles. Events
/// may arrive in any order: the opportunity's row collects what is known.
pub async fn record_outcome(
    conn: &mut AnyConnection,
    tenant_id: &str,
    opportunity_id: &str,
    outcome: Outcome,
    now: i64,
) -> Result<(), sqlx::Error> {
    let known: (String, String, String) = sqlx::query_as(
        "INSERT INTO opportunity_outcomes (tenant_id, opportunity_id, outcome, updated_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, opportunity_id) DO UPDATE SET outcome = excluded.outcome
         RETURNING lead_id, outcome, counted",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(outcome.as_str())
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    settle(conn, tenant_id, opportunity_id, known, now).await
}

/// Brings the counts in line with what is known of the opportunity (`known`: its row's
/// lead, outcome and counted outcome, as just written): an outcome counts once its lead
/// (and the features recorded when that lead was scored) is known; a changed outcome
/// (reopened, or closed the other way) moves its counts.
async fn settle(
    conn: &mut AnyConnection,
    tenant_id: &str,
    opportunity_id: &str,
    known: (String, String, String),
    now: i64,
) -> Result<(), sqlx::Error> {
    let (lead_id, outcome, counted) = known;
    let counted = Outcome::parse(&counted);
    let target = Outcome::parse(&outcome);
    // Nothing moves (an opportunity just opened, most often): the lead's features are
    // not needed.
    if target == counted {
        return Ok(());
    }
    let features = match lead_id.as_str() {
        "" => None,
        lead_id => lead_scores::lead_score(&mut *conn, tenant_id, lead_id)
            .await?
            .map(|score| score.features),
    };
    // Without the lead's features there is nothing to learn from (a lead dedup never
    // scored, e.g. one from before scoring was recorded).
    let Some(features) = features else {
        return Ok(());
    };
    let (old_won, old_lost) = counted.increments();
    let (new_won, new_lost) = target.increments();
    let (won, lost) = (new_won - old_won, new_lost - old_lost);
    add_totals(&mut *conn, tenant_id, won, lost).await?;
    for (field, value) in &features {
        add_feature(&mut *conn, tenant_id, field, value, won, lost).await?;
    }
    sqlx::query(
        "UPDATE opportunity_outcomes SET counted = $3, updated_at = $4
         WHERE tenant_id = $1 AND opportunity_id = $2",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(target.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let label = match target {
        Outcome::Open => "withdrawn",
        other => other.as_str(),
    };
    metrics::counter!("shangji_dedup_outcomes_learned_total", "outcome" => label).increment(1);
    Ok(())
}

async fn add_totals(
    conn: &mut AnyConnection,
    tenant_id: &str,
    won: i64,
    lost: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO outcome_totals (tenant_id, won, lost) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id) DO UPDATE SET won = outcome_totals.won + excluded.won,
             lost = outcome_totals.lost + excluded.lost",
    )
    .bind(tenant_id)
    .bind(won)
    .bind(lost)
    .execute(conn)
    .await?;
    Ok(())
}

async fn add_feature(
    conn: &mut AnyConnection,
    tenant_id: &str,
    field: &str,
    value: &str,
    won: i64,
    lost: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO feature_outcomes (tenant_id, field, value, won, lost) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, field, value) DO UPDATE SET won = feature_outcomes.won + excluded.won,
             lost = feature_outcomes.lost + excluded.lost",
    )
    .bind(tenant_id)
    .bind(field)
    .bind(value)
    .bind(won)
    .bind(lost)
    .execute(conn)
    .await?;
    Ok(())
}

/// Won and lost outcomes learned so far.
pub async fn totals(
    conn: &mut AnyConnection,
    tenant_id: &str,
) -> Result<OutcomeCounts, sqlx::Error> {
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT won, lost FROM outcome_totals WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_optional(conn)
            .await?;
    Ok(
        row.map_or_else(OutcomeCounts::default, |(won, lost)| OutcomeCounts {
            won,
            lost,
        }),
    )
}

/// What the model knows of each of the lead's values, in the order of `features`: one
/// statement for all of them (a lead has about ten features, and each statement is a
/// round trip to the database's thread).
pub async fn value_stats(
    conn: &mut AnyConnection,
    tenant_id: &str,
    features: &[(String, String)],
) -> Result<Vec<ValueStats>, sqlx::Error> {
    if features.is_empty() {
        return Ok(Vec::new());
    }
    let mut params = Params::new(conn);
    let wanted = params.rows(features.len(), 3);
    let (tenant_for_value, tenant_for_field) = (params.one(), params.one());
    // `distinct_values` counts the field's values seen with outcomes: the learned model's
    // smoothing needs it per field, so it is the same for each value of one field.
    let sql = format!(
        "WITH wanted (ord, field, value) AS (VALUES {wanted})
         SELECT w.ord, COALESCE(f.won, 0), COALESCE(f.lost, 0),
                (SELECT COUNT(*) FROM feature_outcomes d
                 WHERE d.tenant_id = {tenant_for_field} AND d.field = w.field
                   AND d.won + d.lost > 0)
         FROM wanted w
         LEFT JOIN feature_outcomes f
           ON f.tenant_id = {tenant_for_value} AND f.field = w.field AND f.value = w.value
         ORDER BY w.ord"
    );
    let mut query = sqlx::query_as::<_, (i64, i64, i64, i64)>(sqlx::AssertSqlSafe(sql));
    for (ord, (field, value)) in features.iter().enumerate() {
        query = query.bind(ord as i64).bind(field).bind(value);
    }
    let rows = query
        .bind(tenant_id)
        .bind(tenant_id)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(ord, won, lost, distinct_values)| {
            let (field, value) = features.get(usize::try_from(ord).ok()?)?;
            Some(ValueStats {
                field: field.clone(),
                value: value.clone(),
                counts: OutcomeCounts { won, lost },
                distinct_values,
            })
        })
        .collect())
}
