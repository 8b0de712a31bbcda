//! Capturing one lead, whatever the channel: check it against the tenant's field schema,
//! screen it, store it with its attribution and first trail step, and announce it
//! (lead.received) in the same transaction, unless screening flagged it: then it is
//! stored as FLAGGED and waits for a person. gRPC, batches, web forms and webhooks all
//! come through here, so every channel gets the same checks and the same retry safety.
//! Checks run in the caller's task; the storing is handed to `group_commit`, where
//! submissions arriving together share one transaction.

mod group_commit;
mod screened;

pub use screened::{ScreenedLead, store_screened};

use std::sync::Arc;

use shangji_contracts::common::{Attribution, Lead};
use shangji_contracts::events::lead::LeadReceived;
use shangji_contracts::intake::{LeadStatus, LeadSubmission, SubmitLeadResponse};
use shangji_contracts::time::from_millis;
use shangji_platform::bus::{self, EventContext};
use shangji_platform::db::is_unique_violation;
use shangji_platform::grpc::{ApiError, FieldViolation, RequestContext};
use shangji_platform::idempotency::Earlier;
use shangji_platform::{Db, Tx, idempotency, ids};

use self::group_commit::{GroupCommit, Stored, Submitted};
use crate::api::schema::SchemaCache;
use crate::domain::schema::Schema;
use crate::domain::screening::flood::FloodLimits;
use crate::domain::validate::validate_idempotency_key;
use crate::store;

/// SubmitLead and every other single-lead channel share this idempotency key space.
const SUBMIT_LEAD: &str = "SubmitLead";
/// Longest attribution value accepted, in characters.
const MAX_ATTRIBUTION: usize = 500;
/// The trail step of a lead screening held back (one per lead, so a fixed id).
pub(crate) const FLAGGED_STEP: &str = "screening:flagged";
/// The service named on the trail steps intake records.
pub(crate) const SERVICE: &str = "intake";

pub struct Capture {
    db: Db,
    schemas: SchemaCache,
    /// Stores checked submissions, several to a transaction when they arrive together.
    group_commit: GroupCommit,
}

/// A lead as a channel hands it over.
pub struct Submission {
    pub idempotency_key: String,
    pub lead: Option<Lead>,
    /// Campaign and UTM parameters as the sender gave them.
    pub attribution: Option<Attribution>,
    /// Set by intake: the channel and the form/connector/file it came through.
    pub channel: String,
    pub channel_id: String,
}

