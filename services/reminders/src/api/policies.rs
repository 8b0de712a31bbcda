//! `ListPolicies` and `UpsertPolicy`.

use shangji_contracts::reminders::{
    ListPoliciesResponse, UpsertPolicyRequest, UpsertPolicyResponse,
};
use shangji_contracts::time::now_millis;
use shangji_platform::Db;
use shangji_platform::grpc::{ApiError, FieldViolation, RequestContext};

use super::convert::{policy_from_proto, policy_to_proto, stored_policy_to_proto};
use crate::bus::rule_clocks::apply_new_policy;
use crate::domain::{Policy, validate_policy};
use crate::store::{self, Upserted};
use shangji_platform::idempotency::Call;

const UPSERT_POLICY: &str = "UpsertPolicy";

pub async fn list(
    db: &Db,
    ctx: &RequestContext,
    first_contact_hours: u32,
) -> Result<ListPoliciesResponse, ApiError> {
    let stored = store::policies::list(db, &ctx.tenant_id).await?;
    let mut policies = Vec::with_capacity(stored.len() + 1);
    // Without a stored default, the built-in one applies: show it, so the list is what
    // the service does.
    if stored.first().is_none_or(|p| !p.policy.stage.is_empty()) {
        policies.push(policy_to_proto(&Policy::builtin(first_contact_hours), None));
    }
    policies.extend(stored.iter().map(stored_policy_to_proto));
    Ok(ListPoliciesResponse { policies })
}

pub async fn upsert(
    db: &Db,
    ctx: &RequestContext,
    req: UpsertPolicyRequest,
) -> Result<UpsertPolicyResponse, ApiError> {
    let key = req.idempotency_key.trim();
    let call = Call::new(ctx, UPSERT_POLICY, key, &req)?;
    let Some(policy) = req.policy.as_ref() else {
        return Err(ApiError::invalid_field("policy", "is required"));
    };
    let (stage, rules) = policy_from_proto(policy).map_err(ApiError::invalid)?;
    let violations: Vec<FieldViolation> = validate_policy(&stage, &rules)
        .into_iter()
        .map(|v| FieldViolation::new(v.field, v.description))
        .collect();
    if !violations.is_empty() {
        return Err(ApiError::invalid(violations));
    }
    if let Some(earlier) = call.replay(db).await? {
        return Ok(earlier);
    }
    let result: Result<UpsertPolicyResponse, ApiError> = async {
        let expected = (req.expected_version != 0).then_some(req.expected_version);
        let now = now_millis();
        let mut tx = db.begin().await?;
        let stored = match store::policies::upsert(
            &mut tx,
            &ctx.tenant_id,
            &stage,
            &rules,
            expected,
            now,
        )
        .await?
        {
            Upserted::Stored(stored) => stored,
            Upserted::VersionMismatch { current } => {
                return Err(ApiError::FailedPrecondition {
                    message: format!(
                        "the policy of stage `{stage}` is at version {current}, not {}; read it again and retry",
                        req.expected_version
                    ),
                    missing: vec![format!("expected_version {current}")],
                });
            }
        };
        let reached = apply_new_policy(&mut tx, &ctx.tenant_id, &stored.policy, now).await?;
        tracing::info!(
            tenant_id = %ctx.tenant_id,
            stage = %stage,
            policy_id = %stored.policy.policy_id,
            version = stored.policy.version,
            opportunities_rescheduled = reached,
            "policy stored"
        );
        let response = UpsertPolicyResponse {
            policy: Some(stored_policy_to_proto(&stored)),
        };
        call.commit(db, tx, response).await
    }
    .await;
    call.or_replay(db, result).await
}
