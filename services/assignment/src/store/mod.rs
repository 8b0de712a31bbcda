//! SQL for assignment, one function per query, `tenant_id` in every `WHERE`. Runs on
//! SQLite and PostgreSQL alike (`$n` placeholders, TEXT/BIGINT columns).
//!
//! Reads are generic over the executor so the same function serves a gRPC read (the
//! reader pool) and a consumer, which must read its own earlier writes through its
//! transaction (`&mut **tx`).

pub mod assignments;
pub mod decisions;
pub mod opportunities;
pub mod owners;
pub mod policies;
pub mod pool;
pub mod reps;
pub mod rules;
pub mod sequence;
pub mod teams;
pub mod transfers;

/// The `Any` executors: `&AnyPool`, `&mut AnyConnection`.
pub trait Exec<'e>: sqlx::Executor<'e, Database = sqlx::Any> {}
impl<'e, T: sqlx::Executor<'e, Database = sqlx::Any>> Exec<'e> for T {}

/// Lists of labels and ids are stored as JSON text: readable on both backends.
fn to_json(list: &[String]) -> String {
    // Serialising strings into JSON cannot fail.
    serde_json::to_string(list).unwrap_or_else(|_| "[]".to_owned())
}

fn from_json(text: &str, column: &str) -> Result<Vec<String>, sqlx::Error> {
    serde_json::from_str(text).map_err(|e| {
        sqlx::Error::Decode(format!("column {column} is not a JSON list of strings: {e}").into())
    })
}

/// BIGINT 0/1 for booleans, which both backends store the same way.
fn flag(value: bool) -> i64 {
    i64::from(value)
}
