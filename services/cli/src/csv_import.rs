//! Reads a spreadsheet export (CSV, UTF-8, with or without BOM) into leads: header
//! cells name the lead fields in English or Chinese, anything else becomes a custom
//! field, so no column of the customer's file is lost. Pure: bytes in, leads out.
//!
//! Kept apart from the submitting code so the streaming import RPC can reuse it.

use std::collections::{BTreeMap, HashSet};

use sha2::{Digest, Sha256};
use shangji_contracts::common::Lead;

/// A field of [`Lead`] a column can fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LeadField {
    ContactName,
    Phone,
    Email,
    Company,
    Title,
    Region,
    Industry,
    Source,
    Need,
    Budget,
    Timeline,
}

impl LeadField {
    pub const ALL: [LeadField; 11] = [
        LeadField::ContactName,
        LeadField::Phone,
        LeadField::Email,
        LeadField::Company,
        LeadField::Title,
        LeadField::Region,
        LeadField::Industry,
        LeadField::Source,
        LeadField::Need,
        LeadField::Budget,
        LeadField::Timeline,
    ];

    /// The field's name in the proto (`shangji.common.v1.Lead`).
    pub fn proto_name(self) -> &'static str {
        match self {
            LeadField::ContactName => "contact_name",
            LeadField::Phone => "phone",
            LeadField::Email => "email",
            LeadField::Company => "company",
            LeadField::Title => "title",
            LeadField::Region => "region",
            LeadField::Industry => "industry",
            LeadField::Source => "source",
            LeadField::Need => "need",
            LeadField::Budget => "budget",
            LeadField::Timeline => "timeline",
        }
    }

    pub fn from_proto_name(name: &str) -> Option<LeadField> {
        LeadField::ALL.into_iter().find(|f| f.proto_name() == name)
    }

    /// The field a header cell names, in English (any case; spaces, dashes and
    /// underscores alike) or Chinese. `None`: the column is a custom field.
    pub fn from_header(header: &str) -> Option<LeadField> {
        let key: String = header
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '_' | '-' | '　'))
            .flat_map(char::to_lowercase)
            .collect();
        let field = match key.as_str() {
            "contactname" | "name" | "contact" | "姓名" | "联系人" | "联系人姓名" => {
                LeadField::ContactName
            }
            "phone" | "mobile" | "tel" | "telephone" | "电话" | "手机" | "手机号" | "联系电话" => {
                LeadField::Phone
            }
            "email" | "mail" | "邮箱" | "电子邮箱" | "邮件" => LeadField::Email,
            "company" | "公司" | "公司名称" | "单位" => LeadField::Company,
            "title" | "jobtitle" | "position" | "职位" | "职务" => LeadField::Title,
            "region" | "地区" | "区域" => LeadField::Region,
            "industry" | "行业" => LeadField::Industry,
            "source" | "来源" | "渠道" => LeadField::Source,
            "need" | "needs" | "requirement" | "需求" => LeadField::Need,
            "budget" | "预算" => LeadField::Budget,
            "timeline" | "时间" | "时间计划" | "采购时间" => LeadField::Timeline,
            _ => return None,
        };
        Some(field)
    }

    /// This field's value in `lead`.
    pub fn value(self, lead: &Lead) -> &str {
        match self {
            LeadField::ContactName => &lead.contact_name,
            LeadField::Phone => &lead.phone,
            LeadField::Email => &lead.email,
            LeadField::Company => &lead.company,
            LeadField::Title => &lead.title,
            LeadField::Region => &lead.region,
            LeadField::Industry => &lead.industry,
            LeadField::Source => &lead.source,
            LeadField::Need => &lead.need,
            LeadField::Budget => &lead.budget,
            LeadField::Timeline => &lead.timeline,
        }
    }

    fn slot(self, lead: &mut Lead) -> &mut String {
        match self {
            LeadField::ContactName => &mut lead.contact_name,
            LeadField::Phone => &mut lead.phone,
            LeadField::Email => &mut lead.email,
            LeadField::Company => &mut lead.company,
            LeadField::Title => &mut lead.title,
            LeadField::Region => &mut lead.region,
            LeadField::Industry => &mut lead.industry,
            LeadField::Source => &mut lead.source,
            LeadField::Need => &mut lead.need,
            LeadField::Budget => &mut lead.budget,
            LeadField::Timeline => &mut lead.timeline,
        }
    }
}

