//! `UpsertWebhook` and `ListDeliveries`.

use shangji_contracts::reminders::{
    self as pb, ListDeliveriesRequest, ListDeliveriesResponse, UpsertWebhookRequest,
    UpsertWebhookResponse,
};
use shangji_contracts::time::{from_millis, now_millis};
use shangji_platform::Db;
use shangji_platform::grpc::{ApiError, FieldViolation, RequestContext};

use crate::domain::{WebhookFormat, check_url, list_limit};
use crate::store::webhooks::{self, DeliveryRow, WebhookChange, WebhookRow};
use shangji_platform::idempotency::Call;

const UPSERT_WEBHOOK: &str = "UpsertWebhook";
const MAX_SECRET_LEN: usize = 256;
const MAX_ID_LEN: usize = 128;

fn format_from_proto(value: i32) -> Option<WebhookFormat> {
    match pb::WebhookFormat::try_from(value).ok()? {
        pb::WebhookFormat::GenericJson => Some(WebhookFormat::GenericJson),
        pb::WebhookFormat::WecomText => Some(WebhookFormat::WecomText),
        pb::WebhookFormat::WecomMarkdown => Some(WebhookFormat::WecomMarkdown),
        pb::WebhookFormat::DingtalkText => Some(WebhookFormat::DingtalkText),
        pb::WebhookFormat::DingtalkMarkdown => Some(WebhookFormat::DingtalkMarkdown),
        pb::WebhookFormat::Unspecified => None,
    }
}

fn format_to_proto(format: WebhookFormat) -> pb::WebhookFormat {
    match format {
        WebhookFormat::GenericJson => pb::WebhookFormat::GenericJson,
        WebhookFormat::WecomText => pb::WebhookFormat::WecomText,
        WebhookFormat::WecomMarkdown => pb::WebhookFormat::WecomMarkdown,
        WebhookFormat::DingtalkText => pb::WebhookFormat::DingtalkText,
        WebhookFormat::DingtalkMarkdown => pb::WebhookFormat::DingtalkMarkdown,
    }
}

/// The webhook as answered: the secret never leaves the service.
fn webhook_to_proto(row: &WebhookRow) -> pb::Webhook {
    pb::Webhook {
        webhook_id: row.webhook_id.clone(),
        url: row.url.clone(),
        format: format_to_proto(row.format) as i32,
        secret: String::new(),
        enabled: row.enabled,
        version: row.version,
        updated_at: Some(from_millis(row.updated_at)),
        has_secret: !row.secret.is_empty(),
    }
}

fn delivery_to_proto(row: &DeliveryRow) -> pb::Delivery {
    let state = match row.state.as_str() {
        "pending" => pb::DeliveryState::Pending,
        "delivered" => pb::DeliveryState::Delivered,
        "failed" => pb::DeliveryState::Failed,
        _ => pb::DeliveryState::Unspecified,
    };
    pb::Delivery {
        delivery_id: row.delivery_id.clone(),
        webhook_id: row.webhook_id.clone(),
        event_type: row.event_type.clone(),
        reminder_id: row.reminder_id.clone(),
        opportunity_id: row.opportunity_id.clone(),
        state: state as i32,
        attempts: u32::try_from(row.attempts).unwrap_or(u32::MAX),
        last_status: u32::try_from(row.last_status).unwrap_or(0),
        last_error: row.last_error.clone(),
        created_at: Some(from_millis(row.created_at)),
        next_attempt_at: (row.state == "pending").then(|| from_millis(row.next_attempt_at)),
        delivered_at: row.delivered_at.map(from_millis),
    }
}

pub async fn upsert(
    db: &Db,
    ctx: &RequestContext,
    req: UpsertWebhookRequest,
) -> Result<UpsertWebhookResponse, ApiError> {
    let call = Call::new(ctx, UPSERT_WEBHOOK, req.idempotency_key.trim(), &req)?;
    let Some(hook) = req.webhook.as_ref() else {
        return Err(ApiError::invalid_field("webhook", "is required"));
    };
    let mut violations = Vec::new();
    let url = hook.url.trim();
    if let Some(problem) = check_url(url) {
        violations.push(FieldViolation::new("webhook.url", problem));
    }
    let format = format_from_proto(hook.format);
    if format.is_none() {
        violations.push(FieldViolation::new(
            "webhook.format",
            "must be GENERIC_JSON, WECOM_TEXT, WECOM_MARKDOWN, DINGTALK_TEXT or DINGTALK_MARKDOWN",
        ));
    }
    if hook.secret.len() > MAX_SECRET_LEN {
        violations.push(FieldViolation::new(
            "webhook.secret",
            format!("must be at most {MAX_SECRET_LEN} characters"),
        ));
    }
    if hook.webhook_id.len() > MAX_ID_LEN {
        violations.push(FieldViolation::new(
            "webhook.webhook_id",
            format!("must be at most {MAX_ID_LEN} characters, or empty to create one"),
        ));
    }
    let (Some(format), true) = (format, violations.is_empty()) else {
        return Err(ApiError::invalid(violations));
    };
    if let Some(earlier) = call.replay(db).await? {
        return Ok(earlier);
    }
    let result: Result<UpsertWebhookResponse, ApiError> = async {
        let webhook_id = hook.webhook_id.trim();
        let change = WebhookChange {
            webhook_id: (!webhook_id.is_empty()).then_some(webhook_id),
            url,
            format,
            secret: (!hook.secret.is_empty()).then_some(hook.secret.as_str()),
            enabled: hook.enabled,
        };
        let mut tx = db.begin().await?;
        let Some(row) = webhooks::upsert(&mut tx, &ctx.tenant_id, &change, now_millis()).await?
        else {
            return Err(ApiError::NotFound(format!("no webhook {webhook_id}")));
        };
        tracing::info!(
            tenant_id = %ctx.tenant_id,
            webhook_id = %row.webhook_id,
            format = row.format.as_str(),
            enabled = row.enabled,
            version = row.version,
            "webhook stored"
        );
        let response = UpsertWebhookResponse {
            webhook: Some(webhook_to_proto(&row)),
        };
        call.commit(db, tx, response).await
    }
    .await;
    call.or_replay(db, result).await
}

pub async fn list_deliveries(
    db: &Db,
    ctx: &RequestContext,
    req: ListDeliveriesRequest,
) -> Result<ListDeliveriesResponse, ApiError> {
    let webhook_id = req.webhook_id.trim();
    if webhook_id.len() > MAX_ID_LEN {
        return Err(ApiError::invalid_field(
            "webhook_id",
            format!("must be at most {MAX_ID_LEN} characters, or empty for every webhook"),
        ));
    }
    let rows = webhooks::list_deliveries(
        db,
        &ctx.tenant_id,
        (!webhook_id.is_empty()).then_some(webhook_id),
        list_limit(req.limit),
    )
    .await?;
    Ok(ListDeliveriesResponse {
        deliveries: rows.iter().map(delivery_to_proto).collect(),
    })
}
