//! lead.received -> find or create the customer, score the lead -> lead.qualified.

use std::collections::HashMap;
use std::sync::Arc;

use shangji_contracts::events::lead::{LeadQualified, LeadReceived, ScoreFactor};
use shangji_contracts::time::{now_millis, to_millis};
use shangji_platform::Tx;
use shangji_platform::bus::{self, HandlerError, IncomingEvent};

use super::scoring::{self, ScoredLead, TenantScoring};
use crate::domain::GradeThresholds;
use crate::domain::matching::{MatchProfile, MatchThresholds};
use crate::domain::merge_review::{PossibleMatch, ReviewEvidence};
use crate::store::{
    LeadIdentity, Resolution, ResolveError, ResolvedLead, merge, resolve_lead, review, thresholds,
};

pub struct LeadReceivedHandler {
    pub thresholds: GradeThresholds,
    /// Match thresholds of tenants that set none of their own.
    pub match_thresholds: MatchThresholds,
}

/// What one consumer batch of leads shares.
#[derive(Default)]
pub struct QualifyBatch {
    /// Each tenant's settings: match thresholds, scoring rules and outcome counts, read
    /// for the batch's first lead of the tenant and used for the rest. The batch is one
    /// transaction whose handlers change none of them; an event retried alone after its
    /// batch failed reads them afresh.
    settings: HashMap<String, Arc<TenantSettings>>,
}

/// One tenant's settings in a [`QualifyBatch`].
pub struct TenantSettings {
    match_thresholds: MatchThresholds,
    scoring: TenantScoring,
}

impl bus::BatchHandler for LeadReceivedHandler {
    type Batch = QualifyBatch;

    fn new_batch(&self) -> QualifyBatch {
        QualifyBatch::default()
    }

    async fn apply(
        &self,
        tx: &mut Tx,
        event: &IncomingEvent,
        batch: &mut QualifyBatch,
    ) -> Result<(), HandlerError> {
        // The consumer filters on lead.received; anything else is not ours to judge.
        if !event.is::<LeadReceived>() {
            return Ok(());
        }
        let received: LeadReceived = event.decode()?;
        self.qualify(tx, event, received, batch).await
    }
}

impl LeadReceivedHandler {
    /// The tenant's settings, read at its first lead in the batch.
    async fn settings(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        batch: &mut QualifyBatch,
    ) -> Result<Arc<TenantSettings>, sqlx::Error> {
        if let Some(settings) = batch.settings.get(tenant_id) {
            return Ok(settings.clone());
        }
        let settings = Arc::new(TenantSettings {
            match_thresholds: thresholds::tenant_thresholds(tx, tenant_id, self.match_thresholds)
                .await?,
            scoring: TenantScoring::read(tx, tenant_id, self.thresholds).await?,
        });
        batch
            .settings
            .insert(tenant_id.to_owned(), settings.clone());
        Ok(settings)
    }
}

