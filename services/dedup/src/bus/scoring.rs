//! Scoring a lead as it is qualified: the tenant's rules in force score it, and once the
//! tenant has enough won and lost outcomes, the learned model scores it instead (the
//! rule score is kept beside it). The score is recorded with its factors, the rules'
//! version and the lead's features in the qualification's transaction, so ExplainScore
//! answers from exactly this, and a redelivered lead keeps its first score.

use shangji_contracts::common::Lead;
use shangji_platform::Tx;

use crate::domain::learned::{NotYet, OutcomeCounts, learned_score, ready};
use crate::domain::learned_features::lead_features;
use crate::domain::score_rules::ScoringRules;
use crate::domain::{GradeThresholds, LeadScore};
use crate::store::lead_scores::{self, LeadScoreRecord};
use crate::store::{outcomes, scoring_rules};

/// The model name recorded for scores the rules computed.
pub const RULES_MODEL: &str = "rules";
/// The model name recorded for scores the learned model computed.
pub const LEARNED_MODEL: &str = "learned";

/// The lead to score, and where it stands.
pub struct ScoredLead<'a> {
    pub tenant_id: &'a str,
    pub lead_id: &'a str,
    pub customer_id: &'a str,
    pub lead: &'a Lead,
    /// When intake received it: "within N days" counts from here.
    pub received_at: i64,
}

/// A lead's score with the model and rules that produced it, as recorded.
pub struct RecordedScore {
    pub score: LeadScore,
    /// [`RULES_MODEL`] or [`LEARNED_MODEL`].
    pub model: &'static str,
    /// The version of the tenant's rules in force (1: the built-in set).
    pub rules_version: u32,
}

/// What scoring a tenant's leads starts from: its rules in force and how many won and
/// lost outcomes the learned model has. Read once per consumer batch (the batch's
/// handlers change neither; the API and the outcome consumer do, in their own
/// transactions).
#[derive(Clone, Debug)]
pub struct TenantScoring {
    pub rules: ScoringRules,
    pub totals: OutcomeCounts,
}

impl TenantScoring {
    pub async fn read(
        tx: &mut Tx,
        tenant_id: &str,
        builtin_grades: GradeThresholds,
    ) -> Result<TenantScoring, sqlx::Error> {
        Ok(TenantScoring {
            rules: scoring_rules::in_force(tx, tenant_id, builtin_grades).await?,
            totals: outcomes::totals(tx, tenant_id).await?,
        })
    }
}

/// Scores the lead (learned model when it has enough outcomes, else the tenant's rules
/// in force) and records the score (written when `tx` commits).
pub async fn score_and_record(
    tx: &mut Tx,
    scored: &ScoredLead<'_>,
    tenant: &TenantScoring,
    now: i64,
) -> Result<RecordedScore, sqlx::Error> {
    let (rules, totals) = (&tenant.rules, tenant.totals);
    let rule_score = rules.score(scored.lead, scored.received_at);
    let features = lead_features(scored.lead, scored.received_at);
    let min_outcomes = i64::from(rules.learned_min_outcomes);
    let learned = match ready(totals, min_outcomes) {
        Ok(()) => {
            let values = outcomes::value_stats(tx, scored.tenant_id, &features).await?;
            learned_score(totals, &values, min_outcomes)
        }
        Err(why) => Err(why),
    };
    let (model, score, outcomes_learned) = match learned {
        Ok(learned) => {
            let score = LeadScore {
                score: learned.score,
                grade: rules.grades.grade(learned.score),
                factors: learned.factors,
                // The learned model has no unmet rules; what the rules missed still
                // tells a rep what is missing.
                missed: rule_score.missed.clone(),
            };
            (LEARNED_MODEL, score, totals.total())
        }
        Err(why) => {
            if let NotYet::TooFewOutcomes { have, need } = why {
                tracing::debug!(
                    tenant_id = scored.tenant_id,
                    have,
                    need,
                    "learned score not yet; rules score"
                );
            }
            (RULES_MODEL, rule_score.clone(), 0)
        }
    };
    let record = LeadScoreRecord {
        lead_id: scored.lead_id.to_owned(),
        customer_id: scored.customer_id.to_owned(),
        model: model.to_owned(),
        rules_version: rules.version,
        score: score.score,
        grade: score.grade.as_str().to_owned(),
        rule_score: rule_score.score,
        factors: score.factors.clone(),
        missed: score.missed.clone(),
        features,
        outcomes_learned,
        scored_at: now,
    };
    lead_scores::record(tx, scored.tenant_id, record);
    metrics::counter!("shangji_dedup_leads_scored_total", "model" => model).increment(1);
    Ok(RecordedScore {
        score,
        model,
        rules_version: rules.version,
    })
}
