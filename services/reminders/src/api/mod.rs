//! The `shangji.reminders.v1.ReminderService` gRPC service: one file per concern, this
//! one routes the RPCs.

mod access;
mod calendar;
mod convert;
mod list_due;
mod policies;
mod reminder_actions;
mod webhooks;

use shangji_contracts::reminders::reminder_service_server::ReminderService;
use shangji_contracts::reminders::{
    AcknowledgeRequest, AcknowledgeResponse, GetCalendarRequest, GetCalendarResponse,
    ListDeliveriesRequest, ListDeliveriesResponse, ListDueRequest, ListDueResponse,
    ListPoliciesRequest, ListPoliciesResponse, SnoozeRequest, SnoozeResponse,
    UpsertCalendarRequest, UpsertCalendarResponse, UpsertPolicyRequest, UpsertPolicyResponse,
    UpsertWebhookRequest, UpsertWebhookResponse,
};
use shangji_platform::Db;
use shangji_platform::grpc::request_context;
use tonic::{Request, Response, Status};

#[derive(Clone, Debug)]
pub struct ReminderApi {
    db: Db,
    /// The built-in default policy's first-contact hours (a tenant without a policy).
    first_contact_hours: u32,
}

impl ReminderApi {
    pub fn new(db: Db, first_contact_hours: u32) -> ReminderApi {
        ReminderApi {
            db,
            first_contact_hours,
        }
    }
}

#[tonic::async_trait]
impl ReminderService for ReminderApi {
    async fn list_due(
        &self,
        request: Request<ListDueRequest>,
    ) -> Result<Response<ListDueResponse>, Status> {
        let ctx = request_context(&request)?;
        Ok(Response::new(
            list_due::list_due(&self.db, &ctx, request.into_inner()).await?,
        ))
    }

    async fn list_policies(
        &self,
        request: Request<ListPoliciesRequest>,
    ) -> Result<Response<ListPoliciesResponse>, Status> {
        let ctx = request_context(&request)?;
        Ok(Response::new(
            policies::list(&self.db, &ctx, self.first_contact_hours).await?,
        ))
    }

    async fn upsert_policy(
        &self,
        request: Request<UpsertPolicyRequest>,
    ) -> Result<Response<UpsertPolicyResponse>, Status> {
        let ctx = request_context(&request)?;
        Ok(Response::new(
            policies::upsert(&self.db, &ctx, request.into_inner()).await?,
        ))
    }

    async fn snooze(
        &self,
        request: Request<SnoozeRequest>,
    ) -> Result<Response<SnoozeResponse>, Status> {
        let ctx = request_context(&request)?;
        Ok(Response::new(
            reminder_actions::snooze(&self.db, &ctx, request.into_inner()).await?,
        ))
    }

    async fn acknowledge(
        &self,
        request: Request<AcknowledgeRequest>,
    ) -> Result<Response<AcknowledgeResponse>, Status> {
        let ctx = request_context(&request)?;
        Ok(Response::new(
            reminder_actions::acknowledge(&self.db, &ctx, request.into_inner()).await?,
        ))
    }

    async fn upsert_calendar(
        &self,
        request: Request<UpsertCalendarRequest>,
    ) -> Result<Response<UpsertCalendarResponse>, Status> {
        let ctx = request_context(&request)?;
        Ok(Response::new(
            calendar::upsert(&self.db, &ctx, request.into_inner()).await?,
        ))
    }

    async fn get_calendar(
        &self,
        request: Request<GetCalendarRequest>,
    ) -> Result<Response<GetCalendarResponse>, Status> {
        let ctx = request_context(&request)?;
        Ok(Response::new(calendar::get(&self.db, &ctx).await?))
    }

    async fn upsert_webhook(
        &self,
        request: Request<UpsertWebhookRequest>,
    ) -> Result<Response<UpsertWebhookResponse>, Status> {
        let ctx = request_context(&request)?;
        Ok(Response::new(
            webhooks::upsert(&self.db, &ctx, request.into_inner()).await?,
        ))
    }

    async fn list_deliveries(
        &self,
        request: Request<ListDeliveriesRequest>,
    ) -> Result<Response<ListDeliveriesResponse>, Status> {
        let ctx = request_context(&request)?;
        Ok(Response::new(
            webhooks::list_deliveries(&self.db, &ctx, request.into_inner()).await?,
        ))
    }
}
