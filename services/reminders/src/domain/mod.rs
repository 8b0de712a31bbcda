//! The reminder rules, free of gRPC, NATS and SQL.

pub mod access;
mod activity;
mod calendar;
mod due;
mod policy;
mod reminder;
mod rules;
mod webhook;

pub use activity::{ActivityEffects, TOUCHPOINT, activity_effects};
pub use calendar::{BusinessCalendar, CalendarSpec, CalendarViolation, TimeCount};
pub use due::{DueWindowError, MAX_LIST_LIMIT, due_horizon, list_limit};
pub use policy::{
    EscalationAction, EscalationStep, Policy, PolicyRules, PolicyViolation, validate_policy,
};
pub use reminder::{
    ReminderKind, ReminderState, first_contact_message, follow_up_message,
    lead_first_contact_message, rule_message,
};
pub use rules::{
    MILLIS_PER_DAY, close_overdue_due_at, first_contact_due_at, next_fire_at, no_activity_due_at,
    stage_age_due_at,
};
pub use webhook::{
    MAX_ATTEMPTS, Notice, WebhookFormat, check_url, dingtalk_url, render, retry_delay_ms,
};
