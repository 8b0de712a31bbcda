//! ListReviewQueue and ResolveReview: a person judges the possible matches the matcher
//! could not decide. `same` merges the two customers (the older survives), `different`
//! records the pair so that it is never asked about again.

use shangji_contracts::dedup::{self as pb, MatchDecision, ReviewStatus as PbStatus};
use shangji_contracts::time::{from_millis, now_millis};
use shangji_platform::Db;
use shangji_platform::grpc::{ApiError, RequestContext};
use sqlx::AnyConnection;

use super::fields::Fields;
use super::merge::{merge_and_publish, merge_error, merge_message};
use super::{page_token, service::load_customer};
use crate::domain::merge::{MergeSide, survivor_of};
use crate::domain::merge_review::ReviewStatus;
use crate::store::customers;
use crate::store::merge::{self as merge_store, MergeDecision};
use crate::store::review::{self, Cursor, ReviewRecord};
use shangji_platform::idempotency::Call;

const RESOLVE_REVIEW: &str = "ResolveReview";
pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 500;

pub async fn list_review_queue(
    db: &Db,
    ctx: &RequestContext,
    req: pb::ListReviewQueueRequest,
) -> Result<pb::ListReviewQueueResponse, ApiError> {
    let status = match PbStatus::try_from(req.status) {
        Ok(PbStatus::Unspecified | PbStatus::Open) => ReviewStatus::Open,
        Ok(PbStatus::Same) => ReviewStatus::Same,
        Ok(PbStatus::Different) => ReviewStatus::Different,
        Err(_) => {
            return Err(ApiError::invalid_field(
                "status",
                format!("{} is not a ReviewStatus", req.status),
            ));
        }
    };
    let after = match req.page_token.as_str() {
        "" => None,
        token => Some(page_token::decode(token).ok_or_else(|| {
            ApiError::invalid_field(
                "page_token",
                "is not a token from a previous ListReviewQueue response; list again without it",
            )
        })?),
    };
    // Larger pages are served at the maximum rather than refused.
    let page_size = match req.page_size {
        0 => DEFAULT_PAGE_SIZE,
        n => n.min(MAX_PAGE_SIZE),
    } as usize;
    let mut conn = db.reader().acquire().await?;
    let total = review::count(&mut conn, &ctx.tenant_id, status).await?;
    let mut page = review::list(
        &mut conn,
        &ctx.tenant_id,
        status,
        after.as_ref(),
        page_size as i64 + 1,
    )
    .await?;
    let next_page_token = if page.len() > page_size {
        page.truncate(page_size);
        page.last()
            .map(|last| {
                page_token::encode(&Cursor {
                    created_at: last.created_at,
                    review_id: last.review_id.clone(),
                })
            })
            .unwrap_or_default()
    } else {
        String::new()
    };
    let mut items = Vec::with_capacity(page.len());
    for record in &page {
        items.push(review_item(&mut conn, &ctx.tenant_id, record).await?);
    }
    Ok(pb::ListReviewQueueResponse {
        items,
        next_page_token,
        total_count: u64::try_from(total).unwrap_or(0),
    })
}

