//! Approvals: UpsertApprovalRule and ListApprovalRules (the tenant's rules),
//! RequestApproval and Decide. Both steps are written into the opportunity's history
//! (`approval.<type>`), so it shows who asked, who decided and when.

use shangji_contracts::pipeline as pb;
use shangji_contracts::time::now_millis;
use shangji_platform::grpc::{ApiError, RequestContext};
use shangji_platform::{Db, ids};

use super::checks::Checks;
use super::{access, convert};
use crate::domain::Change;
use crate::domain::access::managers_above;
use crate::domain::approval::{
    self, Approval, ApprovalRule, ApprovalStatus, Approver, DecideError,
};
use crate::domain::definition::valid_pipeline_id;
use crate::domain::gate::valid_field_key;
use crate::domain::opportunity::{TEXT_MAX_CHARS, ensure_open};
use crate::store::{approvals, history, opportunities};
use shangji_platform::idempotency::Call;

/// Who history names when no rule asked for a decision.
const POLICY: &str = "policy";

pub async fn upsert_approval_rule(
    db: &Db,
    ctx: &RequestContext,
    req: pb::UpsertApprovalRuleRequest,
) -> Result<pb::UpsertApprovalRuleResponse, ApiError> {
    let given = req.rule.clone().unwrap_or_default();
    let mut checks = Checks::default();
    let rule_id = given.rule_id.trim().to_owned();
    if !valid_pipeline_id(&rule_id) {
        checks.violation(
            "rule.rule_id",
            "use 1 to 64 lowercase letters, digits, '-' or '_' (discount-over-15)",
        );
    }
    let approval_type = given.approval_type.trim().to_owned();
    if !valid_field_key(&approval_type) {
        checks.violation(
            "rule.approval_type",
            "use lowercase letters, digits or '_' (discount, quote)",
        );
    }
    if !(0.0..=100.0).contains(&given.discount_over_percent) {
        checks.violation(
            "rule.discount_over_percent",
            format!(
                "must be a percentage from 0 to 100 (15 for 15 %), got {}",
                given.discount_over_percent
            ),
        );
    }
    if !given.amount_over.is_finite() || given.amount_over < 0.0 {
        checks.violation("rule.amount_over", "must be zero or more");
    }
    let approver = convert::approver_from(given.approver, &given.approver_rep_ids)
        .map_err(|why| checks.violation("rule.approver", why))
        .ok();
    checks.finish()?;
    let Some(approver) = approver else {
        return Err(ApiError::invalid_field("rule.approver", "is required"));
    };
    let rule = ApprovalRule {
        rule_id,
        approval_type,
        discount_over_percent: given.discount_over_percent,
        amount_over: given.amount_over,
        approver,
    };
    let call = Call::new(ctx, "UpsertApprovalRule", &req.idempotency_key, &req)?;
    if let Some(response) = call.replay(db).await? {
        return Ok(response);
    }
    let result: Result<pb::UpsertApprovalRuleResponse, ApiError> = async {
        let mut tx = db.begin().await?;
        let caller = access::caller(&mut tx, ctx).await?;
        access::require_admin(&caller.viewer, "change approval rules")?;
        approvals::upsert_rule(&mut tx, &ctx.tenant_id, &rule, &ctx.user_id, now_millis()).await?;
        let response = pb::UpsertApprovalRuleResponse {
            rule: Some(convert::approval_rule(&rule)),
        };
        let response = call.commit(db, tx, response).await?;
        tracing::info!(rule_id = %rule.rule_id, approval_type = %rule.approval_type, "upserted an approval rule");
        Ok(response)
    }
    .await;
    call.or_replay(db, result).await
}

pub async fn list_approval_rules(
    db: &Db,
    ctx: &RequestContext,
) -> Result<pb::ListApprovalRulesResponse, ApiError> {
    let mut conn = db.reader().acquire().await?;
    let rules = approvals::rules(&mut conn, &ctx.tenant_id).await?;
    Ok(pb::ListApprovalRulesResponse {
        rules: rules.iter().map(convert::approval_rule).collect(),
    })
}

