//! ImportLeads, GetImportReport and the mapping presets. The upload's first message is
//! checked here; the import itself runs in `crate::import::run`, streaming progress.

use std::sync::Arc;

use futures::StreamExt as _;
use prost::Message as _;
use shangji_contracts::intake::import_leads_request::Part;
use shangji_contracts::intake::{
    GetImportReportRequest, ImportFormat, ImportLeadsRequest, ImportMetadata, ImportProgress,
    ImportReport, ImportState, ListMappingPresetsResponse, MappingPreset,
    UpsertMappingPresetRequest, UpsertMappingPresetResponse,
};
use shangji_contracts::time::{from_millis, now_millis};
use shangji_platform::grpc::{ApiError, FieldViolation, RequestContext};
use shangji_platform::{idempotency, ids};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};

use crate::capture::Capture;
use crate::domain::validate::validate_idempotency_key;
use crate::import::run::{self, ImportJob, problem_message};
use crate::store::imports::{self, ImportRow};

const UPSERT_MAPPING_PRESET: &str = "UpsertMappingPreset";
const MAX_NAME: usize = 255;
const MAX_FIELD_KEY: usize = 64;
const MAX_MAPPING: usize = 500;
const DEFAULT_PAGE: i32 = 500;
const MAX_PAGE: i32 = 5000;
/// Progress messages buffered for a slow client before the import waits for it.
const PROGRESS_BUFFER: usize = 16;

pub type ProgressStream = ReceiverStream<Result<ImportProgress, Status>>;

pub async fn import_leads(
    capture: Arc<Capture>,
    ctx: RequestContext,
    mut upload: Streaming<ImportLeadsRequest>,
) -> Result<ProgressStream, ApiError> {
    let first = upload
        .next()
        .await
        .ok_or_else(|| {
            ApiError::invalid_field(
                "metadata",
                "the upload is empty: send ImportMetadata first, then the file",
            )
        })?
        .map_err(|s| {
            ApiError::invalid_field("metadata", format!("the upload broke off: {}", s.message()))
        })?;
    let Some(Part::Metadata(meta)) = first.part else {
        return Err(ApiError::invalid_field(
            "metadata",
            "the first message must be ImportMetadata (file name, format, mapping), then the file in chunks",
        ));
    };
    let format = check_metadata(&meta)?;
    let mut mapping = Vec::new();
    if !meta.mapping_preset.trim().is_empty() {
        let name = meta.mapping_preset.trim();
        let Some(bytes) = imports::load_preset(capture.db().reader(), &ctx.tenant_id, name).await?
        else {
            return Err(ApiError::invalid_field(
                "metadata.mapping_preset",
                format!(
                    "no mapping preset named `{name}`; ListMappingPresets shows the saved ones"
                ),
            ));
        };
        let preset = MappingPreset::decode(bytes.as_slice())
            .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("stored preset")))?;
        mapping.extend(preset.columns.into_iter().map(|c| (c.header, c.field)));
    }
    mapping.extend(meta.columns.into_iter().map(|c| (c.header, c.field)));

    let import_id = ids::new_id("imp");
    let mut tx = capture.db().begin().await?;
    imports::create_import(
        &mut tx,
        &ctx.tenant_id,
        &ImportRow {
            import_id: import_id.clone(),
            file_name: meta.file_name.trim().to_owned(),
            format: format as i32,
            dry_run: i64::from(meta.dry_run),
            import_key: meta.import_key.trim().to_owned(),
            state: ImportState::Running as i32,
            started_at: now_millis(),
            ..Default::default()
        },
        &ctx.user_id,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(tenant.id = %ctx.tenant_id, import.id = %import_id, file = %meta.file_name, "import started");

    let job = ImportJob {
        capture,
        ctx,
        import_id,
        file_name: meta.file_name.trim().to_owned(),
        format,
        dry_run: meta.dry_run,
        import_key: meta.import_key.trim().to_owned(),
        campaign: meta.campaign.trim().to_owned(),
        mapping,
    };
    let (progress, receiver) = mpsc::channel(PROGRESS_BUFFER);
    tokio::spawn(run::run(job, upload, progress));
    Ok(ReceiverStream::new(receiver))
}

