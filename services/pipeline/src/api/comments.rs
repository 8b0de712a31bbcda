//! Comments on an opportunity: AddComment and ListComments. Whoever may see the
//! opportunity may comment on it and read its comments, open or closed; the author is
//! the caller (`x-user-id`). Each comment is also a history line `comment`, so
//! GetHistory tells the whole story in one place.

use shangji_contracts::pipeline as pb;
use shangji_contracts::time::now_millis;
use shangji_platform::grpc::{ApiError, RequestContext};
use shangji_platform::idempotency::Call;
use shangji_platform::{Db, ids};

use super::checks::Checks;
use super::{access, convert};
use crate::domain::Change;
use crate::domain::opportunity::TEXT_MAX_CHARS;
use crate::store::comments::{self, Comment};
use crate::store::history;

pub async fn add_comment(
    db: &Db,
    ctx: &RequestContext,
    req: pb::AddCommentRequest,
) -> Result<pb::AddCommentResponse, ApiError> {
    let mut checks = Checks::default();
    let opportunity_id = checks.id("opportunity_id", &req.opportunity_id);
    let body = checks.required_text("body", &req.body, TEXT_MAX_CHARS);
    checks.finish()?;
    let call = Call::new(ctx, "AddComment", &req.idempotency_key, &req)?;
    if let Some(response) = call.replay(db).await? {
        return Ok(response);
    }
    let result: Result<pb::AddCommentResponse, ApiError> = async {
        let mut tx = db.begin().await?;
        let caller = access::caller(&mut tx, ctx).await?;
        access::visible(&mut tx, ctx, &caller.viewer, &opportunity_id).await?;
        let comment = Comment {
            comment_id: ids::new_id("cmt"),
            opportunity_id: opportunity_id.clone(),
            author_id: ctx.user_id.clone(),
            body,
            created_at: now_millis(),
        };
        comments::insert(&mut tx, &ctx.tenant_id, &comment).await?;
        history::append(
            &mut tx,
            &ctx.tenant_id,
            &opportunity_id,
            &ctx.user_id,
            comment.created_at,
            &[Change::new("comment", "", comment.body.clone())],
        )
        .await?;
        let response = pb::AddCommentResponse {
            comment: Some(convert::comment(&comment)),
        };
        let response = call.commit(db, tx, response).await?;
        tracing::info!(
            opportunity_id = %opportunity_id,
            comment_id = %comment.comment_id,
            "added a comment"
        );
        Ok(response)
    }
    .await;
    call.or_replay(db, result).await
}

pub async fn list_comments(
    db: &Db,
    ctx: &RequestContext,
    req: pb::ListCommentsRequest,
) -> Result<pb::ListCommentsResponse, ApiError> {
    let mut checks = Checks::default();
    let opportunity_id = checks.id("opportunity_id", &req.opportunity_id);
    checks.finish()?;
    let mut conn = db.reader().acquire().await?;
    let caller = access::caller(&mut conn, ctx).await?;
    access::visible(&mut conn, ctx, &caller.viewer, &opportunity_id).await?;
    let list = comments::list_for(&mut conn, &ctx.tenant_id, &opportunity_id).await?;
    Ok(pb::ListCommentsResponse {
        comments: list.iter().map(convert::comment).collect(),
    })
}
