//! Intake's SQL. Every query names the tenant.

pub mod connectors;
pub mod flags;
pub mod forms;
pub mod imports;
pub mod lead_batch;
mod leads;
mod schemas;

pub mod progress;

pub use leads::{NewLead, Progress, insert_lead, insert_step, load_lead, load_lead_with_trail};
pub use schemas::{current_version, insert_schema, load_schema};
