//! Bulk import of CSV and xlsx files (ImportLeads): reading the file as it streams in
//! (`source`), turning its rows into leads and a per-row report (`run`), and storing
//! each chunk of checked rows in a few multi-row statements (`chunk`).

pub mod chunk;
pub mod run;
pub mod source;
