//! UpsertWebForm / ListWebForms: the web forms served on intake's HTTP listener.

use prost::Message as _;
use shangji_contracts::intake::{
    ListWebFormsResponse, UpsertWebFormRequest, UpsertWebFormResponse, WebForm,
};
use shangji_contracts::time::{from_millis, now_millis};
use shangji_platform::grpc::{ApiError, FieldViolation, RequestContext};
use shangji_platform::{Db, idempotency};

use crate::domain::validate::validate_idempotency_key;
use crate::http::cors::check_origin;
use crate::http::mapping::{check_default, check_id, check_mapping};
use crate::store::forms::{self, FormRow};

const UPSERT_WEB_FORM: &str = "UpsertWebForm";
const MAX_ORIGINS: usize = 50;
const MAX_RATE_PER_MINUTE: i32 = 10_000;

pub async fn upsert_web_form(
    db: &Db,
    ctx: &RequestContext,
    request: UpsertWebFormRequest,
) -> Result<UpsertWebFormResponse, ApiError> {
    let key = request.idempotency_key.trim().to_owned();
    let form = request.form.clone().unwrap_or_default();
    let mut violations = check_form(&form, request.form.is_none());
    violations.extend(validate_idempotency_key(&key));
    if request.expected_version < 0 {
        violations.push(FieldViolation::new(
            "expected_version",
            "must be 0 (no check) or the version you edited",
        ));
    }
    if !violations.is_empty() {
        return Err(ApiError::invalid(violations));
    }
    let hash = idempotency::request_hash(&request);
    let replay = || {
        idempotency::replay::<UpsertWebFormResponse>(
            db,
            &ctx.tenant_id,
            UPSERT_WEB_FORM,
            &key,
            &hash,
        )
    };
    if let Some(earlier) = replay().await? {
        return Ok(earlier);
    }
    let result: Result<UpsertWebFormResponse, ApiError> = async {
        let form_id = form.form_id.trim().to_owned();
        let mut tx = db.begin().await?;
        let current = forms::form_version(&mut tx, &ctx.tenant_id, &form_id).await?;
        if request.expected_version > 0 && request.expected_version != current {
            return Err(conflict(&form_id, current, request.expected_version));
        }
        let now = now_millis();
        let stored = WebForm {
            form_id: form_id.clone(),
            allowed_origins: form
                .allowed_origins
                .iter()
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .collect(),
            honeypot_field: form.honeypot_field.trim().to_owned(),
            version: current + 1,
            updated_at: Some(from_millis(now)),
            honeypot_hits: 0,
            ..form
        };
        if !forms::save_form(
            &mut tx,
            &ctx.tenant_id,
            &form_id,
            stored.version,
            &stored.encode_to_vec(),
            now,
        )
        .await?
        {
            return Err(conflict(&form_id, current + 1, request.expected_version));
        }
        let response = UpsertWebFormResponse { form: Some(stored) };
        idempotency::remember(
            &mut tx,
            &ctx.tenant_id,
            UPSERT_WEB_FORM,
            &key,
            &hash,
            &response,
        )
        .await?;
        tx.commit().await?;
            tracing::info!(tenant.id = %ctx.tenant_id, form.id = %form_id, version = current + 1, "web form upserted");
        Ok(response)
    }
    .await;
    // A retry sent while the first call ran finds its effects (or its key, when both
    // commit at once) and is refused for them: it answers what the first call answered.
    idempotency::or_earlier(result, replay).await
}

pub async fn list_web_forms(
    db: &Db,
    ctx: &RequestContext,
) -> Result<ListWebFormsResponse, ApiError> {
    let forms = forms::load_forms(db.reader(), &ctx.tenant_id)
        .await?
        .into_iter()
        .map(decode)
        .collect::<Result<_, _>>()?;
    Ok(ListWebFormsResponse { forms })
}

/// A stored form with its counters filled in.
pub fn decode(row: FormRow) -> Result<WebForm, ApiError> {
    let mut form = WebForm::decode(row.form.as_slice())
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("stored web form")))?;
    form.version = row.version;
    form.honeypot_hits = row.honeypot_hits;
    Ok(form)
}

fn check_form(form: &WebForm, missing: bool) -> Vec<FieldViolation> {
    if missing {
        return vec![FieldViolation::new("form", "is required")];
    }
    let mut violations: Vec<FieldViolation> = Vec::new();
    violations.extend(check_id("form.form_id", form.form_id.trim()));
    violations.extend(check_mapping(
        "form.field_mapping",
        &form.field_mapping,
        false,
    ));
    if form.allowed_origins.len() > MAX_ORIGINS {
        violations.push(FieldViolation::new(
            "form.allowed_origins",
            format!("at most {MAX_ORIGINS} origins can be listed"),
        ));
    }
    for (i, origin) in form.allowed_origins.iter().enumerate() {
        if let Err(why) = check_origin(origin.trim()) {
            violations.push(FieldViolation::new(
                format!("form.allowed_origins[{i}]"),
                why,
            ));
        }
    }
    let honeypot = form.honeypot_field.trim();
    if honeypot.chars().count() > 64 || honeypot.chars().any(char::is_control) {
        violations.push(FieldViolation::new(
            "form.honeypot_field",
            "must be a field name of at most 64 characters (empty: no honeypot)",
        ));
    }
    if !(0..=MAX_RATE_PER_MINUTE).contains(&form.rate_limit_per_minute) {
        violations.push(FieldViolation::new(
            "form.rate_limit_per_minute",
            format!("must be 0 (the default, 10) to {MAX_RATE_PER_MINUTE} posts per minute"),
        ));
    }
    violations.extend(check_default("form.default_source", &form.default_source));
    violations.extend(check_default(
        "form.default_campaign",
        &form.default_campaign,
    ));
    violations
}

fn conflict(form_id: &str, current: i64, expected: i64) -> ApiError {
    ApiError::FailedPrecondition {
        message: format!(
            "web form `{form_id}` is at version {current}, not {expected}: someone changed it meanwhile; \
             list the forms again and reapply your edit"
        ),
        missing: vec![format!("expected_version = {current}")],
    }
}
