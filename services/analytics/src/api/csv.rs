//! Reports as CSV: one header row, then one row per figure, streamed in chunks that end
//! on row boundaries.

use shangji_contracts::analytics::{
    ForecastResponse, FunnelResponse, FunnelStage, RepActivityResponse, SourceQualityResponse,
    StageCycleTimesResponse, WinLossFigures, WinLossResponse,
};

/// Chunks are cut after the row that takes them past this size.
const CHUNK_BYTES: usize = 32 * 1024;

/// Accumulates CSV rows and cuts them into chunks.
pub struct CsvChunks {
    current: Vec<u8>,
    chunks: Vec<Vec<u8>>,
}

impl CsvChunks {
    pub fn new(header: &[&str]) -> CsvChunks {
        let mut c = CsvChunks {
            current: Vec::new(),
            chunks: Vec::new(),
        };
        c.row(header.iter().map(|h| (*h).to_owned()));
        c
    }

    pub fn row<I: IntoIterator<Item = String>>(&mut self, fields: I) {
        let mut writer = csv::Writer::from_writer(&mut self.current);
        let fields: Vec<String> = fields.into_iter().collect();
        // Writing to a Vec cannot fail.
        let _ = writer.write_record(&fields);
        let _ = writer.flush();
        drop(writer);
        if self.current.len() >= CHUNK_BYTES {
            self.chunks.push(std::mem::take(&mut self.current));
        }
    }

    pub fn finish(mut self) -> Vec<Vec<u8>> {
        if !self.current.is_empty() {
            self.chunks.push(self.current);
        }
        self.chunks
    }
}

fn n(v: impl ToString) -> String {
    v.to_string()
}

fn stage_row(slice: &str, s: &FunnelStage) -> Vec<String> {
    vec![
        slice.to_owned(),
        s.stage.clone(),
        n(s.order),
        n(s.count),
        n(s.amount),
        n(s.current_count),
        n(s.conversion_to_next),
    ]
}

pub fn funnel(r: &FunnelResponse) -> Vec<Vec<u8>> {
    let mut c = CsvChunks::new(&[
        "slice",
        "stage",
        "order",
        "count",
        "amount",
        "current_count",
        "conversion_to_next",
    ]);
    let label = if r.as_of_day.is_empty() {
        "total".to_owned()
    } else {
        format!("total as of {}", r.as_of_day)
    };
    for s in &r.stages {
        c.row(stage_row(&label, s));
    }
    for slice in &r.slices {
        for s in &slice.stages {
            c.row(stage_row(&slice.slice, s));
        }
    }
    c.finish()
}

pub fn stage_cycle_times(r: &StageCycleTimesResponse) -> Vec<Vec<u8>> {
    let mut c = CsvChunks::new(&[
        "slice",
        "stage",
        "order",
        "count",
        "median_days",
        "p90_days",
    ]);
    let total = r.stages.iter().map(|s| ("total", s));
    let sliced = r
        .slices
        .iter()
        .flat_map(|sl| sl.stages.iter().map(move |s| (sl.slice.as_str(), s)));
    for (slice, s) in total.chain(sliced) {
        c.row([
            slice.to_owned(),
            s.stage.clone(),
            n(s.order),
            n(s.count),
            n(s.median_days),
            n(s.p90_days),
        ]);
    }
    c.finish()
}

fn win_loss_rows(r: &WinLossResponse) -> impl Iterator<Item = (&str, &WinLossFigures)> {
    r.total
        .iter()
        .map(|t| ("total", t))
        .chain(r.slices.iter().map(|s| (s.slice.as_str(), s)))
}

pub fn win_loss(r: &WinLossResponse) -> Vec<Vec<u8>> {
    let mut c = CsvChunks::new(&[
        "slice",
        "won",
        "lost",
        "won_amount",
        "lost_amount",
        "win_rate",
        "average_deal_size",
    ]);
    for (slice, f) in win_loss_rows(r) {
        c.row([
            slice.to_owned(),
            n(f.won),
            n(f.lost),
            n(f.won_amount),
            n(f.lost_amount),
            n(f.win_rate),
            n(f.average_deal_size),
        ]);
    }
    c.finish()
}

pub fn loss_reasons(r: &WinLossResponse) -> Vec<Vec<u8>> {
    let mut c = CsvChunks::new(&["slice", "reason", "count", "amount", "share"]);
    for (slice, f) in win_loss_rows(r) {
        for l in &f.loss_reasons {
            c.row([
                slice.to_owned(),
                l.reason.clone(),
                n(l.count),
                n(l.amount),
                n(l.share),
            ]);
        }
    }
    c.finish()
}

pub fn rep_activity(r: &RepActivityResponse) -> Vec<Vec<u8>> {
    let mut c = CsvChunks::new(&[
        "rep_id",
        "follow_ups",
        "first_responses",
        "first_response_median_hours",
        "first_response_p90_hours",
        "reminders_due",
        "reminders_escalated",
    ]);
    for rep in &r.reps {
        c.row([
            rep.rep_id.clone(),
            n(rep.follow_ups),
            n(rep.first_responses),
            n(rep.first_response_median_hours),
            n(rep.first_response_p90_hours),
            n(rep.reminders_due),
            n(rep.reminders_escalated),
        ]);
    }
    c.finish()
}

pub fn source_quality(r: &SourceQualityResponse) -> Vec<Vec<u8>> {
    let mut c = CsvChunks::new(&[
        "source",
        "leads_received",
        "leads_qualified",
        "leads_assigned",
        "leads_pooled",
        "opportunities_won",
        "won_amount",
        "qualification_rate",
        "revenue_per_lead",
    ]);
    for s in &r.sources {
        c.row([
            s.source.clone(),
            n(s.leads_received),
            n(s.leads_qualified),
            n(s.leads_assigned),
            n(s.leads_pooled),
            n(s.opportunities_won),
            n(s.won_amount),
            n(s.qualification_rate),
            n(s.revenue_per_lead),
        ]);
    }
    c.finish()
}

pub fn forecast(r: &ForecastResponse) -> Vec<Vec<u8>> {
    let mut c = CsvChunks::new(&[
        "close_month",
        "open_count",
        "pipeline_amount",
        "weighted_amount",
        "historical_amount",
        "best_case_amount",
        "commit_amount",
        "closed_won_amount",
        "closed_won_count",
    ]);
    for m in &r.months {
        c.row([
            m.close_month.clone(),
            n(m.open_count),
            n(m.pipeline_amount),
            n(m.weighted_amount),
            n(m.historical_amount),
            n(m.best_case_amount),
            n(m.commit_amount),
            n(m.closed_won_amount),
            n(m.closed_won_count),
        ]);
    }
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shangji_contracts::analytics::SourceQualityRow;

    #[test]
    fn quotes_fields_and_cuts_on_row_boundaries() {
        let rows: Vec<SourceQualityRow> = (0..3000)
            .map(|i| SourceQualityRow {
                source: format!("展会, \"{i}\""),
                leads_received: i,
                ..Default::default()
            })
            .collect();
        let chunks = source_quality(&SourceQualityResponse { sources: rows });
        assert!(chunks.len() > 1, "{} chunks", chunks.len());
        for chunk in &chunks {
            assert_eq!(chunk.last(), Some(&b'\n'));
        }
        let all: Vec<u8> = chunks.concat();
        let mut reader = csv::Reader::from_reader(all.as_slice());
        let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
        assert_eq!(records.len(), 3000);
        assert_eq!(&records[7][0], "展会, \"7\"");
        assert_eq!(&records[7][1], "7");
    }
}
