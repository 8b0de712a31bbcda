//! `shangji.dedup.v1.DedupService`: read-only questions about customers.

use std::collections::HashMap;

use shangji_contracts::dedup::dedup_service_server::DedupService;
use shangji_contracts::dedup::{
    CheckDuplicateRequest, CheckDuplicateResponse, Customer, GetCustomerRequest,
    GetCustomerResponse,
};
use shangji_contracts::dedup::{
    ExplainScoreRequest, ExplainScoreResponse, GetScoringRulesRequest, GetScoringRulesResponse,
    UpsertScoringRulesRequest, UpsertScoringRulesResponse,
};
use shangji_contracts::dedup::{
    GetMatchThresholdsRequest, GetMatchThresholdsResponse, UpsertMatchThresholdsRequest,
    UpsertMatchThresholdsResponse,
};
use shangji_contracts::dedup::{
    ListReviewQueueRequest, ListReviewQueueResponse, MergeCustomersRequest, MergeCustomersResponse,
    ResolveReviewRequest, ResolveReviewResponse, UnmergeCustomersRequest, UnmergeCustomersResponse,
};
use shangji_contracts::time::from_millis;
use shangji_platform::Db;
use shangji_platform::grpc::{ApiError, request_context};
use sqlx::AnyConnection;
use tonic::{Request, Response, Status};

use super::validate;
use crate::domain::matching::MatchThresholds;
use crate::domain::{GradeThresholds, KeyKind};
use crate::store::{blocking, customers, merge};

pub use super::check::{DEFAULT_MATCH_LIMIT, MAX_MATCH_LIMIT};

#[derive(Clone, Debug)]
pub struct DedupApi {
    db: Db,
    /// Match thresholds of tenants that set none of their own.
    match_thresholds: MatchThresholds,
    /// Grades of the built-in scoring rules (version 1), from the service settings.
    grade_thresholds: GradeThresholds,
}

impl DedupApi {
    pub fn new(db: Db) -> DedupApi {
        DedupApi {
            db,
            match_thresholds: MatchThresholds::default(),
            grade_thresholds: GradeThresholds::default(),
        }
    }

    pub fn with_grade_thresholds(self, grade_thresholds: GradeThresholds) -> DedupApi {
        DedupApi {
            grade_thresholds,
            ..self
        }
    }

