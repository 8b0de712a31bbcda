//! Pure rules of assignment: valid reps, teams and rules, which reps cover a lead, who
//! gets it and why. No I/O here; the store and the bus adapters feed these functions.

pub mod decision;
pub mod rep;
pub mod rule;
pub mod team;

pub use decision::{
    Assignment, Audit, CandidateLoad, Decision, Org, Outcome, Ownership, Pooling, RuleEvaluation,
    decide,
};
pub use rep::{Invalid, Rep, RepDraft, RepLoad, RepProfile, Role, WorkingStatus};
pub use rule::{AssignmentRule, Conditions, LeadFacts, Strategy};
pub use team::{Team, TeamDraft, TeamTree};

/// The UTC day (days since the epoch) of a time in UTC milliseconds: daily limits reset
/// at midnight UTC.
pub fn utc_day(millis: i64) -> i64 {
    millis.div_euclid(86_400_000)
}