/// Where one column's cells go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnTarget {
    Field(LeadField),
    /// A custom field under this key (the header, made unique).
    Custom(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The header cell as written (trimmed); `column_<n>` when it was empty.
    pub header: String,
    pub target: ColumnTarget,
    /// Unique key among the file's columns: the custom-field key for this column, also
    /// used when a second column names a field the row already has a value for.
    key: String,
}

/// One data row turned into a lead.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    /// The row as a spreadsheet numbers it: the header is row 1.
    pub row: u64,
    pub lead: Lead,
    /// Which column (header) filled each lead field, to point at the cell to fix.
    pub sources: BTreeMap<LeadField, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImportFile {
    pub columns: Vec<Column>,
    /// Rows with at least one non-empty cell, in file order.
    pub rows: Vec<ImportRow>,
    /// Rows with only empty cells, skipped.
    pub blank_rows: u64,
    /// First 16 hex digits of the SHA-256 of the file's bytes.
    pub fingerprint: String,
}

impl ImportFile {
    /// The idempotency key of a row: the same file re-imported gives the same keys, so
    /// nothing is created twice; a changed file gives new ones.
    pub fn idempotency_key(&self, row: u64) -> String {
        format!("{}:{row}", self.fingerprint)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportFileError {
    #[error(
        "the file is not UTF-8 (invalid bytes on line {line}); save it as \"CSV UTF-8\" and try again"
    )]
    NotUtf8 { line: u64 },
    #[error("the file is empty: expected a header row naming the columns")]
    NoHeader,
    #[error("not a readable CSV: {0}")]
    Malformed(String),
}

const BOM: &str = "\u{feff}";

/// Parses the whole file. Empty cells set nothing; rows with only empty cells are
/// skipped; cells beyond the header row become custom fields `column_<n>`.
pub fn parse(bytes: &[u8]) -> Result<ImportFile, ImportFileError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ImportFileError::NotUtf8 {
        line: 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64,
    })?;
    let text = text.strip_prefix(BOM).unwrap_or(text);

    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        None => return Err(ImportFileError::NoHeader),
        Some(record) => record.map_err(|e| ImportFileError::Malformed(e.to_string()))?,
    };
    if header.iter().all(|cell| cell.trim().is_empty()) {
        return Err(ImportFileError::NoHeader);
    }
    let mut columns = plan_columns(header.iter());

    let mut rows = Vec::new();
    let mut blank_rows = 0;
    let mut rows_counter = SpreadsheetRows::new(text.as_bytes(), &header);
    for record in records {
        let record = record.map_err(|e| ImportFileError::Malformed(e.to_string()))?;
        let row = rows_counter.row_of(&record);

        while columns.len() < record.len() {
            let n = columns.len() + 1;
            columns.push(Column {
                header: format!("column_{n}"),
                target: ColumnTarget::Custom(format!("column_{n}")),
                key: format!("column_{n}"),
            });
        }
        match lead_from_cells(&columns, record.iter()) {
            Some((lead, sources)) => rows.push(ImportRow { row, lead, sources }),
            None => blank_rows += 1,
        }
    }

    Ok(ImportFile {
        columns,
        rows,
        blank_rows,
        fingerprint: fingerprint(bytes),
    })
}

