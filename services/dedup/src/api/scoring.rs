//! GetScoringRules, UpsertScoringRules and ExplainScore: a tenant manages its scoring
//! rules as versions, and any lead's score explains itself from what was computed when
//! the lead was qualified.

use shangji_contracts::dedup as pb;
use shangji_contracts::time::{from_millis, now_millis};
use shangji_platform::Db;
use shangji_platform::db::is_unique_violation;
use shangji_platform::grpc::{ApiError, FieldViolation, RequestContext};

use super::fields::Fields;
use crate::domain::score_rules::{BUILTIN_VERSION, ScoringRules};
use crate::domain::{GradeThresholds, ScoreFactor, score_rules_proto};
use crate::store::{lead_scores, scoring_rules};
use shangji_platform::idempotency::Call;

const UPSERT_SCORING_RULES: &str = "UpsertScoringRules";

pub async fn get_scoring_rules(
    db: &Db,
    ctx: &RequestContext,
    builtin_grades: GradeThresholds,
    req: pb::GetScoringRulesRequest,
) -> Result<pb::GetScoringRulesResponse, ApiError> {
    let builtin = || score_rules_proto::message(&ScoringRules::builtin(builtin_grades));
    let mut conn = db.reader().acquire().await?;
    let rules = match req.version {
        0 => match scoring_rules::latest(&mut conn, &ctx.tenant_id).await? {
            Some(saved) => saved_message(saved),
            None => builtin(),
        },
        BUILTIN_VERSION => builtin(),
        version => scoring_rules::version(&mut conn, &ctx.tenant_id, version)
            .await?
            .map(saved_message)
            .ok_or_else(|| {
                ApiError::NotFound(format!("scoring rules version {version} not found"))
            })?,
    };
    Ok(pb::GetScoringRulesResponse { rules: Some(rules) })
}

pub async fn upsert_scoring_rules(
    db: &Db,
    ctx: &RequestContext,
    req: pb::UpsertScoringRulesRequest,
) -> Result<pb::UpsertScoringRulesResponse, ApiError> {
    let call = Call::new(ctx, UPSERT_SCORING_RULES, &req.idempotency_key, &req)?;
    let Some(message) = req.rules.as_ref() else {
        return Err(ApiError::invalid_field(
            "rules",
            "is required: the full rule set to save (GetScoringRules gives the current one)",
        ));
    };
    // The version is known only inside the transaction; checking first keeps bad input
    // from ever taking a lock.
    let parsed = score_rules_proto::parse(message, 0, "rules").map_err(|violations| {
        ApiError::invalid(
            violations
                .into_iter()
                .map(|(field, description)| FieldViolation::new(field, description))
                .collect(),
        )
    })?;
    if let Some(earlier) = call.replay(db).await? {
        return Ok(earlier);
    }
    let result: Result<pb::UpsertScoringRulesResponse, ApiError> = async {
        let now = now_millis();
        let mut tx = db.begin().await?;
        let current = scoring_rules::latest(&mut tx, &ctx.tenant_id)
            .await?
            .map_or(BUILTIN_VERSION, |saved| saved.version);
        if req.base_version != 0 && req.base_version != current {
            return Err(version_moved(req.base_version, current));
        }
        let version = current + 1;
        let mut stored = score_rules_proto::message(&ScoringRules { version, ..parsed });
        stored.created_by = ctx.user_id.clone();
        stored.created_at = Some(from_millis(now));
        match scoring_rules::insert(&mut tx, &ctx.tenant_id, version, &stored, &ctx.user_id, now).await
        {
            Ok(()) => {}
            // A concurrent save took this version number first.
            Err(err) if is_unique_violation(&err) => return Err(version_moved(current, version)),
            Err(err) => return Err(err.into()),
        }
        tracing::info!(tenant_id = %ctx.tenant_id, version, rules = stored.rules.len(), by = %ctx.user_id, "scoring rules saved");
        let response = pb::UpsertScoringRulesResponse {
            rules: Some(stored),
        };
        call.commit(db, tx, response).await
    }
    .await;
    call.or_replay(db, result).await
}

pub async fn explain_score(
    db: &Db,
    ctx: &RequestContext,
    req: pb::ExplainScoreRequest,
) -> Result<pb::ExplainScoreResponse, ApiError> {
    let mut fields = Fields::default();
    let lead_id = fields.id("lead_id", &req.lead_id, "lead");
    fields.finish()?;
    let mut conn = db.reader().acquire().await?;
    let record = lead_scores::lead_score(&mut conn, &ctx.tenant_id, lead_id)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "lead {lead_id} has no score: dedup has not qualified it (yet)"
            ))
        })?;
    Ok(pb::ExplainScoreResponse {
        lead_id: record.lead_id,
        customer_id: record.customer_id,
        score: record.score,
        grade: record.grade,
        model: record.model,
        rules_version: record.rules_version,
        factors: record.factors.iter().map(contribution).collect(),
        missed: record.missed.iter().map(contribution).collect(),
        scored_at: Some(from_millis(record.scored_at)),
        rule_score: record.rule_score,
        outcomes_learned: u64::try_from(record.outcomes_learned).unwrap_or_default(),
    })
}

fn contribution(factor: &ScoreFactor) -> pb::ScoreContribution {
    pb::ScoreContribution {
        factor: factor.factor.clone(),
        points: factor.points,
        detail: factor.detail.clone(),
    }
}

fn saved_message(saved: scoring_rules::SavedRules) -> pb::ScoringRules {
    pb::ScoringRules {
        version: saved.version,
        created_by: saved.created_by,
        created_at: Some(from_millis(saved.created_at)),
        ..saved.rules
    }
}

fn version_moved(base: u32, current: u32) -> ApiError {
    ApiError::FailedPrecondition {
        message: format!(
            "the scoring rules are at version {current}, not {base}: someone saved rules since"
        ),
        missing: vec![format!(
            "get version {current}, apply your change to it, and save with base_version {current}"
        )],
    }
}
