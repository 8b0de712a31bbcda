//! GetMatchThresholds and UpsertMatchThresholds: the scores at which a tenant's leads
//! are attached automatically (same) or queued for review (possible). The consumer and
//! CheckDuplicate read them per call, so a change applies to the next lead.

use shangji_contracts::dedup as pb;
use shangji_contracts::time::{from_millis, now_millis};
use shangji_platform::Db;
use shangji_platform::grpc::{ApiError, RequestContext};
use shangji_platform::idempotency::Call;
use sqlx::AnyConnection;

use super::fields::Fields;
use crate::domain::matching::MatchThresholds;
use crate::store::thresholds;

const UPSERT_MATCH_THRESHOLDS: &str = "UpsertMatchThresholds";

pub async fn get_match_thresholds(
    db: &Db,
    ctx: &RequestContext,
    defaults: MatchThresholds,
) -> Result<pb::GetMatchThresholdsResponse, ApiError> {
    let mut conn = db.reader().acquire().await?;
    current(&mut conn, &ctx.tenant_id, defaults).await
}

pub async fn upsert_match_thresholds(
    db: &Db,
    ctx: &RequestContext,
    defaults: MatchThresholds,
    req: pb::UpsertMatchThresholdsRequest,
) -> Result<pb::UpsertMatchThresholdsResponse, ApiError> {
    let call = Call::new(ctx, UPSERT_MATCH_THRESHOLDS, &req.idempotency_key, &req)?;
    let wanted = parse(&req)?;
    if let Some(earlier) = call.replay(db).await? {
        return Ok(earlier);
    }
    let result: Result<pb::UpsertMatchThresholdsResponse, ApiError> = async {
        let mut tx = db.begin().await?;
        match wanted {
            Some(own) => {
                thresholds::set_tenant_thresholds(&mut tx, &ctx.tenant_id, own, now_millis())
                    .await?;
            }
            None => thresholds::clear_tenant_thresholds(&mut tx, &ctx.tenant_id).await?,
        }
        let response = pb::UpsertMatchThresholdsResponse {
            current: Some(current(&mut tx, &ctx.tenant_id, defaults).await?),
        };
        tracing::info!(tenant_id = %ctx.tenant_id, by = %ctx.user_id,
            same = wanted.map(|t| t.same), possible = wanted.map(|t| t.possible),
            reset = wanted.is_none(), "match thresholds set");
        call.commit(db, tx, response).await
    }
    .await;
    call.or_replay(db, result).await
}

/// The tenant's own thresholds, or `None` for a reset to the service's defaults; every
/// bad field named at once.
fn parse(req: &pb::UpsertMatchThresholdsRequest) -> Result<Option<MatchThresholds>, ApiError> {
    let mut fields = Fields::default();
    let given = match (&req.thresholds, req.reset_to_defaults) {
        (Some(_), true) => {
            fields.violate(
                "thresholds",
                "must be unset with reset_to_defaults: either set thresholds or reset them",
            );
            None
        }
        (None, false) => {
            fields.violate(
                "thresholds",
                "is required: same_min and possible_min (or set reset_to_defaults)",
            );
            None
        }
        (None, true) => return Ok(None),
        (Some(given), false) => Some(given),
    };
    if let Some(given) = given {
        let (same, possible) = (given.same_min, given.possible_min);
        let same_ok = in_range(&mut fields, "thresholds.same_min", same, "attached");
        let possible_ok = in_range(
            &mut fields,
            "thresholds.possible_min",
            possible,
            "queued for review",
        );
        if same_ok && possible_ok && possible > same {
            fields.violate(
                "thresholds.possible_min",
                format!(
                    "is {possible}, above same_min ({same}): a score cannot be possibly the \
                     same without being below the automatic threshold; lower it to at most {same}"
                ),
            );
        }
    }
    fields.finish()?;
    let given = given.ok_or_else(|| ApiError::invalid_field("thresholds", "is required"))?;
    // Checked field by field above; the domain agrees on what makes sense.
    MatchThresholds::new(given.same_min, given.possible_min)
        .map(Some)
        .map_err(|err| ApiError::invalid_field("thresholds", err.to_string()))
}

/// A threshold is a match score: above 0 (at 0 every compared customer would qualify)
/// and at most 1.
fn in_range(fields: &mut Fields, field: &str, value: f64, what: &str) -> bool {
    if value > 0.0 && value <= 1.0 {
        return true;
    }
    fields.violate(
        field,
        format!(
            "is {value}: must be a match score above 0 and at most 1 (the lowest score {what})"
        ),
    );
    false
}

async fn current(
    conn: &mut AnyConnection,
    tenant_id: &str,
    defaults: MatchThresholds,
) -> Result<pb::GetMatchThresholdsResponse, ApiError> {
    let own = thresholds::own_thresholds(conn, tenant_id).await?;
    Ok(pb::GetMatchThresholdsResponse {
        thresholds: Some(message(own.map_or(defaults, |(t, _)| t))),
        defaults: own.is_none(),
        service_defaults: Some(message(defaults)),
        updated_at: own.map(|(_, at)| from_millis(at)),
    })
}

fn message(t: MatchThresholds) -> pb::MatchThresholds {
    pb::MatchThresholds {
        same_min: t.same,
        possible_min: t.possible,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shangji_platform::grpc::FieldViolation;

    fn request(same: f64, possible: f64) -> pb::UpsertMatchThresholdsRequest {
        pb::UpsertMatchThresholdsRequest {
            thresholds: Some(pb::MatchThresholds {
                same_min: same,
                possible_min: possible,
            }),
            ..Default::default()
        }
    }

    fn violations(req: &pb::UpsertMatchThresholdsRequest) -> Vec<FieldViolation> {
        match parse(req) {
            Err(ApiError::InvalidArgument { violations, .. }) => violations,
            other => panic!("expected invalid argument, got {other:?}"),
        }
    }

    fn fields(req: &pb::UpsertMatchThresholdsRequest) -> Vec<String> {
        violations(req).into_iter().map(|v| v.field).collect()
    }

    #[test]
    fn sensible_thresholds_pass_and_equal_ones_too() {
        let parsed = parse(&request(0.8, 0.4)).unwrap().unwrap();
        assert_eq!((parsed.same, parsed.possible), (0.8, 0.4));
        assert!(parse(&request(1.0, 1.0)).unwrap().is_some());
    }

    #[test]
    fn each_bad_value_is_named() {
        assert_eq!(fields(&request(1.2, 0.5)), ["thresholds.same_min"]);
        assert_eq!(fields(&request(0.9, 0.0)), ["thresholds.possible_min"]);
        assert_eq!(
            fields(&request(f64::NAN, -1.0)),
            ["thresholds.same_min", "thresholds.possible_min"]
        );
        let order = violations(&request(0.6, 0.7));
        assert_eq!(order[0].field, "thresholds.possible_min");
        assert!(order[0].description.contains("same_min"), "{order:?}");
    }

    #[test]
    fn reset_takes_no_thresholds_and_a_set_needs_them() {
        let reset = pb::UpsertMatchThresholdsRequest {
            reset_to_defaults: true,
            ..Default::default()
        };
        assert_eq!(parse(&reset).unwrap(), None);
        let both = pb::UpsertMatchThresholdsRequest {
            reset_to_defaults: true,
            ..request(0.9, 0.5)
        };
        assert_eq!(fields(&both), ["thresholds"]);
        assert_eq!(
            fields(&pb::UpsertMatchThresholdsRequest::default()),
            ["thresholds"]
        );
    }
}
