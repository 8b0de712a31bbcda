//! UpdateOpportunity: change amount, currency, expected close date, name or custom
//! fields of an open opportunity; each change goes into the history with its previous
//! value and is published as `opportunity.updated`.

use shangji_contracts::pipeline as pb;
use shangji_contracts::time::now_millis;
use shangji_platform::Db;
use shangji_platform::bus::{self, EventContext};
use shangji_platform::grpc::{ApiError, RequestContext};

use super::checks::{Checks, contended};
use super::{ATTEMPTS, access, convert};
use crate::bus::events;
use crate::domain::opportunity::TEXT_MAX_CHARS;
use crate::domain::update::{self, CloseDate, FieldUpdate, UpdateError};
use crate::store::{history, opportunities};
use shangji_platform::idempotency::Call;

/// Longest opportunity name a rep may give.
const NAME_MAX_CHARS: usize = 200;

pub async fn update_opportunity(
    db: &Db,
    ctx: &RequestContext,
    req: pb::UpdateOpportunityRequest,
) -> Result<pb::UpdateOpportunityResponse, ApiError> {
    let (opportunity_id, wanted) = checked(&req)?;
    let call = Call::new(ctx, "UpdateOpportunity", &req.idempotency_key, &req)?;
    if let Some(response) = call.replay(db).await? {
        return Ok(response);
    }
    let result: Result<pb::UpdateOpportunityResponse, ApiError> = async {
        for _ in 0..ATTEMPTS {
            let mut tx = db.begin().await?;
            let caller = access::caller(&mut tx, ctx).await?;
            let mut opp = access::visible(&mut tx, ctx, &caller.viewer, &opportunity_id).await?;
            let now = now_millis();
            let changes = update::apply(&mut opp, &wanted, now).map_err(|err| match err {
                UpdateError::Closed(_) => ApiError::FailedPrecondition {
                    message: err.to_string(),
                    missing: vec![format!("opportunity {opportunity_id} open")],
                },
                UpdateError::TooManyFields => ApiError::invalid_field("fields", err.to_string()),
            })?;
            if !changes.is_empty() {
                if !opportunities::update(&mut tx, &opp).await? {
                    tx.rollback().await?;
                    continue;
                }
                opp.version += 1;
                history::append(
                    &mut tx,
                    &ctx.tenant_id,
                    &opportunity_id,
                    &ctx.user_id,
                    now,
                    &changes,
                )
                .await?;
                bus::enqueue(
                    &mut tx,
                    &EventContext::from_request(ctx, opp.lead_id.clone()),
                    &events::updated(&opp, &changes),
                )
                .await?;
            }
            let response = pb::UpdateOpportunityResponse {
                opportunity: Some(convert::opportunity(&opp)),
            };
            let response = call.commit(db, tx, response).await?;
            tracing::info!(
                opportunity_id = %opportunity_id,
                changed = changes.len(),
                "updated an opportunity"
            );
            return Ok(response);
        }
        Err(contended(&opportunity_id))
    }
    .await;
    call.or_replay(db, result).await
}

/// The request's changes, every bad field reported at once.
fn checked(req: &pb::UpdateOpportunityRequest) -> Result<(String, FieldUpdate), ApiError> {
    let mut checks = Checks::default();
    let opportunity_id = checks.id("opportunity_id", &req.opportunity_id);
    let amount = checks.amount("amount", req.amount);
    let currency = req.currency.as_ref().map(|c| c.trim().to_owned());
    if let Some(code) = &currency
        && !update::valid_currency(code)
    {
        checks.violation(
            "currency",
            format!("`{code}` is not an ISO 4217 code; use three capitals such as CNY or USD"),
        );
    }
    let expected_close_at = match (
        convert::timestamp(req.expected_close_at.as_ref()),
        req.clear_expected_close_at,
    ) {
        (Err(why), _) => {
            checks.violation("expected_close_at", why);
            CloseDate::Keep
        }
        (Ok(Some(_)), true) => {
            checks.violation(
                "clear_expected_close_at",
                "cannot clear the expected close date and set it in one request",
            );
            CloseDate::Keep
        }
        (Ok(Some(at)), false) => CloseDate::Set(at),
        (Ok(None), true) => CloseDate::Clear,
        (Ok(None), false) => CloseDate::Keep,
    };
    let name = req
        .name
        .as_ref()
        .map(|name| checks.required_text("name", name, NAME_MAX_CHARS));
    for (key, value) in &req.fields {
        if let Err(why) = update::check_custom_field(key, value) {
            checks.violation(&format!("fields[{key}]"), why);
        }
    }
    let note = checks.text("note", &req.note, TEXT_MAX_CHARS);
    checks.finish()?;
    Ok((
        opportunity_id,
        FieldUpdate {
            amount,
            currency,
            expected_close_at,
            name,
            fields: req.fields.clone(),
            note,
        },
    ))
}
