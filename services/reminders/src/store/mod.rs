//! SQL for reminders, one function per query. Every query filters on the tenant,
//! except the timer's, which is a system job over all tenants (see [`reminders::due`]).
//! Writes take the caller's transaction, so a handler's changes commit with its inbox row.

pub mod calendars;
pub mod first_contact;
pub mod leads;
pub mod opportunities;
pub mod org;
pub mod policies;
pub mod reminders;
pub mod visible;
pub mod webhooks;

pub use calendars::StoredCalendar;
pub use leads::LeadFacts;
pub use opportunities::{Closure, OpportunityFacts};
pub use policies::{StoredPolicy, Upserted};
pub use reminders::{Advance, NewReminder, ReminderRow};
pub use visible::VisibleTo;
