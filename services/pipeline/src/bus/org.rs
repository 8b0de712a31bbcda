//! `org.team_upserted` and `org.rep_upserted` -> the local replica of the organisation
//! that data permissions and approvers read. Upserts keep the highest version, so
//! redelivered or reordered events never roll a team or rep back.

use anyhow::anyhow;
use shangji_contracts::events::org::{RepUpserted, TeamUpserted};
use shangji_platform::Tx;
use shangji_platform::bus::{Handler, HandlerError, IncomingEvent};

use crate::store::org::{self, RepRow, TeamRow};

#[derive(Clone, Debug, Default)]
pub struct OrgHandler;

impl Handler for OrgHandler {
    async fn handle(&self, tx: &mut Tx, event: &IncomingEvent) -> Result<(), HandlerError> {
        let tenant_id = event.tenant_id();
        if tenant_id.trim().is_empty() {
            return Err(HandlerError::Reject(anyhow!("org event without tenant")));
        }
        if event.is::<TeamUpserted>() {
            let team: TeamUpserted = event.decode()?;
            if team.team_id.trim().is_empty() {
                return Err(HandlerError::Reject(anyhow!(
                    "team_upserted without team_id"
                )));
            }
            let row = TeamRow {
                team_id: &team.team_id,
                name: &team.name,
                parent_team_id: &team.parent_team_id,
                manager_rep_id: &team.manager_rep_id,
                ancestor_team_ids: &team.ancestor_team_ids,
                version: version(team.version)?,
            };
            org::upsert_team(tx, tenant_id, &row).await?;
            tracing::debug!(tenant_id, team_id = %team.team_id, version = team.version, "replicated a team");
        } else if event.is::<RepUpserted>() {
            let rep: RepUpserted = event.decode()?;
            if rep.rep_id.trim().is_empty() {
                return Err(HandlerError::Reject(anyhow!("rep_upserted without rep_id")));
            }
            let row = RepRow {
                rep_id: &rep.rep_id,
                name: &rep.name,
                team_id: &rep.team_id,
                role: &rep.role,
                status: &rep.status,
                version: version(rep.version)?,
            };
            org::upsert_rep(tx, tenant_id, &row).await?;
            tracing::debug!(tenant_id, rep_id = %rep.rep_id, role = %rep.role, version = rep.version, "replicated a rep");
        }
        // Other org events are not the pipeline's business.
        Ok(())
    }
}

fn version(v: u64) -> Result<i64, HandlerError> {
    i64::try_from(v)
        .map_err(|_| HandlerError::Reject(anyhow!("org event version {v} out of range")))
}