/// Numbers records as a spreadsheet shows them: the header is row 1, a blank line is a
/// row of its own, and a quoted cell with line breaks is still one row.
///
/// The reader's own line numbers skip blank lines and miscount `\r\n`, so rows are
/// counted here from the text: line breaks before a record's first byte, minus the
/// breaks inside earlier quoted cells.
struct SpreadsheetRows<'a> {
    text: &'a [u8],
    /// Bytes before this offset have been counted.
    scanned: usize,
    /// Physical line of `scanned`, relative to the header's line (1).
    line: u64,
    breaks_inside_cells: u64,
}

impl<'a> SpreadsheetRows<'a> {
    fn new(text: &'a [u8], header: &csv::StringRecord) -> SpreadsheetRows<'a> {
        let mut rows = SpreadsheetRows {
            text,
            scanned: 0,
            line: 1,
            breaks_inside_cells: 0,
        };
        // Blank lines before the header do not count: the header is row 1.
        rows.scanned = rows.record_start(header);
        rows.breaks_inside_cells = count_breaks(header);
        rows
    }

    /// Where the record really starts: the reader's position may sit before the line
    /// break that ended the previous record and before skipped blank lines. A record
    /// never starts with a line break (such a cell would be quoted).
    fn record_start(&self, record: &csv::StringRecord) -> usize {
        let mut start = record
            .position()
            .map_or(self.scanned, |p| {
                usize::try_from(p.byte()).unwrap_or(usize::MAX)
            })
            .clamp(self.scanned, self.text.len());
        while start < self.text.len() && matches!(self.text[start], b'\r' | b'\n') {
            start += 1;
        }
        start
    }

    fn row_of(&mut self, record: &csv::StringRecord) -> u64 {
        let start = self.record_start(record);
        self.line += self.text[self.scanned..start]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        self.scanned = start;
        let row = self.line.saturating_sub(self.breaks_inside_cells);
        self.breaks_inside_cells += count_breaks(record);
        row
    }
}

fn count_breaks(record: &csv::StringRecord) -> u64 {
    record
        .iter()
        .map(|cell| cell.bytes().filter(|b| *b == b'\n').count() as u64)
        .sum()
}

/// First 16 hex digits of SHA-256 over the raw bytes (BOM included).
pub fn fingerprint(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    hex::encode(&digest[..8])
}

/// Decides once, from the header row, where each column goes and under which unique key.
fn plan_columns<'a>(headers: impl Iterator<Item = &'a str>) -> Vec<Column> {
    let mut seen = HashSet::new();
    headers
        .enumerate()
        .map(|(i, raw)| {
            let trimmed = raw.trim().trim_start_matches(BOM).trim();
            let header = if trimmed.is_empty() {
                format!("column_{}", i + 1)
            } else {
                trimmed.to_owned()
            };
            let mut key = header.clone();
            let mut suffix = 2;
            while !seen.insert(key.clone()) {
                key = format!("{header}_{suffix}");
                suffix += 1;
            }
            let target = match LeadField::from_header(&header) {
                Some(field) => ColumnTarget::Field(field),
                None => ColumnTarget::Custom(key.clone()),
            };
            Column {
                header,
                target,
                key,
            }
        })
        .collect()
}

type RowLead = (Lead, BTreeMap<LeadField, String>);

