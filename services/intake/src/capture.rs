//! Capturing one lead, whatever the channel: check it against the tenant's field schema,
//! screen it, store it with its attribution and first trail step, and announce it
//! (lead.received) in the same transaction, unless screening flagged it: then it is
//! stored as FLAGGED and waits for a person. gRPC, batches, web forms and webhooks all
//! come through here, so every channel gets the same checks and the same retry safety.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prost::Message as _;
use shangji_contracts::common::{Attribution, Lead};
use shangji_contracts::events::lead::LeadReceived;
use shangji_contracts::intake::{LeadStatus, LeadSubmission, ScreeningCode, SubmitLeadResponse};
use shangji_contracts::time::{from_millis, now_millis};
use shangji_platform::bus::{self, EventContext};
use shangji_platform::db::is_unique_violation;
use shangji_platform::grpc::{ApiError, FieldViolation, RequestContext};
use shangji_platform::{Db, Tx, idempotency, ids};

use crate::api::schema::SchemaCache;
use crate::domain::schema::Schema;
use crate::domain::screening::flood::{self, FloodLimits};
use crate::domain::screening::{self, Flag};
use crate::domain::validate::validate_idempotency_key;
use crate::store::{self, NewLead};

/// SubmitLead and every other single-lead channel share this idempotency key space.
const SUBMIT_LEAD: &str = "SubmitLead";
/// Longest attribution value accepted, in characters.
const MAX_ATTRIBUTION: usize = 500;
/// The trail step of a lead screening held back (one per lead, so a fixed id).
pub(crate) const FLAGGED_STEP: &str = "screening:flagged";
/// The service named on the trail steps intake records.
pub(crate) const SERVICE: &str = "intake";
/// Stale flood counters are pruned once every this many counted submissions.
const PRUNE_EVERY: u64 = 1024;

