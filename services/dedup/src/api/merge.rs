//! MergeCustomers and UnmergeCustomers: merges publish `customer_merged`, undos publish
//! `customer_unmerged`, both through the outbox in the transaction that made them, so
//! assignment and pipeline re-point owners and opportunities exactly when it happened.

use shangji_contracts::dedup as pb;
use shangji_contracts::events::lead::{CustomerMerged, CustomerUnmerged};
use shangji_contracts::time::{from_millis, now_millis};
use shangji_platform::bus::{self, EventContext};
use shangji_platform::grpc::{ApiError, RequestContext};
use shangji_platform::{Db, Tx};

use super::fields::Fields;
use crate::domain::merge::{MergePlan, MovedItem, merged_ids};
use crate::store::merge::{self, MergeDecision, MergeError, MergeRecord};
use shangji_platform::idempotency::Call;

const MERGE_CUSTOMERS: &str = "MergeCustomers";
const UNMERGE_CUSTOMERS: &str = "UnmergeCustomers";

pub async fn merge_customers(
    db: &Db,
    ctx: &RequestContext,
    req: pb::MergeCustomersRequest,
) -> Result<pb::MergeCustomersResponse, ApiError> {
    let mut fields = Fields::default();
    let survivor = fields.id(
        "survivor_customer_id",
        &req.survivor_customer_id,
        "customer",
    );
    for (i, id) in req.merged_customer_ids.iter().enumerate() {
        fields.id(&format!("merged_customer_ids[{i}]"), id, "customer");
    }
    let reason = fields.note("reason", &req.reason);
    let merged = match merged_ids(survivor, &req.merged_customer_ids) {
        Ok(merged) => merged,
        Err(err) => {
            fields.violate("merged_customer_ids", err.to_string());
            Vec::new()
        }
    };
    let call = Call::new(ctx, MERGE_CUSTOMERS, &req.idempotency_key, &req)?;
    fields.finish()?;

    if req.dry_run {
        // The plan locks and reads inside a transaction that is then rolled back.
        let mut tx = db.begin().await?;
        let plan = merge::plan(&mut tx, &ctx.tenant_id, survivor, &merged)
            .await
            .map_err(merge_error)?;
        tx.rollback().await?;
        return Ok(pb::MergeCustomersResponse {
            dry_run: true,
            merge: Some(planned_merge(&plan, ctx, reason)),
        });
    }
    if let Some(earlier) = call.replay(db).await? {
        return Ok(earlier);
    }
    let result: Result<pb::MergeCustomersResponse, ApiError> = async {
        let mut tx = db.begin().await?;
        let plan = merge::plan(&mut tx, &ctx.tenant_id, survivor, &merged)
            .await
            .map_err(merge_error)?;
        let decision = MergeDecision {
            decided_by: ctx.user_id.clone(),
            reason: reason.to_owned(),
            review_id: String::new(),
        };
        let record = merge_and_publish(&mut tx, ctx, &plan, &decision).await?;
        let response = pb::MergeCustomersResponse {
            dry_run: false,
            merge: Some(merge_message(&record)),
        };
        call.commit(db, tx, response).await
    }
    .await;
    call.or_replay(db, result).await
}

pub async fn unmerge_customers(
    db: &Db,
    ctx: &RequestContext,
    req: pb::UnmergeCustomersRequest,
) -> Result<pb::UnmergeCustomersResponse, ApiError> {
    let mut fields = Fields::default();
    let merge_id = fields.id("merge_id", &req.merge_id, "merge");
    let call = Call::new(ctx, UNMERGE_CUSTOMERS, &req.idempotency_key, &req)?;
    fields.finish()?;
    if let Some(earlier) = call.replay(db).await? {
        return Ok(earlier);
    }
    let result: Result<pb::UnmergeCustomersResponse, ApiError> = async {
        let now = now_millis();
        let mut tx = db.begin().await?;
        let record = merge::unmerge(&mut tx, &ctx.tenant_id, merge_id, &ctx.user_id, now)
            .await
            .map_err(merge_error)?;
        let event = CustomerUnmerged {
            merge_id: record.merge_id.clone(),
            survivor_customer_id: record.survivor_customer_id.clone(),
            restored_customer_ids: record.merged_customer_ids.clone(),
            decided_by: ctx.user_id.clone(),
            unmerged_at: Some(from_millis(now)),
        };
        bus::enqueue(
            &mut tx,
            &EventContext::from_request(ctx, &record.merge_id),
            &event,
        )
        .await?;
        tracing::info!(tenant_id = %ctx.tenant_id, merge_id = %record.merge_id, by = %ctx.user_id, "merge undone");
        metrics::counter!("shangji_dedup_unmerges_total").increment(1);
        let response = pb::UnmergeCustomersResponse {
            merge: Some(merge_message(&record)),
        };
        call.commit(db, tx, response).await
    }
    .await;
    call.or_replay(db, result).await
}

