//! The tenant's ordered assignment rules.

use shangji_contracts::assignment::{
    DeleteRuleRequest, DeleteRuleResponse, ListRulesResponse, ReorderRulesRequest,
    ReorderRulesResponse, UpsertRuleRequest, UpsertRuleResponse,
};
use shangji_platform::grpc::{ApiError, RequestContext};
use shangji_platform::idempotency;

use super::{AssignmentApi, convert};
use crate::domain::AssignmentRule;
use crate::store::rules;

impl AssignmentApi {
    pub(super) async fn do_upsert_rule(
        &self,
        ctx: &RequestContext,
        request: UpsertRuleRequest,
    ) -> Result<UpsertRuleResponse, ApiError> {
        let rule = request.rule.clone().ok_or_else(|| {
            ApiError::invalid_field("rule", "is required: send the rule to create or change")
        })?;
        let rule = AssignmentRule::parse(convert::rule_from_proto(rule))
            .map_err(|p| convert::invalid("rule", p))?;
        let now = self.clock.now();
        let key = request.idempotency_key.clone();
        idempotency::once(&self.db, ctx, "UpsertRule", &key, &request, async |tx| {
            let existing = rules::list(&mut **tx, &ctx.tenant_id).await?;
            let mut order: Vec<String> = existing.iter().map(|r| r.rule_id.clone()).collect();
            let current = order.iter().position(|id| *id == rule.rule_id);
            let place = match (rule.position, current) {
                (0, Some(at)) => at,
                (0, None) => order.len(),
                (p, _) => usize::try_from(p - 1).unwrap_or(usize::MAX),
            };
            order.retain(|id| *id != rule.rule_id);
            order.insert(place.min(order.len()), rule.rule_id.clone());
            let created = rules::save(tx, &ctx.tenant_id, &rule, now).await?;
            rules::set_order(tx, &ctx.tenant_id, &order).await?;
            let saved = rules::list(&mut **tx, &ctx.tenant_id)
                .await?
                .into_iter()
                .find(|r| r.rule_id == rule.rule_id)
                .ok_or(sqlx::Error::RowNotFound)?;
            tracing::info!(tenant_id = %ctx.tenant_id, rule_id = %saved.rule_id, position = saved.position, created, "rule saved");
            Ok(UpsertRuleResponse { rule: Some(convert::rule_to_proto(&saved)), created })
        })
        .await
    }

    pub(super) async fn do_list_rules(
        &self,
        ctx: &RequestContext,
    ) -> Result<ListRulesResponse, ApiError> {
        let found = rules::list(self.db.reader(), &ctx.tenant_id).await?;
        Ok(ListRulesResponse {
            rules: found.iter().map(convert::rule_to_proto).collect(),
        })
    }

    pub(super) async fn do_delete_rule(
        &self,
        ctx: &RequestContext,
        request: DeleteRuleRequest,
    ) -> Result<DeleteRuleResponse, ApiError> {
        let rule_id = request.rule_id.trim().to_owned();
        if rule_id.is_empty() {
            return Err(ApiError::invalid_field(
                "rule_id",
                "must not be empty: name the rule to delete",
            ));
        }
        let key = request.idempotency_key.clone();
        idempotency::once(&self.db, ctx, "DeleteRule", &key, &request, async |tx| {
            let deleted = rules::delete(tx, &ctx.tenant_id, &rule_id).await?;
            let order: Vec<String> = rules::list(&mut **tx, &ctx.tenant_id)
                .await?
                .into_iter()
                .map(|r| r.rule_id)
                .collect();
            rules::set_order(tx, &ctx.tenant_id, &order).await?;
            Ok(DeleteRuleResponse { deleted })
        })
        .await
    }

    pub(super) async fn do_reorder_rules(
        &self,
        ctx: &RequestContext,
        request: ReorderRulesRequest,
    ) -> Result<ReorderRulesResponse, ApiError> {
        let key = request.idempotency_key.clone();
        idempotency::once(&self.db, ctx, "ReorderRules", &key, &request, async |tx| {
            let mut existing: Vec<String> = rules::list(&mut **tx, &ctx.tenant_id)
                .await?
                .into_iter()
                .map(|r| r.rule_id)
                .collect();
            let mut wanted: Vec<String> = request
                .rule_ids
                .iter()
                .map(|s| s.trim().to_owned())
                .collect();
            let order = wanted.clone();
            existing.sort();
            wanted.sort();
            if existing != wanted {
                return Err(ApiError::invalid_field(
                    "rule_ids",
                    format!(
                        "must list every rule of the tenant exactly once: {}",
                        existing.join(", ")
                    ),
                ));
            }
            rules::set_order(tx, &ctx.tenant_id, &order).await?;
            let found = rules::list(&mut **tx, &ctx.tenant_id).await?;
            Ok(ReorderRulesResponse {
                rules: found.iter().map(convert::rule_to_proto).collect(),
            })
        })
        .await
    }
}