    pub fn with_match_thresholds(self, match_thresholds: MatchThresholds) -> DedupApi {
        DedupApi {
            match_thresholds,
            ..self
        }
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
        let response = super::check::check_duplicate(
            &self.db,
            &ctx,
            request.into_inner(),
            self.match_thresholds,
        )
        .await?;
        Ok(Response::new(response))
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

    async fn list_review_queue(
        &self,
        request: Request<ListReviewQueueRequest>,
    ) -> Result<Response<ListReviewQueueResponse>, Status> {
        let ctx = request_context(&request)?;
        let response =
            super::review::list_review_queue(&self.db, &ctx, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn resolve_review(
        &self,
        request: Request<ResolveReviewRequest>,
    ) -> Result<Response<ResolveReviewResponse>, Status> {
        let ctx = request_context(&request)?;
        let response = super::review::resolve_review(&self.db, &ctx, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn merge_customers(
        &self,
        request: Request<MergeCustomersRequest>,
    ) -> Result<Response<MergeCustomersResponse>, Status> {
        let ctx = request_context(&request)?;
        let response = super::merge::merge_customers(&self.db, &ctx, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn unmerge_customers(
        &self,
        request: Request<UnmergeCustomersRequest>,
    ) -> Result<Response<UnmergeCustomersResponse>, Status> {
        let ctx = request_context(&request)?;
        let response =
            super::merge::unmerge_customers(&self.db, &ctx, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn get_scoring_rules(
        &self,
        request: Request<GetScoringRulesRequest>,
    ) -> Result<Response<GetScoringRulesResponse>, Status> {
        let ctx = request_context(&request)?;
        let response = super::scoring::get_scoring_rules(
            &self.db,
            &ctx,
            self.grade_thresholds,
            request.into_inner(),
        )
        .await?;
        Ok(Response::new(response))
    }

    async fn upsert_scoring_rules(
        &self,
        request: Request<UpsertScoringRulesRequest>,
    ) -> Result<Response<UpsertScoringRulesResponse>, Status> {
        let ctx = request_context(&request)?;
        let response =
            super::scoring::upsert_scoring_rules(&self.db, &ctx, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn explain_score(
        &self,
        request: Request<ExplainScoreRequest>,
    ) -> Result<Response<ExplainScoreResponse>, Status> {
        let ctx = request_context(&request)?;
        let response = super::scoring::explain_score(&self.db, &ctx, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn get_match_thresholds(
        &self,
        request: Request<GetMatchThresholdsRequest>,
    ) -> Result<Response<GetMatchThresholdsResponse>, Status> {
        let ctx = request_context(&request)?;
        let response =
            super::thresholds::get_match_thresholds(&self.db, &ctx, self.match_thresholds).await?;
        Ok(Response::new(response))
    }

    async fn upsert_match_thresholds(
        &self,
        request: Request<UpsertMatchThresholdsRequest>,
    ) -> Result<Response<UpsertMatchThresholdsResponse>, Status> {
        let ctx = request_context(&request)?;
        let response = super::thresholds::upsert_match_thresholds(
            &self.db,
            &ctx,
            self.match_thresholds,
            request.into_inner(),
        )
        .await?;
        Ok(Response::new(response))
    }
}

/// The customer with its normalised phones and e-mails, its account, and the names
/// and companies its leads gave.
pub(super) async fn load_customer(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
) -> Result<Option<Customer>, ApiError> {
    let mut found = load_customers(conn, tenant_id, &[customer_id.to_owned()]).await?;
    Ok(found.remove(customer_id))
}

/// [`load_customer`] for many customers in two reads (cards, then keys), by id; ids
/// with no customer are absent.
pub(super) async fn load_customers(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_ids: &[String],
) -> Result<HashMap<String, Customer>, ApiError> {
    if customer_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let cards = customers::cards(conn, tenant_id, customer_ids).await?;
    let found: Vec<String> = cards.keys().cloned().collect();
    let mut keys = customers::keys_of(conn, tenant_id, &found).await?;
    let mut loaded = HashMap::with_capacity(cards.len());
    for (customer_id, card) in cards {
        let keys = keys.remove(&customer_id).unwrap_or_default();
        let values = |kind: KeyKind| {
            keys.iter()
                .filter(|k| k.kind == kind)
                .map(|k| k.value.clone())
                .collect::<Vec<_>>()
        };
        let profile = match card.profile.as_deref() {
            Some(json) => blocking::parse_profile(json)?,
            None => Default::default(),
        };
        // A merged-away customer still answers (its history), pointing at the one that
        // stands for it now rather than at the next link of a chain that may have moved on.
        let (survivor_customer_id, merged_by_merge_id) = match card.merged_into {
            Some(into) => (
                merge::current_customer(conn, tenant_id, &into.survivor_customer_id).await?,
                into.merge_id,
            ),
            None => (String::new(), String::new()),
        };
        let record = card.record;
        let customer = Customer {
            survivor_customer_id,
            merged_by_merge_id,
            account_id: card.account_id,
            account_name: card.account_name,
            known_names: profile.names,
            known_companies: profile.companies,
            customer_id: record.customer_id,
            name: record.name,
            company: record.company,
            phones: values(KeyKind::Phone),
            emails: values(KeyKind::Email),
            lead_count: u32::try_from(record.lead_count.max(0)).unwrap_or(u32::MAX),
            created_at: Some(from_millis(record.created_at)),
            updated_at: Some(from_millis(record.updated_at)),
        };
        loaded.insert(customer_id, customer);
    }
    Ok(loaded)
}
