//! The screening review queue: ListFlaggedLeads, and a person's decision on a flagged
//! lead. Releasing announces it (lead.received) in the same transaction as the decision
//! and its trail step; discarding keeps it with who and why and announces nothing. A
//! decision is made once: a retry (same idempotency key, or the lead already in the
//! requested state) answers as the first time and publishes nothing again.

use prost::Message as _;
use shangji_contracts::common::{Attribution, Lead};
use shangji_contracts::intake::{
    DiscardFlaggedLeadRequest, FlagState, FlaggedLead, FlaggedLeadDecision, LeadStatus,
    ListFlaggedLeadsRequest, ListFlaggedLeadsResponse, ReleaseFlaggedLeadRequest, ScreeningCode,
};
use shangji_contracts::time::{from_millis, now_millis};
use shangji_platform::grpc::{ApiError, FieldViolation, RequestContext};
use shangji_platform::{Db, idempotency};

use crate::capture::{Announced, announce};
use crate::domain::screening::code_bits;
use crate::domain::validate::validate_idempotency_key;
use crate::store::{self, flags::FlagRow};

const DEFAULT_PAGE: i32 = 50;
const MAX_PAGE: i32 = 500;
/// Longest decision note, in characters.
const MAX_NOTE: usize = 1000;
/// The trail step of a discarded lead (one per lead, so a fixed id).
const DISCARDED_STEP: &str = "screening:discarded";

pub async fn list_flagged_leads(
    db: &Db,
    ctx: &RequestContext,
    request: &ListFlaggedLeadsRequest,
) -> Result<ListFlaggedLeadsResponse, ApiError> {
    let mut violations = Vec::new();
    let code = ScreeningCode::try_from(request.code).unwrap_or_else(|_| {
        violations.push(FieldViolation::new(
            "code",
            format!("{} is not a ScreeningCode", request.code),
        ));
        ScreeningCode::Unspecified
    });
    let state = match FlagState::try_from(request.state) {
        Ok(FlagState::Unspecified) => FlagState::Pending,
        Ok(state) => state,
        Err(_) => {
            violations.push(FieldViolation::new(
                "state",
                format!("{} is not a FlagState", request.state),
            ));
            FlagState::Pending
        }
    };
    if !(0..=MAX_PAGE).contains(&request.page_size) {
        violations.push(FieldViolation::new(
            "page_size",
            format!("must be 1 to {MAX_PAGE} (0 for {DEFAULT_PAGE})"),
        ));
    }
    if !violations.is_empty() {
        return Err(ApiError::invalid(violations));
    }
    let size = match request.page_size {
        0 => DEFAULT_PAGE,
        n => n,
    };
    let bits = match code {
        ScreeningCode::Unspecified => 0,
        code => code_bits([code]),
    };
    let mut rows = store::flags::list_flags(
        db,
        &ctx.tenant_id,
        state as i32,
        bits,
        &request.page_token,
        i64::from(size) + 1,
    )
    .await?;
    // One row more than the page tells whether another page follows.
    let next_page_token = if rows.len() > size as usize {
        rows.truncate(size as usize);
        rows.last().map(|r| r.lead_id.clone()).unwrap_or_default()
    } else {
        String::new()
    };
    Ok(ListFlaggedLeadsResponse {
        leads: rows
            .into_iter()
            .map(flagged_lead)
            .collect::<Result<_, _>>()?,
        next_page_token,
    })
}

pub async fn release_flagged_lead(
    db: &Db,
    ctx: &RequestContext,
    request: &ReleaseFlaggedLeadRequest,
) -> Result<FlaggedLeadDecision, ApiError> {
    let decision = Decision {
        state: FlagState::Released,
        lead_id: &request.lead_id,
        note: request.note.trim(),
    };
    let call =
        idempotency::Call::new(ctx, "ReleaseFlaggedLead", &request.idempotency_key, request)?;
    decide(db, ctx, decision, &request.idempotency_key, call).await
}

pub async fn discard_flagged_lead(
    db: &Db,
    ctx: &RequestContext,
    request: &DiscardFlaggedLeadRequest,
) -> Result<FlaggedLeadDecision, ApiError> {
    let decision = Decision {
        state: FlagState::Discarded,
        lead_id: &request.lead_id,
        note: request.note.trim(),
    };
    let call =
        idempotency::Call::new(ctx, "DiscardFlaggedLead", &request.idempotency_key, request)?;
    decide(db, ctx, decision, &request.idempotency_key, call).await
}

/// What a person decided about one flagged lead.
struct Decision<'a> {
    /// Released or discarded.
    state: FlagState,
    lead_id: &'a str,
    note: &'a str,
}

impl Decision<'_> {
    fn check(&self, key: &str) -> Result<(), ApiError> {
        let mut violations = Vec::new();
        if self.lead_id.trim().is_empty() {
            violations.push(FieldViolation::new("lead_id", "is required"));
        }
        if self.state == FlagState::Discarded && self.note.is_empty() {
            violations.push(FieldViolation::new(
                "note",
                "is required: say why the lead is discarded, so the decision explains itself later",
            ));
        }
        if self.note.chars().count() > MAX_NOTE
            || self
                .note
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            violations.push(FieldViolation::new(
                "note",
                format!("must be plain text of at most {MAX_NOTE} characters"),
            ));
        }
        violations.extend(validate_idempotency_key(key));
        if violations.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(violations))
        }
    }

    /// The trail's words for it: "released by li.admin: a real customer".
    fn detail(&self, user: &str) -> String {
        let verb = match self.state {
            FlagState::Released => "released",
            _ => "discarded",
        };
        match self.note {
            "" => format!("{verb} by {user}"),
            note => format!("{verb} by {user}: {note}"),
        }
    }
}

