//! Org events -> the local replica of teams and reps: whom an escalation step that
//! notifies the manager reaches, and who may see whose reminders (roles, status).
//! Versioned upserts make redelivery and reordering harmless.

use shangji_contracts::events::Event;
use shangji_contracts::events::org::{RepUpserted, TeamUpserted};
use shangji_platform::Tx;
use shangji_platform::bus::{Handler, HandlerError, IncomingEvent};

use crate::store;

/// The org events this handler uses (the consumer's filter).
pub const ORG_EVENTS: &[&str] = &["team_upserted", "rep_upserted"];

/// The org consumer's durable name. Not the service name: migration 0005 added roles to
/// the replica, and a consumer under a new name reads the org stream from its start
/// again to fill them in.
pub const ORG_CONSUMER: &str = "reminders-org";

#[derive(Clone, Copy, Debug, Default)]
pub struct OrgEvents;

impl Handler for OrgEvents {
    async fn handle(&self, tx: &mut Tx, event: &IncomingEvent) -> Result<(), HandlerError> {
        let tenant_id = event.tenant_id();
        if tenant_id.is_empty() {
            return Err(reject("the envelope names no tenant"));
        }
        if event.event_type() == TeamUpserted::TYPE {
            let e: TeamUpserted = event.decode()?;
            if e.team_id.is_empty() {
                return Err(reject("team_upserted names no team_id"));
            }
            store::org::upsert_team(
                tx,
                tenant_id,
                &e.team_id,
                &e.parent_team_id,
                &e.manager_rep_id,
                e.version,
            )
            .await?;
        } else if event.event_type() == RepUpserted::TYPE {
            let e: RepUpserted = event.decode()?;
            if e.rep_id.is_empty() {
                return Err(reject("rep_upserted names no rep_id"));
            }
            let rep = store::org::RepUpsert {
                rep_id: &e.rep_id,
                team_id: &e.team_id,
                role: &e.role,
                status: &e.status,
                version: e.version,
            };
            store::org::upsert_rep(tx, tenant_id, &rep).await?;
        }
        Ok(())
    }
}

fn reject(reason: &str) -> HandlerError {
    HandlerError::Reject(anyhow::anyhow!("{reason}"))
}
