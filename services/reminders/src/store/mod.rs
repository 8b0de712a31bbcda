//! SQL for reminders, one function per query. Every query filters on the tenant,
//! except the timer's, which is a system job over all tenants (see [`reminders::due`]).
//! Writes take the caller's transaction, so a handler's changes commit with its inbox row.

pub mod opportunities;
pub mod reminders;

pub use opportunities::{Closure, OpportunityFacts};
pub use reminders::{NewReminder, ReminderRow};