async fn decide(
    db: &Db,
    ctx: &RequestContext,
    decision: Decision<'_>,
    key: &str,
    call: idempotency::Call<'_>,
) -> Result<FlaggedLeadDecision, ApiError> {
    decision.check(key)?;
    if let Some(mut earlier) = call.replay::<FlaggedLeadDecision>(db).await? {
        earlier.replayed = true;
        return Ok(earlier);
    }
    let tenant = ctx.tenant_id.as_str();
    let lead_id = decision.lead_id;
    let now = now_millis();
    let mut tx = db.begin().await?;
    let decided = store::flags::decide(
        &mut tx,
        tenant,
        lead_id,
        decision.state as i32,
        &ctx.user_id,
        decision.note,
        now,
    )
    .await?;
    if !decided {
        // Not pending: decided before (answer as then), or never flagged.
        tx.rollback().await?;
        return already_decided(db, tenant, &decision).await;
    }
    let row = store::flags::load_flag(&mut tx, tenant, lead_id)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("flag of {lead_id} vanished")))?;
    let detail = decision.detail(&ctx.user_id);
    if decision.state == FlagState::Released {
        let announced = Announced {
            lead_id,
            lead: decode_lead(&row.lead)?,
            channel: &row.channel,
            received_at: row.received_at,
        };
        announce(&mut tx, ctx, announced, &detail, now).await?;
        store::flags::set_lead_status(&mut tx, tenant, lead_id, LeadStatus::Received as i32, now)
            .await?;
    } else {
        store::insert_step(
            &mut tx,
            tenant,
            lead_id,
            DISCARDED_STEP,
            LeadStatus::Discarded as i32,
            &detail,
            "intake",
            now,
        )
        .await?;
        store::flags::set_lead_status(&mut tx, tenant, lead_id, LeadStatus::Discarded as i32, now)
            .await?;
    }
    tracing::info!(tenant.id = %tenant, lead.id = %lead_id, user.id = %ctx.user_id, decision = decision.state.as_str_name(), "flagged lead decided");
    let response = FlaggedLeadDecision {
        lead: Some(flagged_lead(row)?),
        replayed: false,
    };
    call.commit(db, tx, response).await
}

/// The answer when the flag was not pending: the same decision again is answered as
/// the first time; the other one, or a lead screening never held, is refused.
async fn already_decided(
    db: &Db,
    tenant: &str,
    decision: &Decision<'_>,
) -> Result<FlaggedLeadDecision, ApiError> {
    let lead_id = decision.lead_id;
    let mut conn = db.reader().acquire().await?;
    let Some(row) = store::flags::load_flag(&mut conn, tenant, lead_id).await? else {
        return match store::load_lead(&mut conn, tenant, lead_id).await? {
            None => Err(ApiError::NotFound(format!("lead `{lead_id}` not found"))),
            Some(_) => Err(ApiError::FailedPrecondition {
                message: format!(
                    "lead `{lead_id}` was not flagged by screening; only flagged leads are released or discarded"
                ),
                missing: Vec::new(),
            }),
        };
    };
    let state = FlagState::try_from(row.state).unwrap_or(FlagState::Unspecified);
    if state == decision.state {
        return Ok(FlaggedLeadDecision {
            lead: Some(flagged_lead(row)?),
            replayed: true,
        });
    }
    let message = match state {
        FlagState::Released => format!(
            "lead `{lead_id}` was already released by {} and has gone downstream; it cannot be discarded any more",
            row.decided_by
        ),
        FlagState::Discarded => format!(
            "lead `{lead_id}` was discarded by {} ({}); a discarded lead cannot be released",
            row.decided_by, row.note
        ),
        // Pending again cannot happen (decisions are final); ask for a retry all the same.
        _ => {
            return Err(ApiError::Unavailable(format!(
                "the flag of lead `{lead_id}` changed while deciding; try again"
            )));
        }
    };
    Err(ApiError::FailedPrecondition {
        message,
        missing: Vec::new(),
    })
}

fn decode_lead(bytes: &[u8]) -> Result<Lead, ApiError> {
    Lead::decode(bytes)
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("stored lead")))
}

fn flagged_lead(row: FlagRow) -> Result<FlaggedLead, ApiError> {
    let stored = |e: prost::DecodeError, what: &'static str| {
        ApiError::Internal(anyhow::Error::new(e).context(what))
    };
    let attribution = match &row.attribution {
        Some(bytes) => {
            Attribution::decode(bytes.as_slice()).map_err(|e| stored(e, "stored attribution"))?
        }
        None => Attribution {
            channel: row.channel.clone(),
            ..Default::default()
        },
    };
    Ok(FlaggedLead {
        lead: Some(decode_lead(&row.lead)?),
        attribution: Some(attribution),
        flags: store::flags::decode_flags(&row.flags).map_err(|e| stored(e, "stored flags"))?,
        flagged_at: Some(from_millis(row.flagged_at)),
        state: row.state,
        decided_at: (row.decided_at != 0).then(|| from_millis(row.decided_at)),
        decided_by: row.decided_by,
        note: row.note,
        lead_id: row.lead_id,
    })
}
