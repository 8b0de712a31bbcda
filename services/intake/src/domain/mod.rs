//! Intake's rules: what a valid lead is (built-in checks and the tenant's field
//! schema), how fields are named, and how a lead's status moves.

pub mod columns;
pub mod encoding;
pub mod field_value;
pub mod lead_fields;
pub mod schema;
pub mod screening;
pub mod status;
pub mod validate;