impl LeadReceivedHandler {
    async fn qualify(
        &self,
        tx: &mut Tx,
        event: &IncomingEvent,
        received: LeadReceived,
        batch: &mut QualifyBatch,
    ) -> Result<(), HandlerError> {
        let tenant_id = event.tenant_id();
        if tenant_id.is_empty() {
            return Err(reject("lead.received without a tenant"));
        }
        if received.lead_id.is_empty() {
            return Err(reject("lead.received without a lead_id"));
        }
        let Some(lead) = received.lead else {
            return Err(reject(&format!(
                "lead.received for {} without a lead",
                received.lead_id
            )));
        };
        let identity = LeadIdentity::from_lead(&received.lead_id, &lead);
        let profile = MatchProfile::from_lead(&lead);
        let settings = self.settings(tx, tenant_id, batch).await?;
        let match_thresholds = settings.match_thresholds;
        let now = now_millis();
        let resolved = resolve_lead(tx, tenant_id, &identity, &profile, &match_thresholds, now)
            .await
            .map_err(|err| match err {
                ResolveError::Database(db) => HandlerError::from(db),
                contended @ ResolveError::Contended { .. } => HandlerError::Retry(contended.into()),
            })?;
        hand_possible_matches_to_review(tx, tenant_id, &received.lead_id, &resolved, now).await?;
        tracing::debug!(lead_id = %received.lead_id, account_id = %resolved.account_id,
            candidates = resolved.candidates_examined, possible = resolved.possible.len(), "lead matched");
        let (account_id, account_match_only) =
            (resolved.account_id.clone(), resolved.account_match_only);
        let (customer_id, new_customer, match_reasons) = match resolved.resolution {
            Resolution::AlreadyAttached { customer_id } => {
                tracing::info!(lead_id = %received.lead_id, customer_id = %customer_id, event_id = %event.event_id(),
                    "lead was qualified before; nothing to do");
                metrics::counter!("shangji_dedup_leads_total", "outcome" => "duplicate")
                    .increment(1);
                return Ok(());
            }
            Resolution::Created {
                customer_id,
                reasons,
            } => (customer_id, true, reasons),
            Resolution::Attached {
                customer_id,
                reasons,
            } => (customer_id, false, reasons),
        };
        // A merge may have taken the customer away while the lead was being matched (a
        // customer created in this transaction no merge can have named yet).
        let customer_id = if new_customer {
            customer_id
        } else {
            merge::follow_merges(tx, tenant_id, &received.lead_id, &customer_id, now).await?
        };
        let received_at = received
            .received_at
            .as_ref()
            .map_or_else(|| event.occurred_at_millis(), to_millis);
        let scored = ScoredLead {
            tenant_id,
            lead_id: &received.lead_id,
            customer_id: &customer_id,
            lead: &lead,
            received_at,
        };
        let recorded = scoring::score_and_record(tx, &scored, &settings.scoring, now).await?;
        let score = recorded.score;
        tracing::info!(lead_id = %received.lead_id, customer_id = %customer_id, new_customer,
            account_match_only, score = score.score, grade = score.grade.as_str(),
            model = recorded.model, "lead qualified");
        metrics::counter!("shangji_dedup_leads_total",
            "outcome" => if new_customer { "new_customer" } else { "attached" })
        .increment(1);
        let qualified = LeadQualified {
            lead_id: received.lead_id,
            customer_id,
            new_customer,
            match_reasons,
            score: score.score,
            grade: score.grade.as_str().to_owned(),
            score_factors: score
                .factors
                .into_iter()
                .map(|f| ScoreFactor {
                    factor: f.factor.to_owned(),
                    points: f.points,
                    detail: f.detail,
                })
                .collect(),
            lead: Some(lead),
            account_id,
            account_match_only,
            score_model: recorded.model.to_owned(),
            scoring_rules_version: recorded.rules_version,
        };
        bus::enqueue(tx, &event.follow_on(), &qualified).await?;
        Ok(())
    }
}

/// The hook for "possibly the same": the lead went on with a customer of its own, and
/// each known customer it may be goes to the review queue for a person to decide.
/// Runs in the lead's transaction, so redelivery queues nothing twice.
async fn hand_possible_matches_to_review(
    tx: &mut Tx,
    tenant_id: &str,
    lead_id: &str,
    resolved: &ResolvedLead,
    now: i64,
) -> Result<(), HandlerError> {
    for verdict in &resolved.possible {
        let possible = PossibleMatch {
            lead_id: lead_id.to_owned(),
            customer_id: resolved.customer_id().to_owned(),
            candidate_customer_id: verdict.customer_id.clone(),
            score: verdict.score,
            reasons: verdict.reasons(),
            evidence: verdict
                .evidence
                .iter()
                .map(|e| ReviewEvidence {
                    field: e.field.to_owned(),
                    similarity: e.similarity,
                    contribution: e.contribution,
                    detail: e.detail.clone(),
                })
                .collect(),
        };
        review::queue_possible_match(tx, tenant_id, &possible, now).await?;
    }
    Ok(())
}

fn reject(reason: &str) -> HandlerError {
    HandlerError::Reject(anyhow::anyhow!("{reason}"))
}
