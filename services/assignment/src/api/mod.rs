//! The gRPC service `shangji.assignment.v1.AssignmentService`: validate, call the
//! domain and the store, map errors to statuses a caller can act on. Every mutating RPC
//! but the original `UpsertRep` (naturally idempotent) takes an idempotency key.

mod convert;
mod handover;
mod org;
mod pool;
mod rules;

use shangji_contracts::assignment::assignment_service_server::AssignmentService;
use shangji_contracts::assignment::*;
use shangji_platform::Db;
use shangji_platform::grpc::{ApiError, RequestContext, request_context};
use shangji_platform::idempotency;
use tonic::{Request, Response, Status};

use crate::clock::Clock;
use crate::domain::{RepProfile, utc_day};
use crate::store::{assignments, decisions, opportunities, policies, reps, transfers};

#[derive(Clone, Debug)]
pub struct AssignmentApi {
    db: Db,
    clock: Clock,
}

impl AssignmentApi {
    pub fn new(db: Db, clock: Clock) -> AssignmentApi {
        AssignmentApi { db, clock }
    }

    async fn do_upsert_rep(
        &self,
        ctx: &RequestContext,
        request: UpsertRepRequest,
    ) -> Result<UpsertRepResponse, ApiError> {
        let rep = request
            .rep
            .ok_or_else(|| ApiError::invalid_field("rep", "is required: send the rep's profile"))?;
        let day = utc_day(self.clock.now());
        let stored = reps::get(self.db.reader(), &ctx.tenant_id, day, rep.rep_id.trim()).await?;
        let profile = RepProfile::parse(convert::draft_from_proto(
            rep,
            stored.as_ref().map(|r| &r.profile),
        ))
        .map_err(convert::invalid_rep)?;
        let mut tx = self.db.begin().await?;
        let (saved, created) = self.save_rep(&mut tx, ctx, &profile).await?;
        tx.commit().await?;
        Ok(UpsertRepResponse {
            rep: Some(convert::rep_to_proto(&saved.profile)),
            created,
        })
    }

    async fn do_list_reps(
        &self,
        ctx: &RequestContext,
        request: ListRepsRequest,
    ) -> Result<ListRepsResponse, ApiError> {
        let day = utc_day(self.clock.now());
        let mut found = reps::list(
            self.db.reader(),
            &ctx.tenant_id,
            day,
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

    async fn do_get_assignment(
        &self,
        ctx: &RequestContext,
        request: GetAssignmentRequest,
    ) -> Result<GetAssignmentResponse, ApiError> {
        let lead_id = lead_id(&request.lead_id)?;
        match assignments::get(self.db.reader(), &ctx.tenant_id, lead_id).await? {
            Some(record) => Ok(convert::assignment_to_proto(record)),
            None => Err(not_decided(lead_id)),
        }
    }

    async fn do_explain(
        &self,
        ctx: &RequestContext,
        request: ExplainAssignmentRequest,
    ) -> Result<ExplainAssignmentResponse, ApiError> {
        let lead_id = lead_id(&request.lead_id)?;
        let found = decisions::for_lead(self.db.reader(), &ctx.tenant_id, lead_id).await?;
        if found.is_empty() {
            return Err(not_decided(lead_id));
        }
        Ok(ExplainAssignmentResponse {
            decisions: found.into_iter().map(convert::decision_to_proto).collect(),
        })
    }

    async fn do_list_transfers(
        &self,
        ctx: &RequestContext,
        request: ListTransfersRequest,
    ) -> Result<ListTransfersResponse, ApiError> {
        let (customer, opportunity) = (request.customer_id.trim(), request.opportunity_id.trim());
        if customer.is_empty() && opportunity.is_empty() {
            return Err(ApiError::invalid_field(
                "customer_id",
                "give a customer_id or an opportunity_id",
            ));
        }
        let found =
            transfers::list(self.db.reader(), &ctx.tenant_id, customer, opportunity).await?;
        Ok(ListTransfersResponse {
            transfers: found.into_iter().map(convert::transfer_to_proto).collect(),
        })
    }

    async fn do_upsert_recycling_policy(
        &self,
        ctx: &RequestContext,
        request: UpsertRecyclingPolicyRequest,
    ) -> Result<UpsertRecyclingPolicyResponse, ApiError> {
        let policy = request
            .policy
            .ok_or_else(|| ApiError::invalid_field("policy", "is required"))?;
        if policy.enabled && policy.no_follow_up_days == 0 {
            return Err(ApiError::invalid_field(
                "policy.no_follow_up_days",
                "must be at least 1 when the policy is enabled",
            ));
        }
        let now = self.clock.now();
        let key = request.idempotency_key.clone();
        idempotency::once(
            &self.db,
            ctx,
            "UpsertRecyclingPolicy",
            &key,
            &UpsertRecyclingPolicyRequest {
                idempotency_key: key.clone(),
                policy: Some(policy),
            },
            async |tx| {
                let saved = policies::save(
                    tx,
                    &ctx.tenant_id,
                    policy.no_follow_up_days,
                    policy.enabled,
                    now,
                )
                .await?;
                let rescheduled = opportunities::reschedule_all(tx, &ctx.tenant_id).await?;
                Ok(UpsertRecyclingPolicyResponse {
                    policy: Some(RecyclingPolicy {
                        no_follow_up_days: saved.no_follow_up_days,
                        enabled: saved.enabled,
                        version: u64::try_from(saved.version).unwrap_or(0),
                    }),
                    rescheduled: u32::try_from(rescheduled).unwrap_or(u32::MAX),
                })
            },
        )
        .await
    }
}

fn lead_id(raw: &str) -> Result<&str, ApiError> {
    match raw.trim() {
        "" => Err(ApiError::invalid_field(
            "lead_id",
            "must not be empty: give the lead id intake returned",
        )),
        id => Ok(id),
    }
}

fn not_decided(lead_id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "no assignment for lead {lead_id} yet; it is decided once dedup has qualified the lead"
    ))
}