/// Checks the metadata and settles the format (explicit, else from the file name).
fn check_metadata(meta: &ImportMetadata) -> Result<ImportFormat, ApiError> {
    let mut violations = Vec::new();
    let name = meta.file_name.trim();
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        violations.push(FieldViolation::new(
            "metadata.file_name",
            format!("must be plain text of at most {MAX_NAME} characters"),
        ));
    }
    let lower = name.to_lowercase();
    let format = match ImportFormat::try_from(meta.format).unwrap_or(ImportFormat::Unspecified) {
        ImportFormat::Unspecified if lower.ends_with(".xlsx") => ImportFormat::Xlsx,
        ImportFormat::Unspecified if lower.ends_with(".csv") || lower.ends_with(".txt") => {
            ImportFormat::Csv
        }
        ImportFormat::Unspecified => {
            violations.push(FieldViolation::new(
                "metadata.format",
                "cannot tell the format from the file name; set format to CSV or XLSX",
            ));
            ImportFormat::Unspecified
        }
        explicit => explicit,
    };
    if let Some(v) = validate_idempotency_key(meta.import_key.trim()) {
        violations.push(FieldViolation::new("metadata.import_key", v.description));
    }
    if meta.campaign.chars().count() > MAX_NAME || meta.campaign.chars().any(char::is_control) {
        violations.push(FieldViolation::new(
            "metadata.campaign",
            format!("must be plain text of at most {MAX_NAME} characters"),
        ));
    }
    violations.extend(check_columns("metadata.columns", &meta.columns));
    if violations.is_empty() {
        Ok(format)
    } else {
        Err(ApiError::invalid(violations))
    }
}

fn check_columns(
    path: &str,
    columns: &[shangji_contracts::intake::ColumnMapping],
) -> Vec<FieldViolation> {
    let mut violations = Vec::new();
    if columns.len() > MAX_MAPPING {
        violations.push(FieldViolation::new(
            path,
            format!("at most {MAX_MAPPING} columns can be mapped"),
        ));
    }
    for (i, c) in columns.iter().enumerate() {
        if c.header.trim().is_empty() || c.header.chars().count() > MAX_NAME {
            violations.push(FieldViolation::new(
                format!("{path}[{i}].header"),
                format!("must name a column header (1 to {MAX_NAME} characters)"),
            ));
        }
        let field = c.field.trim();
        if field.is_empty()
            || field.chars().count() > MAX_FIELD_KEY
            || field.chars().any(char::is_control)
        {
            violations.push(FieldViolation::new(
                format!("{path}[{i}].field"),
                format!("must be a lead field, a custom field key (at most {MAX_FIELD_KEY} characters) or `-` to skip the column"),
            ));
        }
    }
    violations
}