pub struct Capture {
    db: Db,
    schemas: SchemaCache,
    /// From the service's settings: how many submissions per contact or client address
    /// within the window before a lead is flagged as a flood.
    flood_limits: FloodLimits,
    /// Submissions counted for floods since start, to prune stale counters now and then.
    counted: AtomicU64,
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
            db,
            schemas: SchemaCache::default(),
            flood_limits,
            counted: AtomicU64::new(0),
        })
    }

    fn flood_limits(&self) -> FloodLimits {
        self.flood_limits
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The tenant's current schema, compiled.
    pub async fn schema(&self, tenant_id: &str) -> Result<Arc<Schema>, ApiError> {
        self.schemas.current(&self.db, tenant_id).await
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
        let attribution = Attribution {
            channel: submission.channel,
            channel_id: submission.channel_id,
            ..submission.attribution.unwrap_or_default()
        };
        let now = now_millis();
        let mut tx = self.db.begin().await?;
        let mut flags = screening::screen(&lead);
        flags.extend(
            self.count_floods(&mut tx, &ctx.tenant_id, &lead, client_address, now)
                .await?,
        );
        let response = SubmitLeadResponse {
            lead_id: lead_id.clone(),
            replayed: false,
            flagged: !flags.is_empty(),
            flags: flags.iter().map(Flag::to_message).collect(),
        };
        let captured = Captured {
            lead_id: &lead_id,
            lead,
            attribution: &attribution,
            schema_version: schema.version,
        };
        store_screened(&mut tx, ctx, captured, now, &flags).await?;
        idempotency::remember(&mut tx, &ctx.tenant_id, SUBMIT_LEAD, &key, &hash, &response).await?;
        match tx.commit().await {
            Ok(()) => {
                if flags.is_empty() {
                    tracing::info!(tenant.id = %ctx.tenant_id, lead.id = %lead_id, channel = %attribution.channel, "lead received");
                } else {
                    let codes: Vec<&str> = flags.iter().map(|f| f.code.as_str_name()).collect();
                    tracing::info!(tenant.id = %ctx.tenant_id, lead.id = %lead_id, channel = %attribution.channel, flags = ?codes, "lead flagged by screening");
                }
                self.prune_now_and_then(&ctx.tenant_id, now).await;
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

impl Capture {
    /// Counts this submission against its client address, phone and e-mail (one upsert)
    /// and flags those over their limit.
    async fn count_floods(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        lead: &Lead,
        client_address: Option<&str>,
        now: i64,
    ) -> Result<Vec<Flag>, sqlx::Error> {
        let limits = self.flood_limits();
        let subjects = flood::subjects(lead, client_address, &limits);
        if subjects.is_empty() {
            return Ok(Vec::new());
        }
        let start = flood::window_start(now, limits.window_ms);
        let counts =
            store::flags::count_submission(tx, tenant_id, &subjects, start, limits.window_ms)
                .await?;
        self.counted.fetch_add(1, Ordering::Relaxed);
        Ok(subjects
            .iter()
            .zip(counts)
            .filter_map(|(subject, (current, previous))| {
                let estimated = flood::estimate(current, previous, start, now, limits.window_ms);
                flood::check(subject, estimated, &limits)
                    .map(|problem| Flag::new(ScreeningCode::Flood, subject.kind.field(), problem))
            })
            .collect())
    }

    /// Every `PRUNE_EVERY` counted submissions, drops the tenant's counters that no
    /// longer count (older than the previous window). Best effort: a failure only
    /// leaves rows for the next round.
    async fn prune_now_and_then(&self, tenant_id: &str, now: i64) {
        let counted = self.counted.load(Ordering::Relaxed);
        if counted == 0 || !counted.is_multiple_of(PRUNE_EVERY) {
            return;
        }
        let limits = self.flood_limits();
        let before = flood::window_start(now, limits.window_ms) - limits.window_ms;
        match store::flags::prune_counters(&self.db, tenant_id, before).await {
            Ok(pruned) => tracing::debug!(tenant.id = %tenant_id, pruned, "flood counters pruned"),
            Err(e) => {
                tracing::warn!(tenant.id = %tenant_id, error = %e, "cannot prune flood counters")
            }
        }
    }
}

/// A checked lead, ready to store.
pub struct Captured<'a> {
    pub lead_id: &'a str,
    pub lead: Lead,
    pub attribution: &'a Attribution,
    pub schema_version: i64,
}

/// Stores the lead and its first trail step on `tx`; without flags it is announced
/// (lead.received), with flags it is held back as FLAGGED with its reasons. (Import rows,
/// keyed per row, are stored a chunk at a time by `import::chunk` with the same outcome.)
pub async fn store_screened(
    tx: &mut Tx,
    ctx: &RequestContext,
    captured: Captured<'_>,
    now: i64,
    flags: &[Flag],
) -> Result<(), sqlx::Error> {
    let channel = captured.attribution.channel.as_str();
    let status = if flags.is_empty() {
        LeadStatus::Received
    } else {
        LeadStatus::Flagged
    };
    store::insert_lead(
        tx,
        &NewLead {
            tenant_id: &ctx.tenant_id,
            lead_id: captured.lead_id,
            channel,
            lead: &captured.lead.encode_to_vec(),
            attribution: &captured.attribution.encode_to_vec(),
            schema_version: captured.schema_version,
            // Retries are caught by the idempotency key before this point.
            submission_key: None,
            status: status as i32,
            now,
        },
    )
    .await?;
    let detail = received_detail(captured.attribution);
    if flags.is_empty() {
        let announced = Announced {
            lead_id: captured.lead_id,
            lead: captured.lead,
            channel,
            received_at: now,
        };
        announce(tx, ctx, announced, &detail, now).await?;
        return Ok(());
    }
    let messages: Vec<_> = flags.iter().map(Flag::to_message).collect();
    store::flags::insert_flag(
        tx,
        &ctx.tenant_id,
        captured.lead_id,
        &store::flags::encode_flags(&messages),
        screening::code_bits(flags.iter().map(|f| f.code)),
        now,
    )
    .await?;
    store::insert_step(
        tx,
        &ctx.tenant_id,
        captured.lead_id,
        FLAGGED_STEP,
        LeadStatus::Flagged as i32,
        &format!("{detail}; {}", screening::summary(flags)),
        SERVICE,
        now,
    )
    .await?;
    Ok(())
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
    let event = LeadReceived {
        lead_id: announced.lead_id.to_owned(),
        lead: Some(announced.lead),
        channel: announced.channel.to_owned(),
        received_at: Some(from_millis(announced.received_at)),
    };
    let event_id = bus::enqueue(
        tx,
        &EventContext::from_request(ctx, announced.lead_id),
        &event,
    )
    .await?;
    store::insert_step(
        tx,
        &ctx.tenant_id,
        announced.lead_id,
        &event_id,
        LeadStatus::Received as i32,
        detail,
        SERVICE,
        now,
    )
    .await?;
    Ok(event_id)
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