pub async fn request_approval(
    db: &Db,
    ctx: &RequestContext,
    req: pb::RequestApprovalRequest,
) -> Result<pb::RequestApprovalResponse, ApiError> {
    let mut checks = Checks::default();
    let opportunity_id = checks.id("opportunity_id", &req.opportunity_id);
    let approval_type = req.approval_type.trim().to_owned();
    if !valid_field_key(&approval_type) {
        checks.violation(
            "approval_type",
            "is required: lowercase letters, digits or '_' (discount, quote)",
        );
    }
    if !(0.0..=100.0).contains(&req.discount_percent) {
        checks.violation(
            "discount_percent",
            format!("must be from 0 to 100, got {}", req.discount_percent),
        );
    }
    checks.amount("amount", Some(req.amount));
    let note = checks.text("note", &req.note, TEXT_MAX_CHARS);
    checks.finish()?;
    let call = Call::new(ctx, "RequestApproval", &req.idempotency_key, &req)?;
    if let Some(response) = call.replay(db).await? {
        return Ok(response);
    }
    let result: Result<pb::RequestApprovalResponse, ApiError> = async {
        let mut tx = db.begin().await?;
        let caller = access::caller(&mut tx, ctx).await?;
        let opp = access::visible(&mut tx, ctx, &caller.viewer, &opportunity_id).await?;
        ensure_open(&opp).map_err(super::checks::refused)?;
        let rules = approvals::rules(&mut tx, &ctx.tenant_id).await?;
        let now = now_millis();
        let rule = approval::rule_for(&rules, &approval_type, req.discount_percent, req.amount);
        let mut request = Approval {
            approval_id: ids::new_id("apr"),
            opportunity_id: opportunity_id.clone(),
            approval_type: approval_type.clone(),
            status: ApprovalStatus::Pending,
            rule_id: String::new(),
            approver: Approver::Admin,
            discount_percent: req.discount_percent,
            amount: req.amount,
            note: note.clone(),
            requested_by: ctx.user_id.clone(),
            requested_at: now,
            decided_by: String::new(),
            decided_at: None,
            decision_note: String::new(),
        };
        match rule {
            Some(rule) => {
                request.rule_id = rule.rule_id.clone();
                request.approver = rule.approver.clone();
            }
            None => {
                // No rule needs a decision: the request documents the terms and passes.
                request.status = ApprovalStatus::Approved;
                request.decided_by = POLICY.to_owned();
                request.decided_at = Some(now);
                request.decision_note = "no approval rule applies".to_owned();
            }
        }
        approvals::insert(&mut tx, &ctx.tenant_id, &request).await?;
        let requested = Change::new(
            format!("approval.{approval_type}"),
            "",
            ApprovalStatus::Pending.as_str(),
        )
        .with_note(format!(
            "{} requested (discount {} %, amount {}){}",
            request.approval_id,
            request.discount_percent,
            request.amount,
            if note.is_empty() {
                String::new()
            } else {
                format!(": {note}")
            }
        ));
        history::append(
            &mut tx,
            &ctx.tenant_id,
            &opportunity_id,
            &ctx.user_id,
            now,
            &[requested],
        )
        .await?;
        if request.status == ApprovalStatus::Approved {
            let by_policy = Change::new(
                format!("approval.{approval_type}"),
                ApprovalStatus::Pending.as_str(),
                ApprovalStatus::Approved.as_str(),
            )
            .with_note(format!("{}: no approval rule applies", request.approval_id));
            history::append(
                &mut tx,
                &ctx.tenant_id,
                &opportunity_id,
                POLICY,
                now,
                &[by_policy],
            )
            .await?;
        }
        let response = pb::RequestApprovalResponse {
            approval: Some(convert::approval(&request)),
        };
        let response = call.commit(db, tx, response).await?;
        tracing::info!(
            opportunity_id = %opportunity_id,
            approval_id = %request.approval_id,
            approval_type = %approval_type,
            status = request.status.as_str(),
            "requested an approval"
        );
        Ok(response)
    }
    .await;
    call.or_replay(db, result).await
}

pub async fn decide(
    db: &Db,
    ctx: &RequestContext,
    req: pb::DecideRequest,
) -> Result<pb::DecideResponse, ApiError> {
    let mut checks = Checks::default();
    let approval_id = checks.id("approval_id", &req.approval_id);
    let status = match pb::Decision::try_from(req.decision) {
        Ok(pb::Decision::Approve) => Some(ApprovalStatus::Approved),
        Ok(pb::Decision::Reject) => Some(ApprovalStatus::Rejected),
        _ => {
            checks.violation(
                "decision",
                "is required: DECISION_APPROVE or DECISION_REJECT",
            );
            None
        }
    };
    let note = checks.text("note", &req.note, TEXT_MAX_CHARS);
    checks.finish()?;
    let Some(status) = status else {
        return Err(ApiError::invalid_field("decision", "is required"));
    };
    let call = Call::new(ctx, "Decide", &req.idempotency_key, &req)?;
    if let Some(response) = call.replay(db).await? {
        return Ok(response);
    }
    let result: Result<pb::DecideResponse, ApiError> = async {
        let mut tx = db.begin().await?;
        let caller = access::caller(&mut tx, ctx).await?;
        let mut request = approvals::get(&mut tx, &ctx.tenant_id, &approval_id)
            .await?
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "approval {approval_id} not found; GetOpportunity lists an opportunity's approvals"
                ))
            })?;
        let opp = opportunities::get(&mut tx, &ctx.tenant_id, &request.opportunity_id)
            .await?
            .ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!(
                    "approval {approval_id} points at a missing opportunity"
                ))
            })?;
        let managers = managers_above(&opp.team, &caller.teams);
        approval::check_decider(&request, &ctx.user_id, &caller.viewer, &managers).map_err(|err| {
            match err {
                DecideError::Decided(..) => ApiError::FailedPrecondition {
                    message: err.to_string(),
                    missing: vec![format!("approval {approval_id} pending")],
                },
                DecideError::OwnRequest(_) | DecideError::NotAnApprover(..) => {
                    ApiError::PermissionDenied(err.to_string())
                }
            }
        })?;
        let now = now_millis();
        request.status = status;
        request.decided_by = ctx.user_id.clone();
        request.decided_at = Some(now);
        request.decision_note = note.clone();
        if !approvals::decide(&mut tx, &ctx.tenant_id, &request).await? {
            return Err(ApiError::FailedPrecondition {
                message: format!("approval {approval_id} was decided by someone else just now"),
                missing: vec![format!("approval {approval_id} pending")],
            });
        }
        let decided = Change::new(
            format!("approval.{}", request.approval_type),
            ApprovalStatus::Pending.as_str(),
            status.as_str(),
        )
        .with_note(if note.is_empty() {
            approval_id.clone()
        } else {
            format!("{approval_id}: {note}")
        });
        history::append(
            &mut tx,
            &ctx.tenant_id,
            &request.opportunity_id,
            &ctx.user_id,
            now,
            &[decided],
        )
        .await?;
        let response = pb::DecideResponse {
            approval: Some(convert::approval(&request)),
        };
        let response = call.commit(db, tx, response).await?;
        tracing::info!(
            approval_id = %approval_id,
            opportunity_id = %request.opportunity_id,
            decision = status.as_str(),
            "decided an approval"
        );
        Ok(response)
    }
    .await;
    call.or_replay(db, result).await
}
