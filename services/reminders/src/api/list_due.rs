//! `ListDue`: what a rep (or the whole tenant) must do now or soon.

use shangji_contracts::reminders::reminder_service_server::ReminderService;
use shangji_contracts::reminders::{self as pb, ListDueRequest, ListDueResponse};
use shangji_contracts::time::{from_millis, now_millis};
use shangji_platform::Db;
use shangji_platform::grpc::{ApiError, request_context};
use tonic::{Request, Response, Status};

use crate::domain::{ReminderState, due_horizon, list_limit};
use crate::store::{self, ReminderRow};

/// Longest owner id accepted in a filter; longer ones cannot exist.
const MAX_OWNER_LEN: usize = 128;

#[derive(Clone, Debug)]
pub struct ReminderApi {
    db: Db,
}

impl ReminderApi {
    pub fn new(db: Db) -> ReminderApi {
        ReminderApi { db }
    }
}

#[tonic::async_trait]
impl ReminderService for ReminderApi {
    async fn list_due(
        &self,
        request: Request<ListDueRequest>,
    ) -> Result<Response<ListDueResponse>, Status> {
        let ctx = request_context(&request)?;
        let req = request.into_inner();
        let due_by = due_horizon(
            now_millis(),
            req.within.as_ref().map(|d| (d.seconds, d.nanos)),
        )
        .map_err(|e| ApiError::invalid_field("within", e.to_string()))?;
        let owner = req.owner_rep_id.trim();
        if owner.len() > MAX_OWNER_LEN {
            return Err(ApiError::invalid_field(
                "owner_rep_id",
                format!(
                    "must be at most {MAX_OWNER_LEN} characters, or empty for the whole tenant"
                ),
            )
            .into());
        }
        let owner = (!owner.is_empty()).then_some(owner);
        let rows = store::reminders::list_open_due_by(
            &self.db,
            &ctx.tenant_id,
            owner,
            due_by,
            list_limit(req.limit),
        )
        .await
        .map_err(ApiError::from)?;
        Ok(Response::new(ListDueResponse {
            reminders: rows.iter().map(to_proto).collect(),
        }))
    }
}

fn to_proto(row: &ReminderRow) -> pb::Reminder {
    let state = match row.state {
        ReminderState::Pending => pb::ReminderState::Pending,
        ReminderState::Fired => pb::ReminderState::Fired,
        // The query returns open reminders only; anything else would be a bug, shown honestly.
        ReminderState::Done | ReminderState::Cancelled => pb::ReminderState::Unspecified,
    };
    pb::Reminder {
        reminder_id: row.reminder_id.clone(),
        opportunity_id: row.opportunity_id.clone(),
        owner_rep_id: row.owner_rep_id.clone(),
        kind: row.kind.as_str().to_owned(),
        due_at: Some(from_millis(row.due_at)),
        state: state as i32,
        message: row.message.clone(),
        created_at: Some(from_millis(row.created_at)),
    }
}
