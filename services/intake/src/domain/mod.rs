//! Intake's rules: what a valid lead is, and how a lead's status moves.

pub mod status;
pub mod validate;
