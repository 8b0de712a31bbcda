//! `import`: uploads a CSV or xlsx file to intake's `ImportLeads`, shows a progress bar
//! while intake reads it, then prints the per-row report. The import key is the file's
//! fingerprint, so importing the same file again creates nothing twice.

use std::sync::Arc;

use futures::StreamExt as _;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use shangji_contracts::intake::{ImportMetadata, ImportProgress, ImportState, RowProblem};

use crate::cli::ImportArgs;
use crate::client::Services;
use crate::csv_import::{self, fingerprint_file, upload_stream};
use crate::error::{CliError, rpc_failed};
use crate::format::Table;
use crate::output::Output;

pub async fn run(services: &Services, output: Output, args: ImportArgs) -> Result<(), CliError> {
    let path = args.file.display().to_string();
    let unreadable = |e: std::io::Error| CliError::Input {
        path: path.clone(),
        reason: e.to_string(),
    };
    let (fingerprint, size) = fingerprint_file(&args.file).await.map_err(unreadable)?;
    let file = tokio::fs::File::open(&args.file)
        .await
        .map_err(unreadable)?;
    let file_name = args
        .file
        .file_name()
        .map_or_else(|| path.clone(), |n| n.to_string_lossy().into_owned());
    let metadata = ImportMetadata {
        file_name,
        format: csv_import::format_of(&args.file) as i32,
        dry_run: args.dry_run,
        import_key: fingerprint,
        ..Default::default()
    };

    let bar = progress_bar(output, size);
    let (read_error_tx, read_error) = tokio::sync::oneshot::channel();
    let uploaded = {
        let bar = bar.clone();
        move |n: usize| bar.inc(n as u64)
    };
    let requests = upload_stream(metadata, file, uploaded, read_error_tx);
    let mut intake = services.intake().await?;
    let import = async {
        let mut progress = intake
            .import_leads(requests)
            .await
            .map_err(rpc_failed("ImportLeads"))?
            .into_inner();
        let mut report = Report::default();
        while let Some(message) = progress.next().await {
            let message = message.map_err(rpc_failed("ImportLeads"))?;
            bar.set_message(format!(
                "{} rows: {} accepted, {} replayed, {} rejected",
                message.rows_read, message.accepted, message.replayed, message.rejected
            ));
            report.absorb(message);
        }
        Ok::<Report, CliError>(report)
    };
    let report = tokio::select! {
        report = import => report?,
        // The file could not be read to the end: the upload is abandoned, so intake
        // records a broken upload instead of importing half a file.
        Ok(e) = read_error => return Err(unreadable(e)),
    };
    bar.finish_and_clear();

    output.either(
        || report_json(&path, &report, args.dry_run),
        || report_text(&path, &report, args.dry_run),
    )?;
    match report.last.state() {
        ImportState::Done => Ok(()),
        _ => Err(CliError::Incomplete(format!(
            "the import stopped: {}; run the same import again (rows already accepted are \
             not created twice)",
            if report.last.error.is_empty() {
                "intake ended the upload without a final report"
            } else {
                &report.last.error
            }
        ))),
    }
}

/// A bar over the bytes uploaded, with intake's counts as its message; hidden when the
/// output is JSON or nobody watches stderr.
fn progress_bar(output: Output, size: u64) -> Arc<ProgressBar> {
    if output.json || !output.stderr_is_terminal() {
        return Arc::new(ProgressBar::hidden());
    }
    let bar = ProgressBar::new(size);
    // The template is a constant known to parse.
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} [{bar:30}] {bytes}/{total_bytes} {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    Arc::new(bar)
}

/// What intake reported: the last counts and every problem line.
#[derive(Debug, Default)]
struct Report {
    last: ImportProgress,
    problems: Vec<RowProblem>,
}

impl Report {
    fn absorb(&mut self, mut message: ImportProgress) {
        self.problems.append(&mut message.problems);
        self.last = message;
    }
}

fn report_text(path: &str, report: &Report, dry_run: bool) -> String {
    let last = &report.last;
    let mut text = if dry_run {
        format!(
            "{path}: dry run, {} rows, {} would be accepted, {} rejected",
            last.rows_read, last.accepted, last.rejected
        )
    } else {
        format!(
            "{path}: {} rows, {} accepted, {} replayed, {} rejected",
            last.rows_read, last.accepted, last.replayed, last.rejected
        )
    };
    if !last.encoding.is_empty() {
        text.push_str(&format!(" ({})", last.encoding));
    }
    text.push_str(&format!("\nimport {}\n", last.import_id));
    let mut errors = Table::new(&["row", "field", "column", "error"]).right(&["row"]);
    for p in &report.problems {
        errors.row(vec![
            p.row.to_string(),
            dash(&p.field),
            dash(&p.column),
            p.message.clone(),
        ]);
    }
    if !errors.is_empty() {
        text.push('\n');
        text.push_str(&errors.render());
    }
    text
}

fn dash(text: &str) -> String {
    if text.is_empty() {
        "-".to_owned()
    } else {
        text.to_owned()
    }
}

fn report_json(path: &str, report: &Report, dry_run: bool) -> Value {
    let last = &report.last;
    json!({
        "file": path,
        "dry_run": dry_run,
        "import_id": last.import_id,
        "state": crate::format::enum_label(last.state().as_str_name(), "IMPORT_STATE_"),
        "encoding": last.encoding,
        "rows": last.rows_read,
        "accepted": last.accepted,
        "replayed": last.replayed,
        "rejected": last.rejected,
        "error": last.error,
        "errors": report.problems.iter().map(|p| json!({
            "row": p.row,
            "field": p.field,
            "column": p.column,
            "message": p.message,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut report = Report::default();
        report.absorb(ImportProgress {
            import_id: "imp_1".into(),
            state: ImportState::Running as i32,
            rows_read: 2,
            accepted: 1,
            problems: vec![RowProblem {
                row: 3,
                field: "lead.phone".into(),
                column: "电话".into(),
                message: "must contain 7 to 15 digits".into(),
            }],
            ..Default::default()
        });
        report.absorb(ImportProgress {
            import_id: "imp_1".into(),
            state: ImportState::Done as i32,
            rows_read: 3,
            accepted: 2,
            rejected: 1,
            encoding: "GBK".into(),
            ..Default::default()
        });
        report
    }

    #[test]
    fn the_report_names_the_row_field_and_column() {
        let report = sample();
        let text = report_text("leads.csv", &report, false);
        assert!(
            text.starts_with("leads.csv: 3 rows, 2 accepted, 0 replayed, 1 rejected (GBK)\n"),
            "{text}"
        );
        assert!(text.contains("import imp_1"), "{text}");
        assert!(
            text.contains("  3  lead.phone  电话    must contain 7 to 15 digits"),
            "{text}"
        );
        let json = report_json("leads.csv", &report, false);
        assert_eq!(json["state"], "done");
        assert_eq!(json["errors"][0]["row"], 3);
        assert_eq!(json["errors"][0]["column"], "电话");
        let dry = report_text("leads.csv", &report, true);
        assert!(
            dry.starts_with("leads.csv: dry run, 3 rows, 2 would be accepted, 1 rejected"),
            "{dry}"
        );
    }
}