impl Capture {
    pub fn new(db: Db, flood_limits: FloodLimits) -> Arc<Capture> {
        Arc::new(Capture {
            group_commit: GroupCommit::start(db.clone(), flood_limits),
            db,
            schemas: SchemaCache::default(),
        })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The tenant's current schema, compiled.
    pub async fn schema(&self, tenant_id: &str) -> Result<Arc<Schema>, ApiError> {
        self.schemas.current(&self.db, tenant_id).await
    }

    /// The tenant's schema was upserted through this replica: submissions use it at once.
    pub fn schema_changed(&self, tenant_id: &str) {
        self.schemas.forget_current(tenant_id);
    }

    /// Checks, screens and stores one lead. A retry with the same idempotency key
    /// returns the first answer (`replayed`) and changes nothing.
    pub async fn accept(
        &self,
        ctx: &RequestContext,
        submission: Submission,
    ) -> Result<SubmitLeadResponse, ApiError> {
        self.accept_from(ctx, submission, None).await
    }

    /// As `accept`, for channels whose client address is the person's (web forms):
    /// floods of submissions from one address are flagged too. (gRPC and webhook callers
    /// are systems that legitimately send many leads from one address.)
    pub async fn accept_from(
        &self,
        ctx: &RequestContext,
        submission: Submission,
        client_address: Option<&str>,
    ) -> Result<SubmitLeadResponse, ApiError> {
        let key = submission.idempotency_key.trim().to_owned();
        let mut lead = submission.lead.clone().unwrap_or_default();
        let schema = self.schema(&ctx.tenant_id).await?;
        let mut violations = schema.check(&mut lead, &submission.channel, "lead");
        if submission.lead.is_none() {
            violations.insert(0, FieldViolation::new("lead", "is required"));
        }
        violations.extend(validate_idempotency_key(&key));
        violations.extend(check_attribution(submission.attribution.as_ref()));
        if !violations.is_empty() {
            return Err(ApiError::invalid(violations));
        }
        // The request as the caller sent it; a LeadSubmission without attribution
        // encodes exactly like SubmitLeadRequest, so keys used before still replay.
        let hash = idempotency::request_hash(&LeadSubmission {
            idempotency_key: submission.idempotency_key.clone(),
            lead: submission.lead.clone(),
            attribution: submission.attribution.clone(),
        });
        let attribution = Attribution {
            channel: submission.channel,
            channel_id: submission.channel_id,
            ..submission.attribution.unwrap_or_default()
        };
        let submitted = Submitted {
            ctx: ctx.clone(),
            lead_id: ids::new_id("lead"),
            lead,
            attribution,
            schema_version: schema.version,
            key: key.clone(),
            hash: hash.clone(),
            client_address: client_address.map(str::to_owned),
        };
        match self.group_commit.commit(submitted).await {
            Ok(Stored::Now(response)) => Ok(response),
            // A retry: the first call's answer (the key reused for another request: refused).
            Ok(Stored::Before(earlier)) => replayed(&earlier, &key, &hash),
            // A concurrent retry with the same key committed first: answer as it did.
            Err(err) if is_unique_violation(&err) => {
                match idempotency::replay::<SubmitLeadResponse>(
                    &self.db,
                    &ctx.tenant_id,
                    SUBMIT_LEAD,
                    &key,
                    &hash,
                )
                .await?
                {
                    Some(mut earlier) => {
                        earlier.replayed = true;
                        Ok(earlier)
                    }
                    None => Err(err.into()),
                }
            }
            Err(err) => Err(err.into()),
        }
    }
}

/// The answer to a retry: the first call's, marked as replayed.
fn replayed(earlier: &Earlier, key: &str, hash: &str) -> Result<SubmitLeadResponse, ApiError> {
    let mut response: SubmitLeadResponse = earlier.answer(SUBMIT_LEAD, key, hash)?;
    response.replayed = true;
    Ok(response)
}

/// The first trail step's text: the channel, and the form/connector/file it came through.
pub(crate) fn received_detail(attribution: &Attribution) -> String {
    match attribution.channel_id.as_str() {
        "" => format!("received via {}", attribution.channel),
        id => format!("received via {} ({id})", attribution.channel),
    }
}

/// A stored lead about to be announced.
pub struct Announced<'a> {
    pub lead_id: &'a str,
    pub lead: Lead,
    pub channel: &'a str,
    /// When intake first received it (a released lead keeps its arrival time).
    pub received_at: i64,
}

/// Publishes lead.received (through the outbox, on `tx`) and records the trail step
/// saying so. Returns the event's id.
pub async fn announce(
    tx: &mut Tx,
    ctx: &RequestContext,
    announced: Announced<'_>,
    detail: &str,
    now: i64,
) -> Result<String, sqlx::Error> {
    let lead_id = announced.lead_id;
    let event_id = enqueue_received(tx, ctx, announced).await?;
    store::insert_step(
        tx,
        &ctx.tenant_id,
        lead_id,
        &event_id,
        LeadStatus::Received as i32,
        detail,
        SERVICE,
        now,
    )
    .await?;
    Ok(event_id)
}

/// Publishes lead.received through the outbox on `tx`; returns the event's id.
pub(crate) async fn enqueue_received(
    tx: &mut Tx,
    ctx: &RequestContext,
    announced: Announced<'_>,
) -> Result<String, sqlx::Error> {
    let event = LeadReceived {
        lead_id: announced.lead_id.to_owned(),
        lead: Some(announced.lead),
        channel: announced.channel.to_owned(),
        received_at: Some(from_millis(announced.received_at)),
    };
    bus::enqueue(
        tx,
        &EventContext::from_request(ctx, announced.lead_id),
        &event,
    )
    .await
}

/// Attribution values are short single-line text.
pub fn check_attribution(attribution: Option<&Attribution>) -> Vec<FieldViolation> {
    let Some(a) = attribution else {
        return Vec::new();
    };
    [
        ("campaign", &a.campaign),
        ("utm_source", &a.utm_source),
        ("utm_medium", &a.utm_medium),
        ("utm_campaign", &a.utm_campaign),
        ("utm_term", &a.utm_term),
        ("utm_content", &a.utm_content),
        ("referrer", &a.referrer),
    ]
    .into_iter()
    .filter(|(_, v)| v.chars().count() > MAX_ATTRIBUTION || v.chars().any(char::is_control))
    .map(|(name, _)| {
        FieldViolation::new(
            format!("attribution.{name}"),
            format!("must be one line of at most {MAX_ATTRIBUTION} characters"),
        )
    })
    .collect()
}
