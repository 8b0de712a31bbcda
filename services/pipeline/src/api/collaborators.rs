//! The opportunity team: AddCollaborator and RemoveCollaborator. The owner, a manager
//! over the opportunity's team or an admin may change it; each change is in the history
//! as `collaborator.<rep>` (old role -> new role).

use shangji_contracts::pipeline as pb;
use shangji_contracts::time::now_millis;
use shangji_platform::Db;
use shangji_platform::grpc::{ApiError, RequestContext};

use super::checks::Checks;
use super::{access, convert};
use crate::domain::access::Viewer;
use crate::domain::gate::valid_field_key;
use crate::domain::{Change, Opportunity};
use crate::store::collaborators::{self, Collaborator};
use crate::store::history;
use shangji_platform::idempotency::Call;

pub async fn add_collaborator(
    db: &Db,
    ctx: &RequestContext,
    req: pb::AddCollaboratorRequest,
) -> Result<pb::AddCollaboratorResponse, ApiError> {
    let mut checks = Checks::default();
    let opportunity_id = checks.id("opportunity_id", &req.opportunity_id);
    let rep_id = checks.id("rep_id", &req.rep_id);
    let role = req.role.trim().to_owned();
    if !valid_field_key(&role) {
        checks.violation(
            "role",
            "is required: lowercase letters, digits or '_' (presales, technical, finance)",
        );
    }
    checks.finish()?;
    let call = Call::new(ctx, "AddCollaborator", &req.idempotency_key, &req)?;
    if let Some(response) = call.replay(db).await? {
        return Ok(response);
    }
    let result: Result<pb::AddCollaboratorResponse, ApiError> = async {
        let mut tx = db.begin().await?;
        let caller = access::caller(&mut tx, ctx).await?;
        let opp = access::visible(&mut tx, ctx, &caller.viewer, &opportunity_id).await?;
        may_manage(&caller.viewer, &opp)?;
        if rep_id == opp.owner_rep_id {
            return Err(ApiError::invalid_field(
                "rep_id",
                format!("{rep_id} owns the opportunity already"),
            ));
        }
        let now = now_millis();
        let added = Collaborator {
            rep_id: rep_id.clone(),
            role: role.clone(),
            added_by: ctx.user_id.clone(),
            added_at: now,
        };
        let before = collaborators::upsert(&mut tx, &ctx.tenant_id, &opportunity_id, &added).await?;
        if before.as_deref() != Some(role.as_str()) {
            let change = Change::new(
                format!("collaborator.{rep_id}"),
                before.unwrap_or_default(),
                role.clone(),
            );
            history::append(
                &mut tx,
                &ctx.tenant_id,
                &opportunity_id,
                &ctx.user_id,
                now,
                &[change],
            )
            .await?;
        }
        let team = collaborators::list_for(&mut tx, &ctx.tenant_id, &opportunity_id).await?;
        let response = pb::AddCollaboratorResponse {
            collaborators: team.iter().map(convert::collaborator).collect(),
        };
        let response = call.commit(db, tx, response).await?;
        tracing::info!(opportunity_id = %opportunity_id, rep_id = %rep_id, role = %role, "added a collaborator");
        Ok(response)
    }
    .await;
    call.or_replay(db, result).await
}

pub async fn remove_collaborator(
    db: &Db,
    ctx: &RequestContext,
    req: pb::RemoveCollaboratorRequest,
) -> Result<pb::RemoveCollaboratorResponse, ApiError> {
    let mut checks = Checks::default();
    let opportunity_id = checks.id("opportunity_id", &req.opportunity_id);
    let rep_id = checks.id("rep_id", &req.rep_id);
    checks.finish()?;
    let call = Call::new(ctx, "RemoveCollaborator", &req.idempotency_key, &req)?;
    if let Some(response) = call.replay(db).await? {
        return Ok(response);
    }
    let result: Result<pb::RemoveCollaboratorResponse, ApiError> = async {
        let mut tx = db.begin().await?;
        let caller = access::caller(&mut tx, ctx).await?;
        let opp = access::visible(&mut tx, ctx, &caller.viewer, &opportunity_id).await?;
        may_manage(&caller.viewer, &opp)?;
        let now = now_millis();
        let Some(role) =
            collaborators::remove(&mut tx, &ctx.tenant_id, &opportunity_id, &rep_id).await?
        else {
            return Err(ApiError::NotFound(format!(
                "{rep_id} is not on the team of opportunity {opportunity_id}"
            )));
        };
        let change = Change::new(format!("collaborator.{rep_id}"), role, "");
        history::append(
            &mut tx,
            &ctx.tenant_id,
            &opportunity_id,
            &ctx.user_id,
            now,
            &[change],
        )
        .await?;
        let team = collaborators::list_for(&mut tx, &ctx.tenant_id, &opportunity_id).await?;
        let response = pb::RemoveCollaboratorResponse {
            collaborators: team.iter().map(convert::collaborator).collect(),
        };
        let response = call.commit(db, tx, response).await?;
        tracing::info!(opportunity_id = %opportunity_id, rep_id = %rep_id, "removed a collaborator");
        Ok(response)
    }
    .await;
    call.or_replay(db, result).await
}

fn may_manage(viewer: &Viewer, opp: &Opportunity) -> Result<(), ApiError> {
    if viewer.can_manage(&opp.owner_rep_id, &opp.team) {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied(format!(
            "only the owner of opportunity {}, a manager over its team or an admin may change its team",
            opp.opportunity_id
        )))
    }
}
