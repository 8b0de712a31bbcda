//! Bind-parameter lists for statements built at run time (multi-row inserts and upserts,
//! IN lists).
//!
//! SQLite resolves a named parameter (`$7`) by scanning the statement's list of names,
//! and sqlx asks for every parameter's name when binding, so a statement with n `$N`
//! parameters costs O(n²): with a few thousand parameters that scan was ~75 % of the
//! ingest time. Anonymous `?` parameters have no name to scan. PostgreSQL needs `$N`.

use sqlx::AnyConnection;

/// Hands out the parameters of one statement in binding order.
#[derive(Debug)]
pub struct Params {
    anonymous: bool,
    n: usize,
}

impl Params {
    /// The parameters of a statement run on `conn`, from the first on; bind in order.
    pub fn new(conn: &AnyConnection) -> Self {
        Params {
            anonymous: conn.backend_name() == "SQLite",
            n: 0,
        }
    }

    /// The next parameter.
    pub fn one(&mut self) -> String {
        self.n += 1;
        if self.anonymous {
            "?".to_owned()
        } else {
            format!("${}", self.n)
        }
    }

    /// The next `rows * width` parameters as `rows` comma-separated tuples of `width`:
    /// the VALUES list of a multi-row INSERT, bound row by row.
    pub fn rows(&mut self, rows: usize, width: usize) -> String {
        (0..rows)
            .map(|_| format!("({})", self.list(width)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The next `count` parameters, comma-separated (a tuple's or an IN list's body).
    pub fn list(&mut self, count: usize) -> String {
        (0..count)
            .map(|_| self.one())
            .collect::<Vec<_>>()
            .join(", ")
    }
}