/// The lead of one row, or `None` when every cell is empty. When two columns name the
/// same field, the first non-empty one fills it and the other is kept as a custom field.
fn lead_from_cells<'a>(
    columns: &[Column],
    cells: impl Iterator<Item = &'a str>,
) -> Option<RowLead> {
    let mut lead = Lead::default();
    let mut sources = BTreeMap::new();
    let mut any = false;
    for (column, cell) in columns.iter().zip(cells) {
        if cell.trim().is_empty() {
            continue;
        }
        any = true;
        match &column.target {
            ColumnTarget::Field(field) if !sources.contains_key(field) => {
                *field.slot(&mut lead) = cell.to_owned();
                sources.insert(*field, column.header.clone());
            }
            ColumnTarget::Field(_) | ColumnTarget::Custom(_) => {
                lead.custom_fields
                    .insert(column.key.clone(), cell.to_owned());
            }
        }
    }
    any.then_some((lead, sources))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only_row(csv: &str) -> ImportRow {
        let file = parse(csv.as_bytes()).unwrap();
        assert_eq!(file.rows.len(), 1, "{file:?}");
        file.rows.into_iter().next().unwrap()
    }

    #[test]
    fn english_headers_map_to_lead_fields() {
        let row = only_row(
            "contact_name,Phone,EMAIL,company,title,region,industry,source,need,budget,timeline\n\
             Wang Wei,13800138000,wang@acme.cn,Acme,CTO,Shanghai,Manufacturing,expo,MES,50万,Q3\n",
        );
        let lead = row.lead;
        assert_eq!(lead.contact_name, "Wang Wei");
        assert_eq!(lead.phone, "13800138000");
        assert_eq!(lead.email, "wang@acme.cn");
        assert_eq!(lead.company, "Acme");
        assert_eq!(lead.title, "CTO");
        assert_eq!(lead.region, "Shanghai");
        assert_eq!(lead.industry, "Manufacturing");
        assert_eq!(lead.source, "expo");
        assert_eq!(lead.need, "MES");
        assert_eq!(lead.budget, "50万");
        assert_eq!(lead.timeline, "Q3");
        assert!(lead.custom_fields.is_empty());
        assert_eq!(row.row, 2);
        assert_eq!(row.sources[&LeadField::Phone], "Phone");
    }

    #[test]
    fn alternative_english_names() {
        let row = only_row("Name,Mobile,Contact Name\nA,139,B\n");
        assert_eq!(row.lead.contact_name, "A");
        assert_eq!(row.lead.phone, "139");
        // The second name column is kept, not dropped.
        assert_eq!(row.lead.custom_fields["Contact Name"], "B");
    }

    #[test]
    fn chinese_headers_map_to_lead_fields() {
        let row = only_row(
            "姓名,手机,邮箱,公司,职位,区域,行业,来源,需求,预算,时间计划\n\
             王先生,13800138000,w@x.cn,华为,经理,华东,制造,展会,ERP,100万,三个月内\n",
        );
        let lead = row.lead;
        assert_eq!(lead.contact_name, "王先生");
        assert_eq!(lead.phone, "13800138000");
        assert_eq!(lead.email, "w@x.cn");
        assert_eq!(lead.company, "华为");
        assert_eq!(lead.title, "经理");
        assert_eq!(lead.region, "华东");
        assert_eq!(lead.industry, "制造");
        assert_eq!(lead.source, "展会");
        assert_eq!(lead.need, "ERP");
        assert_eq!(lead.budget, "100万");
        assert_eq!(lead.timeline, "三个月内");
        assert!(lead.custom_fields.is_empty());
        for (header, field) in [
            ("联系人", LeadField::ContactName),
            ("电话", LeadField::Phone),
            ("地区", LeadField::Region),
            ("时间", LeadField::Timeline),
        ] {
            assert_eq!(LeadField::from_header(header), Some(field));
        }
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_header() {
        let csv = "\u{feff}姓名,电话\n李四,13900000000\n";
        let file = parse(csv.as_bytes()).unwrap();
        assert_eq!(file.columns[0].header, "姓名");
        assert_eq!(file.rows[0].lead.contact_name, "李四");
        assert!(file.rows[0].lead.custom_fields.is_empty());
    }

    #[test]
    fn unknown_headers_become_custom_fields() {
        let row = only_row("姓名,微信,备注,备注\n张三,zs01,老客户介绍,VIP\n");
        assert_eq!(row.lead.contact_name, "张三");
        let custom: Vec<_> = row
            .lead
            .custom_fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            custom,
            vec![("备注", "老客户介绍"), ("备注_2", "VIP"), ("微信", "zs01")]
        );
    }

    #[test]
    fn empty_cells_set_nothing_and_blank_rows_are_skipped() {
        let file = parse("name,phone,微信\n张三,,\n,,\n , ,\n李四,139,\n".as_bytes()).unwrap();
        assert_eq!(file.rows.len(), 2);
        assert_eq!(file.blank_rows, 2);
        assert_eq!(file.rows[0].lead.phone, "");
        assert!(file.rows[0].lead.custom_fields.is_empty());
        assert!(!file.rows[0].sources.contains_key(&LeadField::Phone));
        assert_eq!(file.rows[1].lead.contact_name, "李四");
        assert_eq!(file.rows[1].row, 5);
    }

    #[test]
    fn row_numbers_are_spreadsheet_rows() {
        // Header is row 1; a quoted cell spanning lines stays one row; a blank line
        // is a row of its own; Windows line ends count once.
        let rows = |csv: &str| -> Vec<(u64, String)> {
            parse(csv.as_bytes())
                .unwrap()
                .rows
                .into_iter()
                .map(|r| (r.row, r.lead.contact_name))
                .collect()
        };
        let expected = vec![
            (2, "A".to_owned()),
            (3, "B".to_owned()),
            (5, "C".to_owned()),
        ];
        let unix = "name,need\nA,\"line one\nline two\"\nB,x\n\nC,y\n";
        assert_eq!(rows(unix), expected);
        assert_eq!(rows(&unix.replace('\n', "\r\n")), expected);
        // Blank lines before the header, a quoted header cell with a break, no final newline.
        assert_eq!(
            rows("\n\nname,\"ne\ned\"\nA,\"x\ny\"\nB,x\n\nC,y"),
            expected
        );
        let file = parse(unix.as_bytes()).unwrap();
        assert_eq!(file.rows[0].lead.need, "line one\nline two");
    }

    #[test]
    fn cells_beyond_the_header_are_kept() {
        let row = only_row("name\nA,extra\n");
        assert_eq!(row.lead.custom_fields["column_2"], "extra");
    }

    #[test]
    fn empty_files_and_headerless_files_are_refused() {
        assert_eq!(parse(b""), Err(ImportFileError::NoHeader));
        assert_eq!(parse("\u{feff}".as_bytes()), Err(ImportFileError::NoHeader));
        assert_eq!(parse(b",,\n"), Err(ImportFileError::NoHeader));
        let header_only = parse(b"name,phone\n").unwrap();
        assert!(header_only.rows.is_empty());
    }

    #[test]
    fn files_that_are_not_utf8_are_refused_with_the_line() {
        // "张三" in GBK, as an old Excel saves it.
        let mut bytes = b"name\nok\n".to_vec();
        bytes.extend_from_slice(&[0xD5, 0xC5, 0xC8, 0xFD, b'\n']);
        assert_eq!(parse(&bytes), Err(ImportFileError::NotUtf8 { line: 3 }));
    }

    #[test]
    fn keys_depend_on_file_bytes_and_row() {
        let a = parse(b"name\nA\nB\n").unwrap();
        let again = parse(b"name\nA\nB\n").unwrap();
        let changed = parse(b"name\nA\nC\n").unwrap();
        assert_eq!(a.fingerprint.len(), 16);
        assert!(a.fingerprint.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a.idempotency_key(2), again.idempotency_key(2));
        assert_eq!(a.idempotency_key(2), format!("{}:2", a.fingerprint));
        assert_ne!(a.idempotency_key(2), a.idempotency_key(3));
        assert_ne!(a.fingerprint, changed.fingerprint);
    }

    #[test]
    fn proto_names_round_trip() {
        for field in LeadField::ALL {
            assert_eq!(LeadField::from_proto_name(field.proto_name()), Some(field));
            assert_eq!(LeadField::from_header(field.proto_name()), Some(field));
        }
    }
}
