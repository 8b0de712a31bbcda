//! One import, start to end: the upload's bytes are decoded (CSV) and parsed on a
//! blocking thread while they arrive; rows are mapped to leads, checked against the
//! tenant's schema, and written a chunk at a time (one transaction per chunk: leads,
//! their events and trail steps, the chunk's report lines and the counters), with a
//! progress message after each chunk. Bounded channels between the stages keep memory
//! flat whatever the file's size.

use std::sync::Arc;

use futures::{Stream, StreamExt as _};
use sha2::{Digest as _, Sha256};
use shangji_contracts::common::Attribution;
use shangji_contracts::intake::import_leads_request::Part;
use shangji_contracts::intake::{
    ImportFormat, ImportLeadsRequest, ImportProgress, ImportState, RowProblem,
};
use shangji_contracts::time::now_millis;
use shangji_platform::grpc::RequestContext;
use tokio::sync::mpsc;
use tonic::Status;

use crate::capture::Capture;
use crate::domain::columns::ColumnPlan;
use crate::domain::encoding::{SNIFF_BYTES, TextDecoder, TextEncoding, detect};
use crate::import::chunk::{self, GoodRow};
use crate::import::source::{self, Chunk, ChunkReader, FileRow, RowBatch};
use crate::store::imports::{self, ImportCounts, ProblemRow};

/// Rows written per transaction (and per progress message).
pub const CHUNK_ROWS: usize = 500;
/// Channel depths between the stages: what may be in memory at once.
const CHUNKS_IN_FLIGHT: usize = 8;
const ROW_BATCHES_IN_FLIGHT: usize = 4;
pub const IMPORT_CHANNEL: &str = "import";

/// What the upload's first message asked for, checked.
pub struct ImportJob {
    pub capture: Arc<Capture>,
    pub ctx: RequestContext,
    pub import_id: String,
    pub file_name: String,
    pub format: ImportFormat,
    pub dry_run: bool,
    pub import_key: String,
    pub campaign: String,
    /// Header -> field, preset entries first (later entries win).
    pub mapping: Vec<(String, String)>,
}

struct Writer {
    job: ImportJob,
    schema: Arc<crate::domain::schema::Schema>,
    attribution: Attribution,
    counts: ImportCounts,
    next_seq: i64,
    good: Vec<GoodRow>,
    problems: Vec<ProblemRow>,
    encoding: String,
    progress: mpsc::Sender<Result<ImportProgress, Status>>,
}

/// Runs the import to its end, reporting on `progress`. Never fails: trouble ends the
/// import in state FAILED, with the rows before it handled and reported.
pub async fn run(
    job: ImportJob,
    inbound: impl Stream<Item = Result<ImportLeadsRequest, Status>> + Send + Unpin + 'static,
    progress: mpsc::Sender<Result<ImportProgress, Status>>,
) {
    let (chunk_tx, chunk_rx) = mpsc::channel::<Chunk>(CHUNKS_IN_FLIGHT);
    let (row_tx, mut row_rx) = mpsc::channel::<RowBatch>(ROW_BATCHES_IN_FLIGHT);
    let format = job.format;
    let reader = tokio::task::spawn_blocking(move || {
        let bytes = ChunkReader::new(chunk_rx);
        match format {
            ImportFormat::Xlsx => source::read_xlsx(bytes, row_tx),
            _ => source::read_csv(bytes, row_tx),
        }
    });
    let feeder = tokio::spawn(feed(inbound, format, chunk_tx));

    let schema = match job.capture.schema(&job.ctx.tenant_id).await {
        Ok(schema) => schema,
        Err(e) => {
            let _ = progress.send(Err(e.into())).await;
            return;
        }
    };
    let attribution = Attribution {
        channel: IMPORT_CHANNEL.to_owned(),
        channel_id: job.file_name.clone(),
        campaign: job.campaign.clone(),
        ..Default::default()
    };
    let mut writer = Writer {
        job,
        schema,
        attribution,
        counts: ImportCounts::default(),
        next_seq: 1,
        good: Vec::new(),
        problems: Vec::new(),
        encoding: String::new(),
        progress,
    };
    writer.send(ImportState::Running, Vec::new(), "").await;

    let mut plan: Option<ColumnPlan> = None;
    let mut failure: Option<String> = None;
    'rows: while let Some(batch) = row_rx.recv().await {
        let rows = match batch {
            Ok(rows) => rows,
            Err(error) => {
                failure = Some(error);
                break;
            }
        };
        for row in rows {
            match &plan {
                None => plan = writer.header(&row),
                Some(plan) => writer.check(plan, row),
            }
            if writer.good.len() + writer.problems.len() >= CHUNK_ROWS
                && let Err(e) = writer.flush().await
            {
                failure = Some(e);
                break 'rows;
            }
        }
    }
    // Stop the stages before (if it failed) or after (if not) the last chunk.
    drop(row_rx);
    let fed = feeder.await;
    // A reader that died (rather than reporting a problem through the rows) must not
    // let the import end as DONE with the rest of the file never read.
    if let Err(e) = reader.await {
        failure = failure.or(Some(format!("the file reader stopped: {e}")));
    }
    match fed {
        Ok(Ok(Some(encoding))) => writer.encoding = encoding.name().to_owned(),
        Ok(Ok(None)) => {}
        Ok(Err(e)) => failure = failure.or(Some(e)),
        Err(e) => failure = failure.or(Some(format!("the upload reader stopped: {e}"))),
    }
    if plan.is_none() && failure.is_none() {
        failure = Some("the file is empty: expected a header row naming the columns".into());
    }
    if failure.is_none()
        && let Err(e) = writer.flush().await
    {
        failure = Some(e);
    }
    writer.finish(failure).await;
}

