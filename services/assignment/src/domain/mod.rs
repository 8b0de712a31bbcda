//! Pure rules of assignment: what a valid rep profile is, which reps cover a lead, and
//! who gets it. No I/O here; the store and the bus adapters feed these functions.

pub mod decision;
pub mod rep;

pub use decision::{Assignment, Decision, LeadToPlace, Ownership, Pooling, Rule, decide};
pub use rep::{Invalid, Rep, RepDraft, RepLoad, RepProfile};
