//! `import`: every row of a CSV file becomes a SubmitLead call. Keys derive from the
//! file's bytes and the row, so importing the same file again creates nothing twice.

use futures::{StreamExt, stream};
use serde_json::{Value, json};
use shangji_contracts::intake::{SubmitLeadRequest, SubmitLeadResponse};
use tonic::Status;

use crate::cli::ImportArgs;
use crate::client::Services;
use crate::csv_import::{self, ColumnTarget, ImportFile, ImportRow, LeadField};
use crate::error::{CliError, StatusDetails, is_rejection};
use crate::format::Table;
use crate::json;
use crate::output::Output;

/// Rows in flight at once: enough to hide latency, few enough not to flood intake.
const CONCURRENCY: usize = 16;

pub async fn run(services: &Services, output: Output, args: ImportArgs) -> Result<(), CliError> {
    let path = args.file.display().to_string();
    let bytes = tokio::fs::read(&args.file)
        .await
        .map_err(|e| CliError::Input {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    let file = csv_import::parse(&bytes).map_err(|e| CliError::Input {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    if args.dry_run {
        return output.either(|| dry_run_json(&path, &file), || dry_run_text(&path, &file));
    }

    let intake = services.intake().await?;
    let mut outcomes: Vec<RowOutcome> = stream::iter(file.rows.iter())
        .map(|row| {
            let mut intake = intake.clone();
            let request = SubmitLeadRequest {
                idempotency_key: file.idempotency_key(row.row),
                lead: Some(row.lead.clone()),
            };
            async move {
                let result = intake.submit_lead(request).await.map(|r| r.into_inner());
                RowOutcome { row, result }
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    outcomes.sort_by_key(|o| o.row.row);

    let report = Report::of(&outcomes);
    output.either(
        || report_json(&path, &file, &outcomes, &report),
        || report_text(&path, &file, &outcomes, &report),
    )?;
    if report.failed > 0 {
        return Err(CliError::Incomplete(format!(
            "{} rows could not be submitted for reasons other than their content; run the \
             same import again to retry them (rows already accepted are not duplicated)",
            report.failed
        )));
    }
    Ok(())
}

struct RowOutcome<'a> {
    row: &'a ImportRow,
    result: Result<SubmitLeadResponse, Status>,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Report {
    accepted: u64,
    replayed: u64,
    /// Refused because of the row's content.
    rejected: u64,
    /// Failed for other reasons (service unavailable, timeout).
    failed: u64,
}

impl Report {
    fn of(outcomes: &[RowOutcome<'_>]) -> Report {
        let mut report = Report::default();
        for outcome in outcomes {
            match &outcome.result {
                Ok(response) if response.replayed => report.replayed += 1,
                Ok(_) => report.accepted += 1,
                Err(status) if is_rejection(status.code()) => report.rejected += 1,
                Err(_) => report.failed += 1,
            }
        }
        report
    }
}

/// `lead.phone` -> the header of the column the phone came from, to point at the cell.
fn column_of(row: &ImportRow, field: &str) -> Option<String> {
    let name = field.strip_prefix("lead.").unwrap_or(field);
    let field = LeadField::from_proto_name(name)?;
    row.sources.get(&field).cloned()
}

/// One line per problem of a row: each field violation, or the status when there are none.
fn row_problems(row: &ImportRow, status: &Status) -> Vec<(Option<String>, Option<String>, String)> {
    let details = StatusDetails::of(status);
    if details.field_violations.is_empty() {
        return vec![(None, None, format!("{}: {}", details.code, details.message))];
    }
    details
        .field_violations
        .iter()
        .map(|(field, description)| {
            (
                Some(field.clone()),
                column_of(row, field),
                description.clone(),
            )
        })
        .collect()
}

fn report_text(
    path: &str,
    file: &ImportFile,
    outcomes: &[RowOutcome<'_>],
    report: &Report,
) -> String {
    let mut text = format!(
        "{path}: {} rows, {} accepted, {} replayed, {} rejected",
        file.rows.len(),
        report.accepted,
        report.replayed,
        report.rejected
    );
    if report.failed > 0 {
        text.push_str(&format!(", {} failed", report.failed));
    }
    if file.blank_rows > 0 {
        text.push_str(&format!(" ({} blank rows skipped)", file.blank_rows));
    }
    text.push('\n');
    let mut errors = Table::new(&["row", "field", "column", "error"]).right(&["row"]);
    for outcome in outcomes {
        if let Err(status) = &outcome.result {
            for (field, column, message) in row_problems(outcome.row, status) {
                errors.row(vec![
                    outcome.row.row.to_string(),
                    field.unwrap_or_else(|| "-".into()),
                    column.unwrap_or_else(|| "-".into()),
                    message,
                ]);
            }
        }
    }
    if !errors.is_empty() {
        text.push('\n');
        text.push_str(&errors.render());
    }
    text
}

fn report_json(
    path: &str,
    file: &ImportFile,
    outcomes: &[RowOutcome<'_>],
    report: &Report,
) -> Value {
    let mut leads = Vec::new();
    let mut errors = Vec::new();
    for outcome in outcomes {
        match &outcome.result {
            Ok(response) => leads.push(json!({
                "row": outcome.row.row,
                "lead_id": response.lead_id,
                "replayed": response.replayed,
            })),
            Err(status) => {
                let mut error = StatusDetails::of(status).to_json();
                error["row"] = json!(outcome.row.row);
                error["violations"] = row_problems(outcome.row, status)
                    .into_iter()
                    .filter(|(field, _, _)| field.is_some())
                    .map(|(field, column, description)| {
                        json!({ "field": field, "column": column, "description": description })
                    })
                    .collect();
                errors.push(error);
            }
        }
    }
    json!({
        "file": path,
        "rows": file.rows.len(),
        "blank_rows": file.blank_rows,
        "accepted": report.accepted,
        "replayed": report.replayed,
        "rejected": report.rejected,
        "failed": report.failed,
        "leads": leads,
        "errors": errors,
    })
}

fn target_text(target: &ColumnTarget) -> String {
    match target {
        ColumnTarget::Field(field) => field.proto_name().to_owned(),
        ColumnTarget::Custom(key) => format!("custom field `{key}`"),
    }
}

fn dry_run_text(path: &str, file: &ImportFile) -> String {
    let mut text = format!("{path}: {} rows would be submitted", file.rows.len());
    if file.blank_rows > 0 {
        text.push_str(&format!(" ({} blank rows skipped)", file.blank_rows));
    }
    text.push_str(&format!(
        "; idempotency keys {}:<row>\n\ncolumns\n",
        file.fingerprint
    ));
    let mut columns = Table::new(&["header", "goes to"]);
    for column in &file.columns {
        columns.row(vec![column.header.clone(), target_text(&column.target)]);
    }
    text.push_str(&columns.render());
    text.push_str("\nrows\n");
    for row in &file.rows {
        let lead = &row.lead;
        let mut cells: Vec<String> = LeadField::ALL
            .into_iter()
            .filter(|field| row.sources.contains_key(field))
            .map(|field| format!("{}={}", field.proto_name(), field.value(lead)))
            .collect();
        cells.extend(lead.custom_fields.iter().map(|(k, v)| format!("[{k}]={v}")));
        text.push_str(&format!("row {}: {}\n", row.row, cells.join("  ")));
    }
    text
}

fn dry_run_json(path: &str, file: &ImportFile) -> Value {
    json!({
        "file": path,
        "dry_run": true,
        "blank_rows": file.blank_rows,
        "columns": file.columns.iter().map(|c| match &c.target {
            ColumnTarget::Field(field) => json!({ "header": c.header, "field": field.proto_name() }),
            ColumnTarget::Custom(key) => json!({ "header": c.header, "custom_field": key }),
        }).collect::<Vec<_>>(),
        "rows": file.rows.iter().map(|row| json!({
            "row": row.row,
            "idempotency_key": file.idempotency_key(row.row),
            "lead": json::lead(&row.lead),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;
    use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

    fn sample() -> ImportFile {
        csv_import::parse("姓名,电话,微信\n张三,123,zs\n李四,13900000000,\n".as_bytes()).unwrap()
    }

    fn bad_phone() -> Status {
        Status::with_error_details(
            Code::InvalidArgument,
            "invalid request: lead.phone: must contain 7 to 15 digits",
            ErrorDetails::with_bad_request(vec![FieldViolation::new(
                "lead.phone",
                "must contain 7 to 15 digits",
            )]),
        )
    }

    #[test]
    fn rejected_rows_name_the_row_field_and_column() {
        let file = sample();
        let outcomes = vec![
            RowOutcome {
                row: &file.rows[0],
                result: Err(bad_phone()),
            },
            RowOutcome {
                row: &file.rows[1],
                result: Ok(SubmitLeadResponse {
                    lead_id: "lead-2".into(),
                    replayed: false,
                }),
            },
        ];
        let report = Report::of(&outcomes);
        assert_eq!(
            report,
            Report {
                accepted: 1,
                replayed: 0,
                rejected: 1,
                failed: 0
            }
        );
        let text = report_text("leads.csv", &file, &outcomes, &report);
        assert!(
            text.starts_with("leads.csv: 2 rows, 1 accepted, 0 replayed, 1 rejected\n"),
            "{text}"
        );
        assert!(
            text.contains("  2  lead.phone  电话    must contain 7 to 15 digits"),
            "{text}"
        );
        let json = report_json("leads.csv", &file, &outcomes, &report);
        assert_eq!(json["errors"][0]["row"], 2);
        assert_eq!(json["errors"][0]["violations"][0]["column"], "电话");
        assert_eq!(json["leads"][0]["lead_id"], "lead-2");
    }

    #[test]
    fn unavailable_rows_count_as_failed_not_rejected() {
        let file = sample();
        let outcomes = vec![RowOutcome {
            row: &file.rows[0],
            result: Err(Status::unavailable("intake is restarting")),
        }];
        let report = Report::of(&outcomes);
        assert_eq!(report.failed, 1);
        assert_eq!(report.rejected, 0);
        let text = report_text("x.csv", &file, &outcomes, &report);
        assert!(text.contains("UNAVAILABLE: intake is restarting"), "{text}");
    }

    #[test]
    fn dry_run_shows_the_mapping_and_the_leads() {
        let file = sample();
        let text = dry_run_text("leads.csv", &file);
        assert!(text.contains("姓名    contact_name"), "{text}");
        assert!(text.contains("微信    custom field `微信`"), "{text}");
        assert!(
            text.contains("row 2: contact_name=张三  phone=123  [微信]=zs"),
            "{text}"
        );
        assert!(
            text.contains("row 3: contact_name=李四  phone=13900000000\n"),
            "{text}"
        );
        let json = dry_run_json("leads.csv", &file);
        assert_eq!(
            json["rows"][0]["idempotency_key"],
            format!("{}:2", file.fingerprint)
        );
        assert_eq!(json["columns"][2]["custom_field"], "微信");
    }
}
