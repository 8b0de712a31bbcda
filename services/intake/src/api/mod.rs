//! The gRPC face of intake.

use prost::Message as _;
use shangji_contracts::common::Lead;
use shangji_contracts::events::lead::LeadReceived;
use shangji_contracts::intake::intake_service_server::IntakeService;
use shangji_contracts::intake::{
    GetLeadRequest, GetLeadResponse, LeadStatus, StatusStep, SubmitLeadRequest, SubmitLeadResponse,
};
use shangji_contracts::time::{from_millis, now_millis};
use shangji_platform::bus::{self, EventContext};
use shangji_platform::db::is_unique_violation;
use shangji_platform::grpc::{ApiError, request_context};
use shangji_platform::{Db, idempotency, ids};
use tonic::{Request, Response, Status};

use crate::config::IntakeConfig;
use crate::domain::validate::{validate_idempotency_key, validate_lead};
use crate::store;

const SUBMIT_LEAD: &str = "SubmitLead";

pub struct IntakeApi {
    db: Db,
    config: IntakeConfig,
}

impl IntakeApi {
    pub fn new(db: Db, config: IntakeConfig) -> IntakeApi {
        IntakeApi { db, config }
    }

    async fn submit(
        &self,
        ctx: &shangji_platform::grpc::RequestContext,
        request: SubmitLeadRequest,
    ) -> Result<SubmitLeadResponse, ApiError> {
        let key = request.idempotency_key.trim().to_owned();
        let lead = request.lead.clone().unwrap_or_default();
        let mut violations = validate_lead(&lead, "lead");
        if request.lead.is_none() {
            violations.insert(
                0,
                shangji_platform::grpc::FieldViolation::new("lead", "is required"),
            );
        }
        violations.extend(validate_idempotency_key(&key));
        if !violations.is_empty() {
            return Err(ApiError::invalid(violations));
        }
        let hash = idempotency::request_hash(&request);
        let replay = || {
            idempotency::replay::<SubmitLeadResponse>(
                &self.db,
                &ctx.tenant_id,
                SUBMIT_LEAD,
                &key,
                &hash,
            )
        };
        if let Some(mut earlier) = replay().await? {
            earlier.replayed = true;
            return Ok(earlier);
        }

        let lead_id = ids::new_id("lead");
        let now = now_millis();
        let channel = self.config.grpc_channel_name.as_str();
        let response = SubmitLeadResponse {
            lead_id: lead_id.clone(),
            replayed: false,
        };
        let mut tx = self.db.begin().await?;
        store::insert_lead(
            &mut tx,
            &ctx.tenant_id,
            &lead_id,
            channel,
            &lead.encode_to_vec(),
            LeadStatus::Received as i32,
            now,
        )
        .await?;
        let event = LeadReceived {
            lead_id: lead_id.clone(),
            lead: Some(lead),
            channel: channel.to_owned(),
            received_at: Some(from_millis(now)),
        };
        let event_id =
            bus::enqueue(&mut tx, &EventContext::from_request(ctx, &lead_id), &event).await?;
        store::insert_step(
            &mut tx,
            &ctx.tenant_id,
            &lead_id,
            &event_id,
            LeadStatus::Received as i32,
            &format!("received via {channel}"),
            "intake",
            now,
        )
        .await?;
        idempotency::remember(&mut tx, &ctx.tenant_id, SUBMIT_LEAD, &key, &hash, &response).await?;
        match tx.commit().await {
            Ok(()) => {
                tracing::info!(tenant.id = %ctx.tenant_id, lead.id = %lead_id, "lead received");
                Ok(response)
            }
            // A concurrent retry with the same key committed first: answer as it did.
            Err(err) if is_unique_violation(&err) => match replay().await? {
                Some(mut earlier) => {
                    earlier.replayed = true;
                    Ok(earlier)
                }
                None => Err(err.into()),
            },
            Err(err) => Err(err.into()),
        }
    }

    async fn get(&self, tenant_id: &str, lead_id: &str) -> Result<GetLeadResponse, ApiError> {
        if lead_id.trim().is_empty() {
            return Err(ApiError::invalid_field("lead_id", "is required"));
        }
        let row = store::load_lead(self.db.reader(), tenant_id, lead_id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("lead `{lead_id}` not found")))?;
        let trail = store::load_trail(self.db.reader(), tenant_id, lead_id).await?;
        let lead = Lead::decode(row.lead.as_slice())
            .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("stored lead")))?;
        Ok(GetLeadResponse {
            lead_id: row.lead_id,
            lead: Some(lead),
            status: row.status,
            customer_id: row.customer_id,
            owner_rep_id: row.owner_rep_id,
            opportunity_id: row.opportunity_id,
            new_customer: row.new_customer != 0,
            score: row.score,
            grade: row.grade,
            received_at: Some(from_millis(row.received_at)),
            trail: trail
                .into_iter()
                .map(|s| StatusStep {
                    status: s.status,
                    detail: s.detail,
                    at: Some(from_millis(s.at)),
                    service: s.service,
                    event_id: s.event_id,
                })
                .collect(),
        })
    }
}

#[tonic::async_trait]
impl IntakeService for IntakeApi {
    async fn submit_lead(
        &self,
        request: Request<SubmitLeadRequest>,
    ) -> Result<Response<SubmitLeadResponse>, Status> {
        let ctx = request_context(&request)?;
        Ok(Response::new(
            self.submit(&ctx, request.into_inner()).await?,
        ))
    }

    async fn get_lead(
        &self,
        request: Request<GetLeadRequest>,
    ) -> Result<Response<GetLeadResponse>, Status> {
        let ctx = request_context(&request)?;
        Ok(Response::new(
            self.get(&ctx.tenant_id, &request.get_ref().lead_id).await?,
        ))
    }
}
