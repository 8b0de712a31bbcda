//! Reading an uploaded file row by row, on a blocking thread, while its bytes are still
//! arriving. CSV text (already decoded to UTF-8) is parsed as it streams in. An xlsx
//! file is a zip archive whose index sits at the end, so its bytes are spooled to an
//! anonymous temporary file first (disk, not memory); the sheet is then read cell by
//! cell with calamine's streaming reader. Only the workbook's shared-strings table is
//! held in memory whole, as calamine requires.

use std::io::{BufReader, Read, Seek, SeekFrom};

use calamine::{DataRef, Reader as _, Xlsx};
use tokio::sync::mpsc;

/// Rows sent to the writer at a time.
const ROWS_PER_MESSAGE: usize = 256;

/// One row of the file, numbered as a spreadsheet shows it (first line is row 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRow {
    pub row: i64,
    pub cells: Vec<String>,
}

pub type RowBatch = Result<Vec<FileRow>, String>;

/// A chunk of the upload, or the reason it broke off (so a truncated file fails
/// instead of ending early with a half row).
pub type Chunk = std::io::Result<Vec<u8>>;

/// Blocking `Read` over the chunks arriving on a channel.
pub struct ChunkReader {
    chunks: mpsc::Receiver<Chunk>,
    current: Vec<u8>,
    offset: usize,
}

impl ChunkReader {
    pub fn new(chunks: mpsc::Receiver<Chunk>) -> ChunkReader {
        ChunkReader {
            chunks,
            current: Vec::new(),
            offset: 0,
        }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.offset >= self.current.len() {
            match self.chunks.blocking_recv() {
                Some(chunk) => {
                    self.current = chunk?;
                    self.offset = 0;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.offset);
        buf[..n].copy_from_slice(&self.current[self.offset..self.offset + n]);
        self.offset += n;
        Ok(n)
    }
}

/// Sends rows in batches; false once the receiver is gone (the import stopped).
struct RowSender {
    tx: mpsc::Sender<RowBatch>,
    pending: Vec<FileRow>,
}

impl RowSender {
    fn push(&mut self, row: FileRow) -> bool {
        self.pending.push(row);
        if self.pending.len() >= ROWS_PER_MESSAGE {
            return self.flush();
        }
        true
    }

    fn flush(&mut self) -> bool {
        if self.pending.is_empty() {
            return true;
        }
        let batch = std::mem::take(&mut self.pending);
        self.tx.blocking_send(Ok(batch)).is_ok()
    }

    fn fail(&mut self, error: String) {
        if self.flush() {
            let _ = self.tx.blocking_send(Err(error));
        }
    }
}

/// Parses UTF-8 CSV text. Rows are numbered by record: the header is row 1, a quoted
/// cell spanning lines stays one row (as a spreadsheet shows it), and blank lines, which
/// carry nothing, are skipped without a number.
pub fn read_csv(text: ChunkReader, rows: mpsc::Sender<RowBatch>) {
    let mut sender = RowSender {
        tx: rows,
        pending: Vec::new(),
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text);
    let mut record = csv::StringRecord::new();
    let mut row = 0_i64;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                row += 1;
                let cells = record.iter().map(str::to_owned).collect();
                if !sender.push(FileRow { row, cells }) {
                    return;
                }
            }
            Err(e) => {
                sender.fail(format!("not a readable CSV file: {e}"));
                return;
            }
        }
    }
    sender.flush();
}

/// Spools the xlsx bytes to a temporary file, then reads the first sheet row by row.
pub fn read_xlsx(mut bytes: ChunkReader, rows: mpsc::Sender<RowBatch>) {
    let mut sender = RowSender {
        tx: rows,
        pending: Vec::new(),
    };
    match stream_xlsx(&mut bytes, &mut sender) {
        Ok(()) => {
            sender.flush();
        }
        Err(error) => sender.fail(error),
    }
}

fn stream_xlsx(bytes: &mut ChunkReader, sender: &mut RowSender) -> Result<(), String> {
    let spool = |e: std::io::Error| format!("cannot spool the upload: {e}");
    let mut file = tempfile::tempfile().map_err(spool)?;
    std::io::copy(bytes, &mut file).map_err(spool)?;
    file.seek(SeekFrom::Start(0)).map_err(spool)?;
    let mut workbook =
        Xlsx::new(BufReader::new(file)).map_err(|e| format!("not a readable xlsx file: {e}"))?;
    let Some(sheet) = workbook.sheet_names().first().cloned() else {
        return Err("the workbook has no sheet".into());
    };
    let unreadable = |e: calamine::XlsxError| format!("cannot read sheet `{sheet}`: {e}");
    let mut cells = workbook
        .worksheet_cells_reader(&sheet)
        .map_err(unreadable)?;
    // Cells come row by row, left to right; a row is complete when the next one starts.
    let mut current: Option<FileRow> = None;
    while let Some(cell) = cells.next_cell().map_err(unreadable)? {
        let (r, c) = cell.get_position();
        let row = i64::from(r) + 1;
        if current.as_ref().is_some_and(|cur| cur.row != row)
            && let Some(done) = current.take()
            && !sender.push(done)
        {
            return Ok(()); // the import stopped reading
        }
        let cur = current.get_or_insert_with(|| FileRow {
            row,
            cells: Vec::new(),
        });
        // A sheet has at most 16,384 columns (XFD); a cell reference past that is a
        // damaged or crafted file, and growing the row to it would take gigabytes.
        if c >= XLSX_MAX_COLUMNS {
            return Err(format!(
                "row {row}: a cell in column {} lies beyond the last column a sheet can have ({XLSX_MAX_COLUMNS})",
                u64::from(c) + 1
            ));
        }
        let c = c as usize;
        if cur.cells.len() <= c {
            cur.cells.resize(c + 1, String::new());
        }
        cur.cells[c] = cell_text(cell.get_value());
    }
    if let Some(done) = current {
        sender.push(done);
    }
    Ok(())
}

/// Columns an xlsx sheet can have (A to XFD).
const XLSX_MAX_COLUMNS: u32 = 16_384;

/// A cell as text: numbers without a trailing `.0`, dates as YYYY-MM-DD.
fn cell_text(value: &DataRef<'_>) -> String {
    match value {
        DataRef::Empty | DataRef::Error(_) => String::new(),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => f.to_string(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(dt) => excel_date(dt.as_f64(), dt.is_datetime()),
    }
}

/// An Excel serial date (days since 1899-12-30) as YYYY-MM-DD[ HH:MM].
fn excel_date(serial: f64, with_time: bool) -> String {
    let days = serial.floor() as i64;
    let (y, m, d) = civil_from_days(days - 25_569); // 25569: 1970-01-01 as a serial
    let minutes = ((serial - serial.floor()) * 1440.0).round() as i64;
    if with_time && minutes > 0 {
        format!(
            "{y:04}-{m:02}-{d:02} {:02}:{:02}",
            minutes / 60,
            minutes % 60
        )
    } else {
        format!("{y:04}-{m:02}-{d:02}")
    }
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excel_serial_dates() {
        assert_eq!(excel_date(45_000.0, false), "2023-03-15");
        assert_eq!(excel_date(25_569.5, true), "1970-01-01 12:00");
        assert_eq!(excel_date(46_349.0, true), "2026-11-23");
    }
}
