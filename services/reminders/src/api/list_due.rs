//! `ListDue`: what a rep (or the whole tenant) must do now or soon, within what the
//! caller may see. An owner filter naming someone the caller may not see gives an empty
//! list, as the pipeline's owner filter does: the filter narrows what is visible, it
//! never widens it, and the answer does not tell whether that rep has reminders.

use shangji_contracts::reminders::{ListDueRequest, ListDueResponse};
use shangji_contracts::time::now_millis;
use shangji_platform::Db;
use shangji_platform::grpc::{ApiError, RequestContext};

use super::access;
use super::convert::reminder_to_proto;
use crate::domain::{due_horizon, list_limit};
use crate::store;

/// Longest owner id accepted in a filter; longer ones cannot exist.
const MAX_OWNER_LEN: usize = 128;

pub async fn list_due(
    db: &Db,
    ctx: &RequestContext,
    req: ListDueRequest,
) -> Result<ListDueResponse, ApiError> {
    let due_by = due_horizon(
        now_millis(),
        req.within.as_ref().map(|d| (d.seconds, d.nanos)),
    )
    .map_err(|e| ApiError::invalid_field("within", e.to_string()))?;
    let owner = req.owner_rep_id.trim();
    if owner.len() > MAX_OWNER_LEN {
        return Err(ApiError::invalid_field(
            "owner_rep_id",
            format!("must be at most {MAX_OWNER_LEN} characters, or empty for the whole tenant"),
        ));
    }
    let owner = (!owner.is_empty()).then_some(owner);
    let viewer = {
        let mut conn = db.reader().acquire().await?;
        access::viewer(&mut conn, ctx).await?
    };
    let Some(scope) = access::scope(viewer) else {
        return Ok(ListDueResponse::default());
    };
    let rows = store::visible::list_open_due(
        db,
        &ctx.tenant_id,
        owner,
        scope.as_ref(),
        due_by,
        list_limit(req.limit),
    )
    .await?;
    Ok(ListDueResponse {
        reminders: rows.iter().map(reminder_to_proto).collect(),
    })
}
