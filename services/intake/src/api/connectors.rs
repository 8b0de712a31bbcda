//! UpsertConnector / ListConnectors: the webhook connectors served on intake's HTTP
//! listener. Secrets are write-only: stored, never returned.

use prost::Message as _;
use shangji_contracts::intake::{
    Connector, ConnectorKind, ListConnectorsResponse, UpsertConnectorRequest,
    UpsertConnectorResponse,
};
use shangji_contracts::time::{from_millis, now_millis};
use shangji_platform::grpc::{ApiError, FieldViolation, RequestContext};
use shangji_platform::{Db, idempotency};

use crate::domain::validate::validate_idempotency_key;
use crate::http::mapping::{check_default, check_id, check_mapping};
use crate::store::connectors::{self, ConnectorRow};

const UPSERT_CONNECTOR: &str = "UpsertConnector";
/// HMAC keys shorter than this are too easy to guess.
const MIN_HMAC_SECRET: usize = 16;
const MAX_SECRET: usize = 256;

pub async fn upsert_connector(
    db: &Db,
    ctx: &RequestContext,
    request: UpsertConnectorRequest,
) -> Result<UpsertConnectorResponse, ApiError> {
    let key = request.idempotency_key.trim().to_owned();
    let connector = request.connector.clone().unwrap_or_default();
    let kind = ConnectorKind::try_from(connector.kind).unwrap_or(ConnectorKind::Unspecified);
    let mut violations = check_connector(&connector, kind, request.connector.is_none());
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
        idempotency::replay::<UpsertConnectorResponse>(
            db,
            &ctx.tenant_id,
            UPSERT_CONNECTOR,
            &key,
            &hash,
        )
    };
    if let Some(earlier) = replay().await? {
        return Ok(earlier);
    }
    let result: Result<UpsertConnectorResponse, ApiError> = async {
        let connector_id = connector.connector_id.trim().to_owned();
        let mut tx = db.begin().await?;
        let existing = connectors::load_connector_in(&mut tx, &ctx.tenant_id, &connector_id)
            .await?
            .map(decode_with_secret)
            .transpose()?;
        let current = existing.as_ref().map_or(0, |c| c.version);
        if request.expected_version > 0 && request.expected_version != current {
            return Err(conflict(&connector_id, current, request.expected_version));
        }
        let secret = match connector.secret.as_str() {
            "" => existing.map(|c| c.secret).unwrap_or_default(),
            given => given.to_owned(),
        };
        if secret.is_empty() {
            return Err(ApiError::invalid_field(
                "connector.secret",
                "is required for a new connector",
            ));
        }
        let now = now_millis();
        let stored = Connector {
            connector_id: connector_id.clone(),
            secret,
            version: current + 1,
            updated_at: Some(from_millis(now)),
            secret_set: true,
            ..connector
        };
        if !connectors::save_connector(
            &mut tx,
            &ctx.tenant_id,
            &connector_id,
            stored.version,
            &stored.encode_to_vec(),
            now,
        )
        .await?
        {
            return Err(conflict(
                &connector_id,
                current + 1,
                request.expected_version,
            ));
        }
        let response = UpsertConnectorResponse {
            connector: Some(without_secret(stored)),
        };
        idempotency::remember(
            &mut tx,
            &ctx.tenant_id,
            UPSERT_CONNECTOR,
            &key,
            &hash,
            &response,
        )
        .await?;
        tx.commit().await?;
            tracing::info!(tenant.id = %ctx.tenant_id, connector.id = %connector_id, version = current + 1, "connector upserted");
        Ok(response)
    }
    .await;
    // A retry sent while the first call ran finds its effects (or its key, when both
    // commit at once) and is refused for them: it answers what the first call answered.
    idempotency::or_earlier(result, replay).await
}

pub async fn list_connectors(
    db: &Db,
    ctx: &RequestContext,
) -> Result<ListConnectorsResponse, ApiError> {
    let connectors = connectors::load_connectors(db.reader(), &ctx.tenant_id)
        .await?
        .into_iter()
        .map(|row| decode_with_secret(row).map(without_secret))
        .collect::<Result<_, _>>()?;
    Ok(ListConnectorsResponse { connectors })
}

/// The stored connector, secret included (for checking signatures).
pub fn decode_with_secret(row: ConnectorRow) -> Result<Connector, ApiError> {
    let mut connector = Connector::decode(row.connector.as_slice())
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("stored connector")))?;
    connector.version = row.version;
    connector.secret_set = !connector.secret.is_empty();
    Ok(connector)
}

fn without_secret(connector: Connector) -> Connector {
    Connector {
        secret: String::new(),
        ..connector
    }
}

fn check_connector(
    connector: &Connector,
    kind: ConnectorKind,
    missing: bool,
) -> Vec<FieldViolation> {
    if missing {
        return vec![FieldViolation::new("connector", "is required")];
    }
    let mut violations: Vec<FieldViolation> = Vec::new();
    violations.extend(check_id(
        "connector.connector_id",
        connector.connector_id.trim(),
    ));
    if kind == ConnectorKind::Unspecified {
        violations.push(FieldViolation::new(
            "connector.kind",
            "must be GENERIC_JSON, EMAIL_PARSE or WECHAT_OFFICIAL_ACCOUNT",
        ));
    }
    let secret = connector.secret.as_str();
    if !secret.is_empty() {
        let chars = secret.chars().count();
        let ok = if kind == ConnectorKind::WechatOfficialAccount {
            // WeChat's token: 3 to 32 letters and digits, as its console enforces.
            (3..=32).contains(&chars) && secret.chars().all(|c| c.is_ascii_alphanumeric())
        } else {
            (MIN_HMAC_SECRET..=MAX_SECRET).contains(&chars) && !secret.chars().any(char::is_control)
        };
        if !ok {
            let what = if kind == ConnectorKind::WechatOfficialAccount {
                "the WeChat token must be 3 to 32 letters and digits, as set in the Official Account console".to_owned()
            } else {
                format!("the HMAC key must be {MIN_HMAC_SECRET} to {MAX_SECRET} characters")
            };
            violations.push(FieldViolation::new("connector.secret", what));
        }
    }
    if kind == ConnectorKind::GenericJson && connector.field_mapping.is_empty() {
        violations.push(FieldViolation::new(
            "connector.field_mapping",
            "must map at least one lead field to a path in the payload (e.g. phone -> /contact/phone)",
        ));
    }
    violations.extend(check_mapping(
        "connector.field_mapping",
        &connector.field_mapping,
        true,
    ));
    violations.extend(check_default(
        "connector.default_source",
        &connector.default_source,
    ));
    violations.extend(check_default(
        "connector.default_campaign",
        &connector.default_campaign,
    ));
    violations
}

fn conflict(connector_id: &str, current: i64, expected: i64) -> ApiError {
    ApiError::FailedPrecondition {
        message: format!(
            "connector `{connector_id}` is at version {current}, not {expected}: someone changed it meanwhile; \
             list the connectors again and reapply your edit"
        ),
        missing: vec![format!("expected_version = {current}")],
    }
}