impl Writer {
    /// The first non-empty row names the columns.
    fn header(&mut self, row: &FileRow) -> Option<ColumnPlan> {
        if row.cells.iter().all(|c| c.trim().is_empty()) {
            return None;
        }
        let plan = ColumnPlan::new(&row.cells, &self.job.mapping);
        for header in &plan.unmatched {
            self.problem(
                row.row,
                "",
                header,
                format!("the mapping names column `{header}`, which the file does not have"),
            );
        }
        Some(plan)
    }

    fn check(&mut self, plan: &ColumnPlan, row: FileRow) {
        let Some(mut row_lead) = plan.lead_of(&row.cells) else {
            return; // a blank row
        };
        self.counts.rows_read += 1;
        // The violations only need the row's sources, not its lead: no copy.
        let mut lead = std::mem::take(&mut row_lead.lead);
        let violations = self.schema.check(&mut lead, IMPORT_CHANNEL, "lead");
        if violations.is_empty() {
            let key = row_key(&self.job.import_key, row.row, &row.cells);
            self.good.push(GoodRow { key, lead });
            return;
        }
        self.counts.rejected += 1;
        for v in violations {
            let column = ColumnPlan::column_of(&row_lead, &v.field)
                .unwrap_or_default()
                .to_owned();
            self.problem(row.row, &v.field, &column, v.description);
        }
    }

    fn problem(&mut self, row: i64, field: &str, column: &str, message: String) {
        self.problems.push(ProblemRow {
            seq: self.next_seq,
            row_number: row,
            field: field.to_owned(),
            column_name: column.to_owned(),
            message,
        });
        self.next_seq += 1;
    }

    /// Writes the pending rows and report lines in one transaction, then reports.
    async fn flush(&mut self) -> Result<(), String> {
        let db_error = |e: sqlx::Error| {
            tracing::error!(error = %e, "import chunk failed");
            "the database failed; import the same file again: rows already stored are not created twice".to_owned()
        };
        let tenant = self.job.ctx.tenant_id.clone();
        let mut tx = self.job.capture.db().begin().await.map_err(db_error)?;
        let now = now_millis();
        let rows = std::mem::take(&mut self.good);
        if self.job.dry_run {
            self.counts.accepted += rows.len() as i64;
        } else {
            let stored = chunk::store_rows(
                &mut tx,
                &self.job.ctx,
                &self.attribution,
                self.schema.version,
                rows,
                now,
            )
            .await
            .map_err(db_error)?;
            self.counts.accepted += stored.created;
            self.counts.replayed += stored.existing;
        }
        for problem in &self.problems {
            imports::insert_problem(&mut tx, &tenant, &self.job.import_id, problem)
                .await
                .map_err(db_error)?;
        }
        imports::save_counts(
            &mut tx,
            &tenant,
            &self.job.import_id,
            self.counts,
            &self.encoding,
        )
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        let problems = std::mem::take(&mut self.problems);
        self.send(ImportState::Running, problems, "").await;
        Ok(())
    }