/// Applies a plan and enqueues `customer_merged` in the same transaction.
pub async fn merge_and_publish(
    tx: &mut Tx,
    ctx: &RequestContext,
    plan: &MergePlan,
    decision: &MergeDecision,
) -> Result<MergeRecord, ApiError> {
    let record = merge::apply(tx, &ctx.tenant_id, plan, decision, now_millis()).await?;
    let event = CustomerMerged {
        merge_id: record.merge_id.clone(),
        survivor_customer_id: record.survivor_customer_id.clone(),
        merged_customer_ids: record.merged_customer_ids.clone(),
        decided_by: record.decided_by.clone(),
        reason: record.reason.clone(),
        merged_at: Some(from_millis(record.merged_at)),
    };
    bus::enqueue(
        tx,
        &EventContext::from_request(ctx, &record.merge_id),
        &event,
    )
    .await?;
    tracing::info!(tenant_id = %ctx.tenant_id, merge_id = %record.merge_id,
        survivor = %record.survivor_customer_id, merged = ?record.merged_customer_ids,
        moved = record.moves.len(), by = %record.decided_by, "customers merged");
    metrics::counter!("shangji_dedup_merges_total").increment(1);
    Ok(record)
}

pub fn merge_error(err: MergeError) -> ApiError {
    match err {
        MergeError::CustomerNotFound(id) => ApiError::NotFound(format!("customer {id} not found")),
        MergeError::MergeNotFound(id) => ApiError::NotFound(format!("merge {id} not found")),
        MergeError::AlreadyMerged {
            customer_id,
            survivor_customer_id,
            merge_id,
        } => ApiError::FailedPrecondition {
            message: format!(
                "customer {customer_id} was merged into {survivor_customer_id} by merge {merge_id}"
            ),
            missing: vec![format!(
                "undo merge {merge_id} with UnmergeCustomers first, or use customer {survivor_customer_id}"
            )],
        },
        MergeError::AlreadyUndone {
            merge_id,
            unmerged_by,
        } => ApiError::FailedPrecondition {
            message: format!("merge {merge_id} was undone already by {unmerged_by}"),
            missing: vec!["nothing to undo; merge the customers again if they are one".into()],
        },
        MergeError::Database(err) => err.into(),
    }
}

pub fn merge_message(record: &MergeRecord) -> pb::Merge {
    pb::Merge {
        merge_id: record.merge_id.clone(),
        survivor_customer_id: record.survivor_customer_id.clone(),
        merged_customer_ids: record.merged_customer_ids.clone(),
        decided_by: record.decided_by.clone(),
        reason: record.reason.clone(),
        review_id: record.review_id.clone(),
        moved: record.moves.iter().map(moved_item).collect(),
        merged_at: Some(from_millis(record.merged_at)),
        unmerged_at: (record.unmerged_at != 0).then(|| from_millis(record.unmerged_at)),
        unmerged_by: record.unmerged_by.clone(),
    }
}

/// What a dry run shows: the merge as it would be recorded, without an id.
fn planned_merge(plan: &MergePlan, ctx: &RequestContext, reason: &str) -> pb::Merge {
    pb::Merge {
        merge_id: String::new(),
        survivor_customer_id: plan.survivor_customer_id.clone(),
        merged_customer_ids: plan.merged_customer_ids.clone(),
        decided_by: ctx.user_id.clone(),
        reason: reason.to_owned(),
        review_id: String::new(),
        moved: plan.moves.iter().map(moved_item).collect(),
        merged_at: None,
        unmerged_at: None,
        unmerged_by: String::new(),
    }
}

fn moved_item(moved: &MovedItem) -> pb::MovedItem {
    pb::MovedItem {
        kind: moved.kind.as_str().to_owned(),
        item: moved.item.clone(),
        from_customer_id: moved.from_customer_id.clone(),
        detail: moved.detail.clone(),
    }
}
