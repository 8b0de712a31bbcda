//! The gRPC service `shangji.assignment.v1.AssignmentService`: validate, call the
//! store, map errors to statuses a caller can act on.

mod convert;

use shangji_contracts::assignment::assignment_service_server::AssignmentService;
use shangji_contracts::assignment::{
    GetAssignmentRequest, GetAssignmentResponse, ListRepsRequest, ListRepsResponse,
    UpsertRepRequest, UpsertRepResponse,
};
use shangji_contracts::time::now_millis;
use shangji_platform::Db;
use shangji_platform::grpc::{ApiError, request_context};
use tonic::{Request, Response, Status};

use crate::domain::RepProfile;
use crate::store::{assignments, reps};

#[derive(Clone, Debug)]
pub struct AssignmentApi {
    db: Db,
}

impl AssignmentApi {
    pub fn new(db: Db) -> AssignmentApi {
        AssignmentApi { db }
    }

    async fn upsert_rep(
        &self,
        tenant_id: &str,
        request: UpsertRepRequest,
    ) -> Result<UpsertRepResponse, ApiError> {
        let rep = request
            .rep
            .ok_or_else(|| ApiError::invalid_field("rep", "is required: send the rep's profile"))?;
        let profile =
            RepProfile::parse(convert::draft_from_proto(rep)).map_err(convert::invalid_rep)?;
        let now = now_millis();
        let mut tx = self.db.begin().await?;
        let created = reps::insert_new(&mut tx, tenant_id, &profile, now).await?;
        if created {
            // Opportunities may have named the rep before the rep was set up here.
            reps::refresh_open_count(&mut tx, tenant_id, &profile.rep_id, now).await?;
        } else {
            reps::update_profile(&mut tx, tenant_id, &profile, now).await?;
        }
        tx.commit().await?;
        tracing::info!(tenant_id, rep_id = %profile.rep_id, team = %profile.team, active = profile.active, created, "rep saved");
        Ok(UpsertRepResponse {
            rep: Some(convert::rep_to_proto(&profile)),
            created,
        })
    }

    async fn list_reps(
        &self,
        tenant_id: &str,
        request: ListRepsRequest,
    ) -> Result<ListRepsResponse, ApiError> {
        let mut found = reps::list(
            self.db.reader(),
            tenant_id,
            request.team.trim(),
            request.active_only,
        )
        .await?;
        found.sort_by(|a, b| {
            (&a.profile.team, &a.profile.rep_id).cmp(&(&b.profile.team, &b.profile.rep_id))
        });
        Ok(ListRepsResponse {
            reps: found
                .iter()
                .map(|r| convert::rep_to_proto(&r.profile))
                .collect(),
            loads: found.iter().map(convert::load_to_proto).collect(),
        })
    }

    async fn get_assignment(
        &self,
        tenant_id: &str,
        request: GetAssignmentRequest,
    ) -> Result<GetAssignmentResponse, ApiError> {
        let lead_id = request.lead_id.trim();
        if lead_id.is_empty() {
            return Err(ApiError::invalid_field(
                "lead_id",
                "must not be empty: give the lead id intake returned",
            ));
        }
        match assignments::get(self.db.reader(), tenant_id, lead_id).await? {
            Some(record) => Ok(convert::assignment_to_proto(record)),
            None => Err(ApiError::NotFound(format!(
                "no assignment for lead {lead_id} yet; it is decided once dedup has qualified the lead"
            ))),
        }
    }
}

#[tonic::async_trait]
impl AssignmentService for AssignmentApi {
    async fn upsert_rep(
        &self,
        request: Request<UpsertRepRequest>,
    ) -> Result<Response<UpsertRepResponse>, Status> {
        let ctx = request_context(&request)?;
        let response =
            AssignmentApi::upsert_rep(self, &ctx.tenant_id, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn list_reps(
        &self,
        request: Request<ListRepsRequest>,
    ) -> Result<Response<ListRepsResponse>, Status> {
        let ctx = request_context(&request)?;
        let response = AssignmentApi::list_reps(self, &ctx.tenant_id, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn get_assignment(
        &self,
        request: Request<GetAssignmentRequest>,
    ) -> Result<Response<GetAssignmentResponse>, Status> {
        let ctx = request_context(&request)?;
        let response =
            AssignmentApi::get_assignment(self, &ctx.tenant_id, request.into_inner()).await?;
        Ok(Response::new(response))
    }
}
