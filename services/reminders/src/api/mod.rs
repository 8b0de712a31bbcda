//! The `shangji.reminders.v1.ReminderService` gRPC service.

mod list_due;

pub use list_due::ReminderApi;
