//! Bulk import of CSV and xlsx files (ImportLeads): reading the file as it streams in
//! (`source`) and turning its rows into leads and a per-row report (`run`).

pub mod run;
pub mod source;