/// The service impl: for each RPC, the caller's context, the handler, the response.
/// (Generated whole, so `async_trait` sees the expanded methods.)
macro_rules! service {
    ($($name:ident($req:ty) -> $resp:ty = |$api:ident, $ctx:ident, $r:ident| $body:expr;)*) => {
        #[tonic::async_trait]
        impl AssignmentService for AssignmentApi {
            $(
                async fn $name(&self, request: Request<$req>) -> Result<Response<$resp>, Status> {
                    let $ctx = request_context(&request)?;
                    let $r = request.into_inner();
                    let $api = self;
                    Ok(Response::new($body.await?))
                }
            )*
        }
    };
}

service! {
    upsert_rep(UpsertRepRequest) -> UpsertRepResponse = |a, c, r| a.do_upsert_rep(&c, r);
    list_reps(ListRepsRequest) -> ListRepsResponse = |a, c, r| a.do_list_reps(&c, r);
    get_assignment(GetAssignmentRequest) -> GetAssignmentResponse = |a, c, r| a.do_get_assignment(&c, r);
    upsert_team(UpsertTeamRequest) -> UpsertTeamResponse = |a, c, r| a.do_upsert_team(&c, r);
    list_teams(ListTeamsRequest) -> ListTeamsResponse = |a, c, r| a.do_list_teams(&c, r);
    upsert_rep_profile(UpsertRepProfileRequest) -> UpsertRepProfileResponse = |a, c, r| a.do_upsert_rep_profile(&c, r);
    list_rep_profiles(ListRepProfilesRequest) -> ListRepProfilesResponse = |a, c, r| a.do_list_rep_profiles(&c, r);
    upsert_rule(UpsertRuleRequest) -> UpsertRuleResponse = |a, c, r| a.do_upsert_rule(&c, r);
    list_rules(ListRulesRequest) -> ListRulesResponse = |a, c, _r| a.do_list_rules(&c);
    delete_rule(DeleteRuleRequest) -> DeleteRuleResponse = |a, c, r| a.do_delete_rule(&c, r);
    reorder_rules(ReorderRulesRequest) -> ReorderRulesResponse = |a, c, r| a.do_reorder_rules(&c, r);
    list_pool(ListPoolRequest) -> ListPoolResponse = |a, c, r| a.do_list_pool(&c, r);
    claim_from_pool(ClaimFromPoolRequest) -> ClaimFromPoolResponse = |a, c, r| a.do_claim_from_pool(&c, r);
    explain_assignment(ExplainAssignmentRequest) -> ExplainAssignmentResponse = |a, c, r| a.do_explain(&c, r);
    list_transfers(ListTransfersRequest) -> ListTransfersResponse = |a, c, r| a.do_list_transfers(&c, r);
    upsert_recycling_policy(UpsertRecyclingPolicyRequest) -> UpsertRecyclingPolicyResponse = |a, c, r| a.do_upsert_recycling_policy(&c, r);
    depart_rep(DepartRepRequest) -> DepartRepResponse = |a, c, r| a.do_depart_rep(&c, r);
}
