//! `DepartRep`: the rep is marked departed and every customer they own, with its open
//! opportunities and pending leads, moves in the same transaction, by the rules or to a
//! named successor. A retry with the same key returns the same report.

use shangji_platform::idempotency;
use std::collections::BTreeMap;

use shangji_contracts::assignment::{DepartRepRequest, DepartRepResponse, MovedWork};
use shangji_contracts::common::Lead;
use shangji_contracts::events::lead::LeadQualified;
use shangji_platform::bus::EventContext;
use shangji_platform::grpc::{ApiError, RequestContext};

use super::AssignmentApi;
use crate::domain::{Outcome, WorkingStatus, decide, utc_day};
use crate::placement::transfer::{self, Move};
use crate::placement::{TenantOrg, facts};
use crate::store::{assignments, opportunities, owners, reps, sequence};

/// A customer's work that moves together.
#[derive(Default)]
struct Bundle {
    opportunity_ids: Vec<String>,
    lead_ids: Vec<String>,
}

impl AssignmentApi {
    pub(super) async fn do_depart_rep(
        &self,
        ctx: &RequestContext,
        request: DepartRepRequest,
    ) -> Result<DepartRepResponse, ApiError> {
        let rep_id = request.rep_id.trim().to_owned();
        if rep_id.is_empty() {
            return Err(ApiError::invalid_field(
                "rep_id",
                "must name the departing rep",
            ));
        }
        let successor = request.successor_rep_id.trim().to_owned();
        if successor == rep_id {
            return Err(ApiError::invalid_field(
                "successor_rep_id",
                "must be another rep than the departing one",
            ));
        }
        let now = self.clock.now();
        let key = request.idempotency_key.clone();
        idempotency::once(&self.db, ctx, "DepartRep", &key, &request, async |tx| {
            let tenant_id = ctx.tenant_id.as_str();
            let day = utc_day(now);
            let rep = reps::get(&mut **tx, tenant_id, day, &rep_id).await?
                .ok_or_else(|| ApiError::NotFound(format!("rep {rep_id} does not exist")))?;
            if !successor.is_empty() {
                let next = reps::get(&mut **tx, tenant_id, day, &successor).await?
                    .ok_or_else(|| ApiError::NotFound(format!("successor rep {successor} does not exist")))?;
                if !next.profile.is_active() {
                    return Err(ApiError::FailedPrecondition {
                        message: format!("successor {successor} is {}", next.profile.status.as_str()),
                        missing: vec!["an active successor".into()],
                    });
                }
            }
            // Departed first, so the rules never hand the work back to them.
            let mut profile = rep.profile.clone();
            profile.status = WorkingStatus::Departed;
            self.save_rep(tx, ctx, &profile).await?;

            let mut bundles: BTreeMap<String, Bundle> = BTreeMap::new();
            for customer in owners::owned_by(&mut **tx, tenant_id, &rep_id).await? {
                bundles.entry(customer).or_default();
            }
            for open in opportunities::open_of_rep(&mut **tx, tenant_id, &rep_id).await? {
                bundles.entry(open.customer_id).or_default().opportunity_ids.push(open.opportunity_id);
            }
            for (lead_id, customer_id) in assignments::pending_leads_of(&mut **tx, tenant_id, &rep_id).await? {
                bundles.entry(customer_id).or_default().lead_ids.push(lead_id);
            }
            let mut org = TenantOrg::load(tx, tenant_id, now).await?;
            let event_ctx = EventContext::from_request(ctx, rep_id.clone());
            let mut response = DepartRepResponse { rep_id: rep_id.clone(), ..DepartRepResponse::default() };
            for (customer_id, bundle) in bundles {
                if bundle.opportunity_ids.is_empty() && bundle.lead_ids.is_empty() && customer_id.is_empty() {
                    continue;
                }
                let (to, team, rule, reason) = if !successor.is_empty() {
                    (successor.clone(), String::new(), "successor".to_owned(), format!("named successor of {rep_id}"))
                } else {
                    let lead = LeadQualified {
                        customer_id: customer_id.clone(),
                        // The customer was in the departing rep's territory: decide for it.
                        lead: Some(Lead {
                            region: rep.profile.regions.first().cloned().unwrap_or_default(),
                            industry: rep.profile.industries.first().cloned().unwrap_or_default(),
                            ..Lead::default()
                        }),
                        ..LeadQualified::default()
                    };
                    // The departed owner is replaced by the rules, like for a new lead.
                    match decide(&facts(&lead), Some(&rep_id), org.org()).outcome {
                        Outcome::Assign(a) => (a.rep_id, a.team, a.rule, a.reason),
                        Outcome::Pool(p) => (String::new(), p.team, "pool".to_owned(), p.reason),
                    }
                };
                if !to.is_empty() {
                    let turn = sequence::take_turn(tx, tenant_id).await?;
                    reps::record_assignment(tx, tenant_id, &to, turn, day, now).await?;
                    org.count_lead(&to, turn);
                    response.customers_moved += 1;
                } else {
                    response.customers_pooled += 1;
                }
                let moved = transfer::transfer(tx, &event_ctx, Move {
                    customer_id: customer_id.clone(),
                    from_rep_id: rep_id.clone(),
                    to_rep_id: to.clone(),
                    team: team.clone(),
                    reason: "hand_over".into(),
                    rule: rule.clone(),
                    note: request.note.clone(),
                    opportunity_ids: bundle.opportunity_ids.clone(),
                    lead_ids: bundle.lead_ids.clone(),
                }, now).await?;
                response.opportunities_moved += u32::try_from(bundle.opportunity_ids.len()).unwrap_or(u32::MAX);
                response.leads_moved += u32::try_from(bundle.lead_ids.len()).unwrap_or(u32::MAX);
                response.moved.push(MovedWork {
                    customer_id,
                    to_rep_id: to,
                    team_id: team,
                    opportunity_ids: bundle.opportunity_ids,
                    lead_ids: bundle.lead_ids,
                    rule,
                    reason,
                    transfer_id: moved.transfer_id,
                });
            }
            tracing::info!(tenant_id, rep_id = %rep_id, customers = response.customers_moved, pooled = response.customers_pooled, opportunities = response.opportunities_moved, leads = response.leads_moved, "rep departed; work handed over");
            Ok(response)
        })
        .await
    }
}
