//! The pool: listing it, and reps claiming from it (with a daily claim limit).

use prost::Message as _;
use shangji_contracts::assignment::{
    ClaimFromPoolRequest, ClaimFromPoolResponse, ListPoolRequest, ListPoolResponse,
};
use shangji_contracts::events::lead::LeadQualified;
use shangji_platform::bus::EventContext;
use shangji_platform::grpc::{ApiError, RequestContext};
use shangji_platform::idempotency;

use super::{AssignmentApi, convert};
use crate::domain::{Outcome, TeamTree, utc_day};
use crate::placement::transfer::{self, Move};
use crate::placement::{self, Step};
use crate::store::pool::KIND_OPPORTUNITY;
use crate::store::{opportunities, owners, pool, reps, sequence, teams};

impl AssignmentApi {
    pub(super) async fn do_list_pool(
        &self,
        ctx: &RequestContext,
        request: ListPoolRequest,
    ) -> Result<ListPoolResponse, ApiError> {
        let limit = match request.limit {
            0 => 100,
            n => n.min(1000),
        };
        let root = request.team_id.trim();
        let tree = TeamTree::new(&teams::list(self.db.reader(), &ctx.tenant_id).await?);
        // Read generously, then keep the team's subtree.
        let mut entries = pool::waiting(
            self.db.reader(),
            &ctx.tenant_id,
            false,
            if root.is_empty() { limit } else { 10_000 },
        )
        .await?;
        if !root.is_empty() {
            entries.retain(|e| tree.is_within(&e.team, root));
        }
        entries.truncate(limit as usize);
        Ok(ListPoolResponse {
            entries: entries.iter().map(convert::pool_entry_to_proto).collect(),
        })
    }

    pub(super) async fn do_claim_from_pool(
        &self,
        ctx: &RequestContext,
        request: ClaimFromPoolRequest,
    ) -> Result<ClaimFromPoolResponse, ApiError> {
        let rep_id = match request.rep_id.trim() {
            "" => ctx.user_id.clone(),
            id => id.to_owned(),
        };
        if rep_id.is_empty() {
            return Err(ApiError::invalid_field(
                "rep_id",
                "must name the claiming rep (or send x-user-id)",
            ));
        }
        let entry_id = request.entry_id.trim().to_owned();
        let now = self.clock.now();
        let key = request.idempotency_key.clone();
        idempotency::once(&self.db, ctx, "ClaimFromPool", &key, &request, async |tx| {
            let tenant_id = ctx.tenant_id.as_str();
            let rep = reps::get(&mut **tx, tenant_id, utc_day(now), &rep_id).await?
                .ok_or_else(|| ApiError::NotFound(format!("rep {rep_id} does not exist")))?;
            if !rep.profile.is_active() {
                return Err(ApiError::FailedPrecondition {
                    message: format!("rep {rep_id} is {} and cannot claim", rep.profile.status.as_str()),
                    missing: vec!["an active rep".into()],
                });
            }
            if !rep.may_claim_today() {
                return Err(ApiError::FailedPrecondition {
                    message: format!("rep {rep_id} already claimed {} of {} pool entries today", rep.load.claims_today, rep.profile.daily_claim_limit),
                    missing: vec!["claims left today".into()],
                });
            }
            let entry = pool::get_waiting(&mut **tx, tenant_id, &entry_id).await?
                .ok_or_else(|| ApiError::NotFound(format!("pool entry {entry_id} is not waiting in the pool (claimed, placed or unknown)")))?;
            if !pool::take(tx, tenant_id, &entry.entry_id, &rep_id, now).await? {
                return Err(ApiError::FailedPrecondition { message: format!("pool entry {entry_id} was just taken"), missing: vec![] });
            }
            reps::record_claim(tx, tenant_id, &rep_id, utc_day(now)).await?;
            let event_ctx = EventContext::from_request(ctx, entry.lead_id.clone());
            let previous = match entry.customer_id.as_str() {
                "" => None,
                c => owners::owner_of(&mut **tx, tenant_id, c).await?,
            };
            if entry.kind == KIND_OPPORTUNITY {
                transfer::transfer(tx, &event_ctx, Move {
                    customer_id: entry.customer_id.clone(),
                    from_rep_id: String::new(),
                    to_rep_id: rep_id.clone(),
                    team: rep.profile.team.clone(),
                    reason: "pool_claim".into(),
                    rule: "pool-claim".into(),
                    note: format!("claimed pool entry {entry_id}"),
                    opportunity_ids: vec![entry.opportunity_id.clone()],
                    lead_ids: vec![],
                }, now).await?;
            } else {
                let lead = LeadQualified::decode(entry.lead_event.as_slice()).unwrap_or_else(|_| LeadQualified {
                    lead_id: entry.lead_id.clone(),
                    customer_id: entry.customer_id.clone(),
                    ..LeadQualified::default()
                });
                let decision = placement::claimed_decision(&rep, &entry.customer_id, &entry_id);
                if let Outcome::Assign(assignment) = decision.outcome {
                    let turn = sequence::take_turn(tx, tenant_id).await?;
                    placement::assign(tx, &event_ctx, &lead, &assignment, decision.audit, Step { trigger: "pool_claim", turn, now, first: false }).await?;
                }
                // One customer, one owner: the claimer takes the customer and its open work.
                if !entry.customer_id.is_empty() && previous.as_deref() != Some(rep_id.as_str()) {
                    let open: Vec<String> = opportunities::open_of_customer(&mut **tx, tenant_id, &entry.customer_id).await?
                        .into_iter().map(|o| o.opportunity_id).collect();
                    transfer::transfer(tx, &event_ctx, Move {
                        customer_id: entry.customer_id.clone(),
                        from_rep_id: previous.clone().unwrap_or_default(),
                        to_rep_id: rep_id.clone(),
                        team: rep.profile.team.clone(),
                        reason: "pool_claim".into(),
                        rule: "pool-claim".into(),
                        note: format!("claimed lead {} from the pool", entry.lead_id),
                        opportunity_ids: open,
                        lead_ids: vec![entry.lead_id.clone()],
                    }, now).await?;
                }
            }
            tracing::info!(tenant_id, rep_id = %rep_id, entry_id = %entry_id, kind = %entry.kind, "pool entry claimed");
            Ok(ClaimFromPoolResponse {
                entry: Some(convert::pool_entry_to_proto(&entry)),
                rep_id: rep_id.clone(),
                claims_today: u32::try_from(rep.load.claims_today + 1).unwrap_or(u32::MAX),
                daily_claim_limit: rep.profile.daily_claim_limit,
            })
        })
        .await
    }
}
