//! lead.received -> find or create the customer, score the lead -> lead.qualified.

use shangji_contracts::events::lead::{LeadQualified, LeadReceived, ScoreFactor};
use shangji_contracts::time::now_millis;
use shangji_platform::Tx;
use shangji_platform::bus::{self, HandlerError, IncomingEvent};

use crate::domain::normalize::clean_text;
use crate::domain::{GradeThresholds, lead_keys, score_lead};
use crate::store::{LeadIdentity, Resolution, ResolveError, resolve_customer};

pub struct LeadReceivedHandler {
    pub thresholds: GradeThresholds,
}

impl bus::Handler for LeadReceivedHandler {
    async fn handle<'a>(
        &'a self,
        tx: &'a mut Tx,
        event: &'a IncomingEvent,
    ) -> Result<(), HandlerError> {
        // The consumer filters on lead.received; anything else is not ours to judge.
        if !event.is::<LeadReceived>() {
            return Ok(());
        }
        let received: LeadReceived = event.decode()?;
        self.qualify(tx, event, received).await
    }
}

impl LeadReceivedHandler {
    async fn qualify(
        &self,
        tx: &mut Tx,
        event: &IncomingEvent,
        received: LeadReceived,
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
        let identity = LeadIdentity {
            lead_id: received.lead_id.clone(),
            keys: lead_keys(&lead),
            name: clean_text(&lead.contact_name),
            company: clean_text(&lead.company),
        };
        let resolution = resolve_customer(tx, tenant_id, &identity, now_millis())
            .await
            .map_err(|err| match err {
                ResolveError::Database(db) => HandlerError::from(db),
                contended @ ResolveError::Contended { .. } => HandlerError::Retry(contended.into()),
            })?;
        let (customer_id, new_customer, match_reasons) = match resolution {
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
        let score = score_lead(&lead, &self.thresholds);
        tracing::info!(lead_id = %received.lead_id, customer_id = %customer_id, new_customer,
            score = score.score, grade = score.grade.as_str(), "lead qualified");
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
        };
        bus::enqueue(tx, &event.follow_on(), &qualified).await?;
        Ok(())
    }
}

fn reject(reason: &str) -> HandlerError {
    HandlerError::Reject(anyhow::anyhow!("{reason}"))
}
