//! `shangji.dedup.v1.DedupService`: read-only questions about customers.

use shangji_contracts::dedup::dedup_service_server::DedupService;
use shangji_contracts::dedup::{
    CheckDuplicateRequest, CheckDuplicateResponse, Customer, CustomerMatch, FieldEvidence,
    GetCustomerRequest, GetCustomerResponse, MatchDecision,
};
use shangji_contracts::time::from_millis;
use shangji_platform::Db;
use shangji_platform::grpc::{ApiError, request_context};
use sqlx::AnyConnection;
use tonic::{Request, Response, Status};

use super::validate;
use crate::domain::matching::{EXACT_MATCH_SCORE, attach_reasons, exact_evidence};
use crate::domain::{KeyKind, lead_keys, rank_candidates};
use crate::store::customers;

/// Matches returned when the caller sets no limit.
pub const DEFAULT_MATCH_LIMIT: usize = 10;
/// Matches returned at most, whatever the caller asks.
pub const MAX_MATCH_LIMIT: usize = 100;

#[derive(Clone, Debug)]
pub struct DedupApi {
    db: Db,
}

impl DedupApi {
    pub fn new(db: Db) -> DedupApi {
        DedupApi { db }
    }

    async fn reader(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, ApiError> {
        Ok(self.db.reader().acquire().await?)
    }
}

#[tonic::async_trait]
impl DedupService for DedupApi {
    async fn check_duplicate(
        &self,
        request: Request<CheckDuplicateRequest>,
    ) -> Result<Response<CheckDuplicateResponse>, Status> {
        let ctx = request_context(&request)?;
        let request = request.into_inner();
        let lead = validate::lead_to_check(request.lead.as_ref())?;
        let limit = match request.limit {
            0 => DEFAULT_MATCH_LIMIT,
            n => usize::try_from(n)
                .unwrap_or(MAX_MATCH_LIMIT)
                .min(MAX_MATCH_LIMIT),
        };
        let keys = lead_keys(lead);
        let mut conn = self.reader().await?;
        let owners = customers::key_owners(&mut conn, &ctx.tenant_id, &keys)
            .await
            .map_err(ApiError::from)?;
        let mut matches = Vec::new();
        for candidate in rank_candidates(&owners).into_iter().take(limit) {
            let Some(customer) =
                load_customer(&mut conn, &ctx.tenant_id, &candidate.customer_id).await?
            else {
                continue;
            };
            matches.push(CustomerMatch {
                customer_id: candidate.customer_id.clone(),
                score: EXACT_MATCH_SCORE,
                decision: MatchDecision::Same as i32,
                reasons: attach_reasons(&candidate, &[]),
                evidence: exact_evidence(&candidate)
                    .into_iter()
                    .map(|e| FieldEvidence {
                        field: e.field.to_owned(),
                        similarity: e.similarity,
                        contribution: e.contribution,
                        detail: e.detail,
                    })
                    .collect(),
                customer: Some(customer),
            });
        }
        tracing::debug!(tenant_id = %ctx.tenant_id, keys = keys.len(), matches = matches.len(), "checked lead for duplicates");
        Ok(Response::new(CheckDuplicateResponse { matches }))
    }

    async fn get_customer(
        &self,
        request: Request<GetCustomerRequest>,
    ) -> Result<Response<GetCustomerResponse>, Status> {
        let ctx = request_context(&request)?;
        let request = request.into_inner();
        let customer_id = validate::customer_id(&request.customer_id)?;
        let mut conn = self.reader().await?;
        // Another tenant's customer is reported exactly like one that does not exist.
        let customer = load_customer(&mut conn, &ctx.tenant_id, customer_id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("customer {customer_id} not found")))?;
        let lead_ids = customers::customer_lead_ids(&mut conn, &ctx.tenant_id, customer_id)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(GetCustomerResponse {
            customer: Some(customer),
            lead_ids,
        }))
    }
}

/// The customer with its normalised phones and e-mails.
async fn load_customer(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
) -> Result<Option<Customer>, ApiError> {
    let Some(record) = customers::customer(conn, tenant_id, customer_id).await? else {
        return Ok(None);
    };
    let keys = customers::customer_keys(conn, tenant_id, customer_id).await?;
    let values = |kind: KeyKind| {
        keys.iter()
            .filter(|k| k.kind == kind)
            .map(|k| k.value.clone())
            .collect::<Vec<_>>()
    };
    Ok(Some(Customer {
        customer_id: record.customer_id,
        name: record.name,
        company: record.company,
        phones: values(KeyKind::Phone),
        emails: values(KeyKind::Email),
        lead_count: u32::try_from(record.lead_count.max(0)).unwrap_or(u32::MAX),
        created_at: Some(from_millis(record.created_at)),
        updated_at: Some(from_millis(record.updated_at)),
    }))
}