    async fn finish(mut self, failure: Option<String>) {
        let (state, error) = match &failure {
            None => (ImportState::Done, ""),
            Some(e) => (ImportState::Failed, e.as_str()),
        };
        let tenant = self.job.ctx.tenant_id.clone();
        let stored = async {
            let mut tx = self.job.capture.db().begin().await?;
            // Report lines of a failed chunk were not stored with it; keep them now.
            for problem in &self.problems {
                imports::insert_problem(&mut tx, &tenant, &self.job.import_id, problem).await?;
            }
            imports::save_counts(
                &mut tx,
                &tenant,
                &self.job.import_id,
                self.counts,
                &self.encoding,
            )
            .await?;
            imports::finish_import(
                &mut tx,
                &tenant,
                &self.job.import_id,
                state as i32,
                error,
                now_millis(),
            )
            .await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = stored {
            tracing::error!(import.id = %self.job.import_id, error = %e, "cannot record the end of an import");
        }
        tracing::info!(
            tenant.id = %tenant, import.id = %self.job.import_id, rows = self.counts.rows_read,
            accepted = self.counts.accepted, replayed = self.counts.replayed,
            rejected = self.counts.rejected, error, "import finished"
        );
        let problems = std::mem::take(&mut self.problems);
        self.send(state, problems, error).await;
    }

    async fn send(&self, state: ImportState, problems: Vec<ProblemRow>, error: &str) {
        let message = ImportProgress {
            import_id: self.job.import_id.clone(),
            state: state as i32,
            rows_read: self.counts.rows_read,
            accepted: self.counts.accepted,
            replayed: self.counts.replayed,
            rejected: self.counts.rejected,
            problems: problems.into_iter().map(problem_message).collect(),
            encoding: self.encoding.clone(),
            error: error.to_owned(),
        };
        // A client that went away can still read the report with GetImportReport.
        let _ = self.progress.send(Ok(message)).await;
    }
}

pub fn problem_message(p: ProblemRow) -> RowProblem {
    RowProblem {
        row: p.row_number,
        field: p.field,
        column: p.column_name,
        message: p.message,
    }
}

/// The key that makes a re-upload create nothing twice: the import key and the row
/// number, or without an import key the row's number and content.
fn row_key(import_key: &str, row: i64, cells: &[String]) -> String {
    if !import_key.is_empty() {
        return format!("import:{import_key}:{row}");
    }
    let mut hash = Sha256::new();
    hash.update(row.to_le_bytes());
    for cell in cells {
        hash.update(cell.as_bytes());
        hash.update([0x1f]);
    }
    format!("import-row:{}", hex::encode(&hash.finalize()[..16]))
}

/// Passes the upload's bytes on to the reader: xlsx as they are, CSV decoded to UTF-8
/// once its encoding is told from the first bytes. Returns the CSV's encoding.
async fn feed(
    mut inbound: impl Stream<Item = Result<ImportLeadsRequest, Status>> + Unpin,
    format: ImportFormat,
    chunks: mpsc::Sender<Chunk>,
) -> Result<Option<TextEncoding>, String> {
    let mut decoder: Option<TextDecoder> = None;
    let mut sniffed: Vec<u8> = Vec::new();
    while let Some(message) = inbound.next().await {
        let bytes = match message.map(|m| m.part) {
            Ok(Some(Part::Chunk(bytes))) => bytes,
            Ok(None) => continue,
            Ok(Some(Part::Metadata(_))) => {
                let error = "metadata may only be the first message of the upload".to_owned();
                let _ = chunks.send(Err(std::io::Error::other(error.clone()))).await;
                return Err(error);
            }
            Err(status) => {
                let error = format!("the upload broke off: {}", status.message());
                let _ = chunks.send(Err(std::io::Error::other(error.clone()))).await;
                return Err(error);
            }
        };
        let text = if format == ImportFormat::Xlsx {
            bytes
        } else if let Some(decoder) = decoder.as_mut() {
            decoder.decode(&bytes, false).into_bytes()
        } else {
            sniffed.extend_from_slice(&bytes);
            if sniffed.len() < SNIFF_BYTES {
                continue;
            }
            let mut fresh = TextDecoder::new(detect(&sniffed, false));
            let text = fresh.decode(&std::mem::take(&mut sniffed), false);
            decoder = Some(fresh);
            text.into_bytes()
        };
        if chunks.send(Ok(text)).await.is_err() {
            // The reader stopped (unreadable file); it reports why.
            return Ok(decoder.map(|d| d.encoding));
        }
    }
    if format == ImportFormat::Xlsx {
        return Ok(None);
    }
    let decoder = decoder.get_or_insert_with(|| TextDecoder::new(detect(&sniffed, true)));
    let rest = decoder.decode(&sniffed, true);
    let _ = chunks.send(Ok(rest.into_bytes())).await;
    Ok(Some(decoder.encoding))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_keys_follow_the_import_key_or_the_content() {
        let cells = vec!["张三".to_owned(), "139".to_owned()];
        assert_eq!(row_key("f00d", 7, &cells), "import:f00d:7");
        let a = row_key("", 7, &cells);
        assert_eq!(a, row_key("", 7, &cells));
        assert_ne!(a, row_key("", 8, &cells));
        assert_ne!(a, row_key("", 7, &["张三".to_owned(), "138".to_owned()]));
    }
}
