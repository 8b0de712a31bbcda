//! Intake's SQL. Every query names the tenant.

mod leads;

pub use leads::{
    Progress, insert_lead, insert_step, load_lead, load_progress, load_trail, save_progress,
};