pub async fn get_import_report(
    capture: &Capture,
    ctx: &RequestContext,
    request: &GetImportReportRequest,
) -> Result<ImportReport, ApiError> {
    if request.import_id.trim().is_empty() {
        return Err(ApiError::invalid_field("import_id", "is required"));
    }
    if request.page_size < 0 || request.page_size > MAX_PAGE {
        return Err(ApiError::invalid_field(
            "page_size",
            format!("must be 0 (default {DEFAULT_PAGE}) to {MAX_PAGE}"),
        ));
    }
    let after: i64 = if request.page_token.is_empty() {
        0
    } else {
        request.page_token.parse().map_err(|_| {
            ApiError::invalid_field("page_token", "is not a token this service gave out")
        })?
    };
    let page = if request.page_size == 0 {
        DEFAULT_PAGE
    } else {
        request.page_size
    };
    let db = capture.db().reader();
    let import = imports::load_import(db, &ctx.tenant_id, &request.import_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("import `{}` not found", request.import_id)))?;
    let problems = imports::load_problems(
        db,
        &ctx.tenant_id,
        &import.import_id,
        after,
        i64::from(page) + 1,
    )
    .await?;
    let more = problems.len() > page as usize;
    let problems: Vec<_> = problems.into_iter().take(page as usize).collect();
    let next_page_token = match (more, problems.last()) {
        (true, Some(last)) => last.seq.to_string(),
        _ => String::new(),
    };
    Ok(ImportReport {
        import_id: import.import_id,
        file_name: import.file_name,
        format: import.format,
        encoding: import.encoding,
        dry_run: import.dry_run != 0,
        state: import.state,
        rows_read: import.rows_read,
        accepted: import.accepted,
        replayed: import.replayed,
        rejected: import.rejected,
        problems: problems.into_iter().map(problem_message).collect(),
        next_page_token,
        started_at: Some(from_millis(import.started_at)),
        finished_at: (import.finished_at > 0).then(|| from_millis(import.finished_at)),
        error: import.error,
    })
}

pub async fn upsert_mapping_preset(
    capture: &Capture,
    ctx: &RequestContext,
    request: UpsertMappingPresetRequest,
) -> Result<UpsertMappingPresetResponse, ApiError> {
    let key = request.idempotency_key.trim().to_owned();
    let preset = request.preset.clone().unwrap_or_default();
    let name = preset.name.trim().to_owned();
    let mut violations = Vec::new();
    if request.preset.is_none() {
        violations.push(FieldViolation::new("preset", "is required"));
    }
    if name.is_empty() || name.chars().count() > MAX_FIELD_KEY || name.chars().any(char::is_control)
    {
        violations.push(FieldViolation::new(
            "preset.name",
            format!("must be 1 to {MAX_FIELD_KEY} characters of plain text"),
        ));
    }
    violations.extend(check_columns("preset.columns", &preset.columns));
    violations.extend(validate_idempotency_key(&key));
    if !violations.is_empty() {
        return Err(ApiError::invalid(violations));
    }
    let db = capture.db();
    let hash = idempotency::request_hash(&request);
    let replay = || {
        idempotency::replay::<UpsertMappingPresetResponse>(
            db,
            &ctx.tenant_id,
            UPSERT_MAPPING_PRESET,
            &key,
            &hash,
        )
    };
    if let Some(earlier) = replay().await? {
        return Ok(earlier);
    }
    let result: Result<UpsertMappingPresetResponse, ApiError> = async {
        let now = now_millis();
        let stored = MappingPreset {
            name: name.clone(),
            columns: preset.columns,
            updated_at: Some(from_millis(now)),
        };
        let response = UpsertMappingPresetResponse {
            preset: Some(stored.clone()),
        };
        let mut tx = db.begin().await?;
        imports::upsert_preset(&mut tx, &ctx.tenant_id, &name, &stored.encode_to_vec(), now)
            .await?;
        idempotency::remember(
            &mut tx,
            &ctx.tenant_id,
            UPSERT_MAPPING_PRESET,
            &key,
            &hash,
            &response,
        )
        .await?;
        tx.commit().await?;
        Ok(response)
    }
    .await;
    // A retry sent while the first call ran finds its effects (or its key, when both
    // commit at once) and is refused for them: it answers what the first call answered.
    idempotency::or_earlier(result, replay).await
}

pub async fn list_mapping_presets(
    capture: &Capture,
    ctx: &RequestContext,
) -> Result<ListMappingPresetsResponse, ApiError> {
    let presets = imports::load_presets(capture.db().reader(), &ctx.tenant_id)
        .await?
        .into_iter()
        .map(|bytes| {
            MappingPreset::decode(bytes.as_slice())
                .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("stored preset")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ListMappingPresetsResponse { presets })
}