pub async fn resolve_review(
    db: &Db,
    ctx: &RequestContext,
    req: pb::ResolveReviewRequest,
) -> Result<pb::ResolveReviewResponse, ApiError> {
    let mut fields = Fields::default();
    let review_id = fields.id("review_id", &req.review_id, "review item");
    let note = fields.note("note", &req.note);
    let decision = match MatchDecision::try_from(req.decision) {
        Ok(MatchDecision::Same) => ReviewStatus::Same,
        Ok(MatchDecision::Different) => ReviewStatus::Different,
        _ => {
            fields.violate(
                "decision",
                "must be MATCH_DECISION_SAME (merge the two) or MATCH_DECISION_DIFFERENT (keep them apart)",
            );
            ReviewStatus::Open
        }
    };
    let call = Call::new(ctx, RESOLVE_REVIEW, &req.idempotency_key, &req)?;
    fields.finish()?;
    if let Some(earlier) = call.replay(db).await? {
        return Ok(earlier);
    }
    let result: Result<pb::ResolveReviewResponse, ApiError> = async {

        let now = now_millis();
        let mut tx = db.begin().await?;
        // Concurrent resolutions of one item queue up behind this lock and then see it closed.
        let Some(item) = review::lock_item(&mut tx, &ctx.tenant_id, review_id).await? else {
            return Err(ApiError::NotFound(format!(
                "review item {review_id} not found"
            )));
        };
        if item.status != ReviewStatus::Open {
            // Asking again for what was decided is answered with the decision; asking for the
            // opposite is refused, since it would silently overturn a person's judgement.
            if item.status != decision {
                return Err(overturn_refused(&item));
            }
            let merge = match item.merge_id.as_str() {
                "" => None,
                id => merge_store::merge(&mut tx, &ctx.tenant_id, id)
                    .await?
                    .map(|m| merge_message(&m)),
            };
            let response = pb::ResolveReviewResponse {
                item: Some(review_item(&mut tx, &ctx.tenant_id, &item).await?),
                merge,
            };
            tx.rollback().await?;
            return Ok(response);
        }

        // Either side may have been merged into something else since the question was asked.
        let customer =
            merge_store::current_customer(&mut tx, &ctx.tenant_id, &item.customer_id).await?;
        let candidate =
            merge_store::current_customer(&mut tx, &ctx.tenant_id, &item.candidate_customer_id).await?;
        let mut merge = None;
        let mut merge_id = String::new();
        match decision {
            ReviewStatus::Different => {
                review::record_different(
                    &mut tx,
                    &ctx.tenant_id,
                    &customer,
                    &candidate,
                    review_id,
                    &ctx.user_id,
                    now,
                )
                .await?;
            }
            _ if customer == candidate => {
                // Merged meanwhile by another decision: the answer holds, nothing to move.
            }
            _ => {
                let (survivor, merged) = survivor_of(
                    side(&mut tx, &ctx.tenant_id, &customer).await?,
                    side(&mut tx, &ctx.tenant_id, &candidate).await?,
                );
                let plan = merge_store::plan(
                    &mut tx,
                    &ctx.tenant_id,
                    &survivor.customer_id,
                    &[merged.customer_id.as_str()],
                )
                .await
                .map_err(merge_error)?;
                let reason = match note {
                    "" => format!("review {review_id}: judged the same"),
                    note => format!("review {review_id}: {note}"),
                };
                let record = merge_and_publish(
                    &mut tx,
                    ctx,
                    &plan,
                    &MergeDecision {
                        decided_by: ctx.user_id.clone(),
                        reason,
                        review_id: review_id.to_owned(),
                    },
                )
                .await?;
                merge_id = record.merge_id.clone();
                merge = Some(merge_message(&record));
            }
        }
        review::set_resolution(
            &mut tx,
            &ctx.tenant_id,
            review_id,
            decision,
            &ctx.user_id,
            note,
            &merge_id,
            now,
        )
        .await?;
        let item = review::review_item(&mut tx, &ctx.tenant_id, review_id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("review item {review_id} not found")))?;
        tracing::info!(tenant_id = %ctx.tenant_id, review_id, decision = decision.as_str(), by = %ctx.user_id, "review resolved");
        metrics::counter!("shangji_dedup_reviews_resolved_total", "decision" => decision.as_str())
            .increment(1);
        let response = pb::ResolveReviewResponse {
            item: Some(review_item(&mut tx, &ctx.tenant_id, &item).await?),
            merge,
        };
        call.commit(db, tx, response).await
    }
    .await;
    call.or_replay(db, result).await
}

async fn side(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
) -> Result<MergeSide, ApiError> {
    let record = customers::customer(conn, tenant_id, customer_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("customer {customer_id} not found")))?;
    Ok(MergeSide {
        customer_id: record.customer_id,
        created_at: record.created_at,
    })
}

fn overturn_refused(item: &ReviewRecord) -> ApiError {
    let mut missing = Vec::new();
    if !item.merge_id.is_empty() {
        missing.push(format!(
            "to separate the customers, undo merge {} with UnmergeCustomers",
            item.merge_id
        ));
    } else {
        missing.push("to merge the customers anyway, call MergeCustomers".to_owned());
    }
    ApiError::FailedPrecondition {
        message: format!(
            "review item {} was resolved as {} by {}",
            item.review_id,
            item.status.as_str(),
            item.resolved_by
        ),
        missing,
    }
}

async fn review_item(
    conn: &mut AnyConnection,
    tenant_id: &str,
    record: &ReviewRecord,
) -> Result<pb::ReviewItem, ApiError> {
    let customer = load_customer(&mut *conn, tenant_id, &record.customer_id).await?;
    let candidate = load_customer(&mut *conn, tenant_id, &record.candidate_customer_id).await?;
    Ok(pb::ReviewItem {
        review_id: record.review_id.clone(),
        lead_id: record.lead_id.clone(),
        customer_id: record.customer_id.clone(),
        candidate_customer_id: record.candidate_customer_id.clone(),
        score: record.score,
        reasons: record.reasons.clone(),
        evidence: record
            .evidence
            .iter()
            .map(|e| pb::FieldEvidence {
                field: e.field.clone(),
                similarity: e.similarity,
                contribution: e.contribution,
                detail: e.detail.clone(),
            })
            .collect(),
        status: match record.status {
            ReviewStatus::Open => PbStatus::Open,
            ReviewStatus::Same => PbStatus::Same,
            ReviewStatus::Different => PbStatus::Different,
        } as i32,
        created_at: Some(from_millis(record.created_at)),
        resolved_at: (record.resolved_at != 0).then(|| from_millis(record.resolved_at)),
        resolved_by: record.resolved_by.clone(),
        note: record.note.clone(),
        merge_id: record.merge_id.clone(),
        customer,
        candidate,
    })
}
