//! shangji-reminders: timers that make sure every lead and opportunity has a next step.
//!
//! An assigned lead (and an opportunity opened without one) gets a "first contact due"
//! reminder for its owner; a logged activity on its opportunity completes it and may
//! schedule a follow-up; a change of owner moves the reminders, closing the opportunity
//! cancels them. A timer fires reminders that fell due (publishing `reminder.due`), and
//! `ListDue` shows a rep what needs doing, within what the caller may see.
//!
//! - [`domain`]: the rules, pure.
//! - [`store`]: reminders and what is known about each opportunity, in SQL.
//! - [`bus`]: the opportunity, lead and org event handlers.
//! - [`timer`]: fires due reminders and takes the steps of their escalation ladders.
//! - [`delivery`]: sends reminders to the tenant's webhooks.
//! - [`api`]: the `ReminderService` gRPC service.

pub mod api;
pub mod app;
pub mod bus;
pub mod config;
pub mod delivery;
pub mod domain;
pub mod store;
pub mod timer;

pub use app::{MIGRATIONS, SPEC, start};
pub use config::RemindersConfig;
