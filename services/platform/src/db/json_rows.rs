//! Reading many small rows as one: a `SELECT` list that folds every row of a statement
//! into a single JSON array text, for the hot reads that return dozens of rows.
//!
//! Through sqlx each row of a result is copied into an `AnyRow` and handed from the
//! database's worker thread to the async side on its own; at a million customers a
//! duplicate check reads ~150 rows in two statements, and those per-row hand-offs cost
//! more than SQLite's own B-tree work. One row of JSON, built by the database and parsed
//! with serde, costs one hand-off.

use sqlx::AnyConnection;

/// The aggregate expression for a statement on `conn` whose result is one TEXT value:
/// a JSON array with one inner array per row, holding `items` (comma-separated
/// expressions) in order; `[]` when there is no row.
pub fn json_rows(conn: &AnyConnection, items: &str) -> String {
    if conn.backend_name() == "SQLite" {
        format!("json_group_array(json_array({items}))")
    } else {
        format!("COALESCE(json_agg(json_build_array({items})), '[]'::json)::text")
    }
}

/// The rows a [`json_rows`] statement gathered, each decoded as `T` (a tuple of the
/// items, in order; a nullable item as `Option`).
pub fn from_json_rows<T: serde::de::DeserializeOwned>(text: &str) -> Result<Vec<T>, sqlx::Error> {
    serde_json::from_str(text).map_err(|err| sqlx::Error::Decode(err.into()))
}
