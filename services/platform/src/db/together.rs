//! Write statements sent to the database together.
//!
//! sqlx runs each SQLite connection on a thread of its own and hands every statement to
//! it and its result back: two thread wake-ups per statement. On these machines that
//! hand-off costs ~35 µs of CPU while the insert it carries costs ~5 µs
//! (`cargo run --release -p shangji-platform --example round_trips`). [`Together`] sends
//! several statements whose results the caller does not need as one multi-statement
//! query: one hand-off. PostgreSQL does not take several statements with parameters in
//! one query, so there they run one after another, as before.
//!
//! Only for statements that cannot fail but for a fault (an error aborts the whole
//! transaction) and whose row counts nobody reads: the statements after a failing one
//! do not run, and the counts of all come back summed.

use sqlx::any::AnyArguments;
use sqlx::{AnyConnection, Execute};

use super::BoundQuery;

/// Statements collected to run in one round trip (SQLite) or one after another
/// (PostgreSQL), in the order they were added.
pub struct Together {
    sqlite: bool,
    /// SQLite: the statements so far, every parameter an anonymous `?`.
    sql: String,
    /// SQLite: the values of those `?`, in the order they appear in `sql`.
    args: AnyArguments,
    /// PostgreSQL: each statement with its own arguments.
    each: Vec<(String, AnyArguments)>,
    statements: usize,
}

impl Together {
    /// Statements for `conn`'s database.
    pub fn new(conn: &AnyConnection) -> Together {
        Together {
            sqlite: conn.backend_name() == "SQLite",
            sql: String::new(),
            args: AnyArguments::default(),
            each: Vec::new(),
            statements: 0,
        }
    }

    /// Adds a bound statement. Its parameters are either all numbered (`$1`, `$2`, each
    /// as often as needed) or all anonymous (`?`, as [`super::Params`] makes them on
    /// SQLite).
    pub fn push(&mut self, mut query: BoundQuery<'_>) -> Result<(), sqlx::Error> {
        let args = query
            .take_arguments()
            .map_err(sqlx::Error::Encode)?
            .unwrap_or_default();
        let sql = query.sql();
        let sql = sql.as_str().trim_end().trim_end_matches(';');
        self.statements += 1;
        if !self.sqlite {
            self.each.push((sql.to_owned(), args));
            return Ok(());
        }
        let values = args.values.0;
        let pieces = pieces(sql);
        let numbered = pieces.iter().any(|p| matches!(p, Piece::Numbered(_)));
        if numbered && pieces.contains(&Piece::Anonymous) {
            return Err(sqlx::Error::Protocol(format!(
                "statement mixes $n and ? parameters: {sql}"
            )));
        }
        let mut anonymous = 0;
        for piece in pieces {
            match piece {
                Piece::Text(text) => self.sql.push_str(text),
                Piece::Numbered(n) => {
                    self.sql.push('?');
                    self.args.values.0.push(value(&values, n, sql)?);
                }
                Piece::Anonymous => {
                    anonymous += 1;
                    self.sql.push('?');
                    self.args.values.0.push(value(&values, anonymous, sql)?);
                }
            }
        }
        self.sql.push_str(";\n");
        Ok(())
    }

    /// How many statements were added.
    pub fn len(&self) -> usize {
        self.statements
    }

    pub fn is_empty(&self) -> bool {
        self.statements == 0
    }

    /// Runs the statements in order; stops at the first error.
    pub async fn execute(self, conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
        if self.sqlite {
            if self.statements == 0 {
                return Ok(());
            }
            sqlx::query_with(sqlx::AssertSqlSafe(self.sql), self.args)
                .execute(&mut *conn)
                .await?;
            return Ok(());
        }
        for (sql, args) in self.each {
            sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

fn value<V: Clone>(values: &[V], n: usize, sql: &str) -> Result<V, sqlx::Error> {
    values.get(n.wrapping_sub(1)).cloned().ok_or_else(|| {
        sqlx::Error::Protocol(format!(
            "statement uses parameter {n} but binds {}: {sql}",
            values.len()
        ))
    })
}

#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    /// `$n`
    Numbered(usize),
    /// `?`
    Anonymous,
}

/// Splits SQL into text and parameters; quoted strings, quoted names and comments are
/// text (a JSON path such as `'$.a'` is no parameter).
fn pieces(sql: &str) -> Vec<Piece<'_>> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"') => {
                // A doubled quote inside ends and restarts the literal: same result.
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
                i += 1;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'$' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                out.push(Piece::Text(&sql[start..i]));
                let n = sql[i + 1..i + 1 + digits].parse().unwrap_or(usize::MAX);
                out.push(Piece::Numbered(n));
                i += 1 + digits;
                start = i;
            }
            b'?' => {
                out.push(Piece::Text(&sql[start..i]));
                out.push(Piece::Anonymous);
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    out.push(Piece::Text(&sql[start.min(sql.len())..]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Piece::*;

    #[test]
    fn parameters_outside_quotes_and_comments_are_found() {
        assert_eq!(
            pieces(
                "SELECT json_extract(x, '$.a?'), \"$1\" FROM t -- $9 ?\nWHERE a = $2 AND b = $10"
            ),
            vec![
                Text("SELECT json_extract(x, '$.a?'), \"$1\" FROM t -- $9 ?\nWHERE a = "),
                Numbered(2),
                Text(" AND b = "),
                Numbered(10),
                Text(""),
            ]
        );
        assert_eq!(
            pieces("VALUES (?, ?)"),
            vec![
                Text("VALUES ("),
                Anonymous,
                Text(", "),
                Anonymous,
                Text(")")
            ]
        );
    }
}
