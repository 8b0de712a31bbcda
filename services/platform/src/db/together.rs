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

    /// Adds a bound statement. Its parameters are either all numbered (`$1` or `?1`,
    /// each as often as needed, every value used) or all anonymous (`?`, one per value,
    /// as [`super::Params`] makes them on SQLite). Named parameters (`:a`, `@a`, `$a`)
    /// are refused, as is a statement with an unclosed quote or comment: read wrongly,
    /// it would take another statement's values or swallow the statements after it.
    /// A refused statement leaves the ones added before it as they were.
    pub fn push(&mut self, mut query: BoundQuery<'_>) -> Result<(), sqlx::Error> {
        let args = query
            .take_arguments()
            .map_err(sqlx::Error::Encode)?
            .unwrap_or_default();
        let sql = query.sql();
        let sql = sql.as_str().trim_end().trim_end_matches(';');
        if !self.sqlite {
            self.each.push((sql.to_owned(), args));
            self.statements += 1;
            return Ok(());
        }
        let values = args.values.0;
        let refuse = |why: String| sqlx::Error::Protocol(format!("{why}: {sql}"));
        let pieces = pieces(sql).map_err(|why| refuse(why.into()))?;
        let numbered = pieces.iter().any(|p| matches!(p, Piece::Numbered(_)));
        if numbered && pieces.contains(&Piece::Anonymous) {
            return Err(refuse(
                "statement mixes numbered and anonymous parameters".into(),
            ));
        }
        // Built aside and appended only when the whole statement is good.
        let mut text = String::with_capacity(sql.len() + 3);
        let mut bound = Vec::with_capacity(values.len());
        let mut used = vec![false; values.len()];
        let mut anonymous = 0;
        for piece in pieces {
            let n = match piece {
                Piece::Text(t) => {
                    text.push_str(t);
                    continue;
                }
                Piece::Numbered(n) => n,
                Piece::Anonymous => {
                    anonymous += 1;
                    anonymous
                }
            };
            let value = values.get(n.wrapping_sub(1)).cloned().ok_or_else(|| {
                refuse(format!(
                    "statement uses parameter {n} but binds {} values",
                    values.len()
                ))
            })?;
            used[n - 1] = true;
            text.push('?');
            bound.push(value);
        }
        // PostgreSQL refuses values a statement does not use; refused here too, so a
        // statement tested on SQLite does not first fail in production.
        if let Some(unused) = used.iter().position(|u| !u) {
            return Err(refuse(format!(
                "statement binds {} values but never uses value {}",
                values.len(),
                unused + 1
            )));
        }
        // The line break ends a trailing `--` comment before the separator.
        text.push_str("\n;\n");
        self.sql.push_str(&text);
        self.args.values.0.extend(bound);
        self.statements += 1;
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

#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    /// `$n` or `?n`
    Numbered(usize),
    /// `?`
    Anonymous,
}

/// Splits SQLite SQL into text and parameters. Quoted strings and names (`'…'`, `"…"`,
/// `` `…` ``, `[…]`), comments and bare words (a name may hold `$`: `a$1`) are text, so
/// a JSON path such as `'$.a'` is no parameter.
fn pieces(sql: &str) -> Result<Vec<Piece<'_>>, &'static str> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let digits_at = |at: usize| {
        bytes[at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    while i < bytes.len() {
        match bytes[i] {
            open @ (b'\'' | b'"' | b'`' | b'[') => {
                let close = if open == b'[' { b']' } else { open };
                // A doubled quote inside ends and restarts the literal: same result.
                let Some(len) = bytes[i + 1..].iter().position(|&b| b == close) else {
                    return Err("statement has an unclosed quote");
                };
                i += len + 2;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = bytes[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |len| i + len);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let Some(len) = sql[i + 2..].find("*/") else {
                    return Err("statement has an unclosed /* comment");
                };
                i += len + 4;
            }
            b'$' | b'?' if digits_at(i + 1) > 0 => {
                let digits = digits_at(i + 1);
                out.push(Piece::Text(&sql[start..i]));
                // Too many digits for a parameter: refused as out of range later.
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
            b'$' | b':' | b'@' if bytes.get(i + 1).is_some_and(|&b| is_word(b)) => {
                return Err("statement uses a named parameter (:a, @a or $a)");
            }
            b if is_word(b) => {
                i += bytes[i..]
                    .iter()
                    .take_while(|&&b| is_word(b) || b == b'$')
                    .count();
            }
            _ => i += 1,
        }
    }
    out.push(Piece::Text(&sql[start.min(sql.len())..]));
    Ok(out)
}

/// A byte of a bare word: a name, keyword or number (any non-ASCII byte is part of a
/// name in SQLite).
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
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
            Ok(vec![
                Text("SELECT json_extract(x, '$.a?'), \"$1\" FROM t -- $9 ?\nWHERE a = "),
                Numbered(2),
                Text(" AND b = "),
                Numbered(10),
                Text(""),
            ])
        );
        assert_eq!(
            pieces("VALUES (?, ?)"),
            Ok(vec![
                Text("VALUES ("),
                Anonymous,
                Text(", "),
                Anonymous,
                Text(")")
            ])
        );
    }

    #[test]
    fn comments_quotes_and_names_hide_parameters() {
        assert_eq!(
            pieces("/* don't $1 */ a$1 [b?] `c$2` = ?3 -- ?"),
            Ok(vec![
                Text("/* don't $1 */ a$1 [b?] `c$2` = "),
                Numbered(3),
                Text(" -- ?"),
            ])
        );
        assert_eq!(pieces("x = ?"), Ok(vec![Text("x = "), Anonymous, Text("")]));
    }

    #[test]
    fn what_could_be_read_wrongly_is_refused() {
        for sql in [
            "x = 'open",
            "x = [open",
            "x = 1 /* open",
            "x = :name",
            "x = @name",
            "x = $name",
        ] {
            assert!(pieces(sql).is_err(), "{sql}");
        }
    }
}
