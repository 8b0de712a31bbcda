//! The reminder rules, free of gRPC, NATS and SQL.

mod activity;
mod due;
mod reminder;

pub use activity::{ActivityEffects, TOUCHPOINT, activity_effects};
pub use due::{DueWindowError, MAX_LIST_LIMIT, due_horizon, first_contact_due_at, list_limit};
pub use reminder::{ReminderKind, ReminderState, first_contact_message, follow_up_message};
