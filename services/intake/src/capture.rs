//! Capturing one lead, whatever the channel: check it against the tenant's field schema,
//! store it with its attribution and first trail step, and announce it (lead.received)
//! in the same transaction. gRPC, batches, web forms and webhooks all come through here,
//! so every channel gets the same checks and the same retry safety.

use std::sync::Arc;

use prost::Message as _;
use shangji_contracts::common::{Attribution, Lead};
use shangji_contracts::events::lead::LeadReceived;
use shangji_contracts::intake::{LeadStatus, LeadSubmission, SubmitLeadResponse};
use shangji_contracts::time::{from_millis, now_millis};
use shangji_platform::bus::{self, EventContext};
use shangji_platform::db::is_unique_violation;
use shangji_platform::grpc::{ApiError, FieldViolation, RequestContext};
use shangji_platform::{Db, Tx, idempotency, ids};

use crate::api::schema::SchemaCache;
use crate::domain::schema::Schema;
use crate::domain::validate::validate_idempotency_key;
use crate::store::{self, NewLead};

/// SubmitLead and every other single-lead channel share this idempotency key space.
const SUBMIT_LEAD: &str = "SubmitLead";
/// Longest attribution value accepted, in characters.
const MAX_ATTRIBUTION: usize = 500;

pub struct Capture {
    db: Db,
    schemas: SchemaCache,
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
    pub fn new(db: Db) -> Arc<Capture> {
        Arc::new(Capture {
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

    /// Checks and stores one lead. A retry with the same idempotency key returns the
    /// first answer (`replayed`) and changes nothing.
    pub async fn accept(
        &self,
        ctx: &RequestContext,
        submission: Submission,
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
        let response = SubmitLeadResponse {
            lead_id: lead_id.clone(),
            replayed: false,
        };
        let attribution = Attribution {
            channel: submission.channel,
            channel_id: submission.channel_id,
            ..submission.attribution.unwrap_or_default()
        };
        let mut tx = self.db.begin().await?;
        let captured = Captured {
            lead_id: &lead_id,
            lead,
            attribution: &attribution,
            schema_version: schema.version,
            submission_key: None,
        };
        store_and_announce(&mut tx, ctx, captured, now_millis()).await?;
        idempotency::remember(&mut tx, &ctx.tenant_id, SUBMIT_LEAD, &key, &hash, &response).await?;
        match tx.commit().await {
            Ok(()) => {
                tracing::info!(tenant.id = %ctx.tenant_id, lead.id = %lead_id, channel = %attribution.channel, "lead received");
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
}

/// A checked lead, ready to store.
pub struct Captured<'a> {
    pub lead_id: &'a str,
    pub lead: Lead,
    pub attribution: &'a Attribution,
    pub schema_version: i64,
    /// Channels that key leads themselves (import rows) set it; None otherwise.
    pub submission_key: Option<&'a str>,
}

/// Stores the lead, its first trail step and its lead.received event on `tx`. Returns
/// false, storing nothing, when the submission key had already been used.
pub async fn store_and_announce(
    tx: &mut Tx,
    ctx: &RequestContext,
    captured: Captured<'_>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let channel = captured.attribution.channel.as_str();
    let stored = store::insert_lead(
        tx,
        &NewLead {
            tenant_id: &ctx.tenant_id,
            lead_id: captured.lead_id,
            channel,
            lead: &captured.lead.encode_to_vec(),
            attribution: &captured.attribution.encode_to_vec(),
            schema_version: captured.schema_version,
            submission_key: captured.submission_key,
            status: LeadStatus::Received as i32,
            now,
        },
    )
    .await?;
    if !stored {
        return Ok(false);
    }
    let event = LeadReceived {
        lead_id: captured.lead_id.to_owned(),
        lead: Some(captured.lead),
        channel: channel.to_owned(),
        received_at: Some(from_millis(now)),
    };
    let event_id = bus::enqueue(
        tx,
        &EventContext::from_request(ctx, captured.lead_id),
        &event,
    )
    .await?;
    let detail = match captured.attribution.channel_id.as_str() {
        "" => format!("received via {channel}"),
        id => format!("received via {channel} ({id})"),
    };
    store::insert_step(
        tx,
        &ctx.tenant_id,
        captured.lead_id,
        &event_id,
        LeadStatus::Received as i32,
        &detail,
        "intake",
        now,
    )
    .await?;
    Ok(true)
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
