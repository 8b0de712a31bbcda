//! ListOpportunities in SQL: filters (data permissions always among them), the sorts a
//! kanban board offers, keyset paging on (sort key, opportunity_id) so a page token stays
//! exact while rows are added, and per-stage totals for the board's columns.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row as _};

use super::opportunities::{COLUMNS, from_row};
use crate::domain::{Opportunity, Status};

/// ListOpportunities filters; `None` matches anything. Ranges include both ends.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    pub owner_rep_id: Option<String>,
    pub stage: Option<String>,
    pub customer_id: Option<String>,
    pub status: Option<Status>,
    /// The owner's team as the org replica has it.
    pub team: Option<String>,
    pub amount_min: Option<f64>,
    pub amount_max: Option<f64>,
    pub close_from: Option<i64>,
    pub close_to: Option<i64>,
    /// Only open opportunities whose stage was entered, and whose newest activity was
    /// logged, before this time (UTC ms).
    pub stalled_before: Option<i64>,
    /// Data permissions: only what this rep owns, collaborates on, or what belongs to
    /// one of these teams. `None` for callers who see the whole tenant.
    pub visible_to: Option<VisibleTo>,
}

/// The opportunities a rep or manager may see.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VisibleTo {
    pub rep_id: String,
    pub teams: Vec<String>,
}

/// What a list is ordered by; ties are broken by opportunity_id in the same direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortField {
    #[default]
    Created,
    Amount,
    /// No expected close date sorts after every date.
    ExpectedClose,
    /// No activity yet sorts before every activity.
    LastActivity,
}

impl SortField {
    pub const ALL: [SortField; 4] = [
        SortField::Created,
        SortField::Amount,
        SortField::ExpectedClose,
        SortField::LastActivity,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SortField::Created => "created",
            SortField::Amount => "amount",
            SortField::ExpectedClose => "expected_close",
            SortField::LastActivity => "last_activity",
        }
    }

    pub fn parse(name: &str) -> Option<SortField> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// The SQL sort key. Missing dates become the ends of the range so every row has a
    /// key and keyset comparisons never meet NULL.
    fn expr(self) -> &'static str {
        match self {
            SortField::Created => "created_at",
            SortField::Amount => "amount",
            SortField::ExpectedClose => "COALESCE(expected_close_at, 9223372036854775807)",
            SortField::LastActivity => "COALESCE(last_activity_at, 0)",
        }
    }

    /// Amount is a real number; every other key is UTC milliseconds.
    pub fn is_real(self) -> bool {
        self == SortField::Amount
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort {
    pub field: SortField,
    pub descending: bool,
}

impl Default for Sort {
    /// Newest first, as the list always was.
    fn default() -> Self {
        Sort {
            field: SortField::Created,
            descending: true,
        }
    }
}

/// A row's value of the sort key.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SortKey {
    Int(i64),
    Real(f64),
}

/// Where a page starts: just after the row with this key and id in the list's order.
#[derive(Clone, Debug, PartialEq)]
pub struct Cursor {
    pub key: SortKey,
    pub opportunity_id: String,
}

/// A listed opportunity and its position (the cursor of the page after it).
#[derive(Clone, Debug, PartialEq)]
pub struct Listed {
    pub opportunity: Opportunity,
    pub cursor: Cursor,
}

/// One kanban column.
#[derive(Clone, Debug, PartialEq)]
pub struct StageSummary {
    pub stage: String,
    pub count: i64,
    pub amount: f64,
}

enum Value {
    Text(String),
    Int(i64),
    Real(f64),
}

/// Adds a bound value and returns its placeholder number.
fn push(values: &mut Vec<Value>, value: Value) -> usize {
    values.push(value);
    values.len()
}

/// `WHERE` clause (with placeholders from $1) and its values, tenant first.
fn where_clause(tenant_id: &str, filter: &Filter) -> (String, Vec<Value>) {
    let mut sql = String::from("tenant_id = $1");
    let mut values = vec![Value::Text(tenant_id.to_owned())];
    let equal = [
        ("owner_rep_id", filter.owner_rep_id.clone()),
        ("stage", filter.stage.clone()),
        ("customer_id", filter.customer_id.clone()),
        ("status", filter.status.map(|s| s.as_str().to_owned())),
    ];
    for (column, value) in equal {
        if let Some(value) = value {
            let at = push(&mut values, Value::Text(value));
            sql.push_str(&format!(" AND {column} = ${at}"));
        }
    }
    if let Some(team) = &filter.team {
        let at = push(&mut values, Value::Text(team.clone()));
        sql.push_str(&format!(
            " AND owner_rep_id IN (SELECT r.rep_id FROM org_reps r \
             WHERE r.tenant_id = $1 AND r.team_id = ${at})"
        ));
    }
    let ranges = [
        ("amount", ">=", filter.amount_min.map(Value::Real)),
        ("amount", "<=", filter.amount_max.map(Value::Real)),
        ("expected_close_at", ">=", filter.close_from.map(Value::Int)),
        ("expected_close_at", "<=", filter.close_to.map(Value::Int)),
    ];
    for (column, op, value) in ranges {
        if let Some(value) = value {
            let at = push(&mut values, value);
            sql.push_str(&format!(" AND {column} {op} ${at}"));
        }
    }
    if let Some(before) = filter.stalled_before {
        let at = push(&mut values, Value::Int(before));
        sql.push_str(&format!(
            " AND status = 'open' AND stage_entered_at < ${at} \
             AND (last_activity_at IS NULL OR last_activity_at < ${at})"
        ));
    }
    if let Some(visible) = &filter.visible_to {
        let rep = push(&mut values, Value::Text(visible.rep_id.clone()));
        let mut any = format!(
            "owner_rep_id = ${rep} OR opportunity_id IN (SELECT c.opportunity_id FROM collaborators c \
             WHERE c.tenant_id = $1 AND c.rep_id = ${rep})"
        );
        for team in &visible.teams {
            let at = push(&mut values, Value::Text(team.clone()));
            any.push_str(&format!(" OR team = ${at}"));
        }
        sql.push_str(&format!(" AND ({any})"));
    }
    (sql, values)
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    values: Vec<Value>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for value in values {
        query = match value {
            Value::Text(v) => query.bind(v),
            Value::Int(v) => query.bind(v),
            Value::Real(v) => query.bind(v),
        };
    }
    query
}

/// How many of the tenant's opportunities match `filter`.
pub async fn count(
    conn: &mut AnyConnection,
    tenant_id: &str,
    filter: &Filter,
) -> Result<i64, sqlx::Error> {
    let (clause, values) = where_clause(tenant_id, filter);
    let sql = format!("SELECT COUNT(*) AS n FROM opportunities WHERE {clause}");
    let row = bind_all(sqlx::query(AssertSqlSafe(sql)), values)
        .fetch_one(conn)
        .await?;
    row.try_get("n")
}

/// Up to `limit` matching opportunities after `after`, in `sort` order.
pub async fn list(
    conn: &mut AnyConnection,
    tenant_id: &str,
    filter: &Filter,
    sort: Sort,
    after: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<Listed>, sqlx::Error> {
    let (mut clause, mut values) = where_clause(tenant_id, filter);
    let key = sort.field.expr();
    let (op, dir) = if sort.descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    if let Some(cursor) = after {
        values.push(match cursor.key {
            SortKey::Int(v) => Value::Int(v),
            SortKey::Real(v) => Value::Real(v),
        });
        let at = values.len();
        values.push(Value::Text(cursor.opportunity_id.clone()));
        // A row-value comparison (SQLite 3.15+, PostgreSQL) seeks in the sort's index
        // instead of filtering an OR.
        clause.push_str(&format!(
            " AND ({key}, opportunity_id) {op} (${at}, ${})",
            at + 1
        ));
    }
    values.push(Value::Int(limit));
    let sql = format!(
        "SELECT {COLUMNS}, {key} AS sort_key FROM opportunities WHERE {clause}
         ORDER BY {key} {dir}, opportunity_id {dir} LIMIT ${}",
        values.len()
    );
    bind_all(sqlx::query(AssertSqlSafe(sql)), values)
        .fetch_all(conn)
        .await?
        .iter()
        .map(|row| listed(row, sort.field))
        .collect()
}

fn listed(row: &AnyRow, field: SortField) -> Result<Listed, sqlx::Error> {
    let opportunity = from_row(row)?;
    let key = if field.is_real() {
        SortKey::Real(row.try_get("sort_key")?)
    } else {
        SortKey::Int(row.try_get("sort_key")?)
    };
    Ok(Listed {
        cursor: Cursor {
            key,
            opportunity_id: opportunity.opportunity_id.clone(),
        },
        opportunity,
    })
}

/// Count and total amount per stage of what matches `filter`, by stage name.
pub async fn stage_summary(
    conn: &mut AnyConnection,
    tenant_id: &str,
    filter: &Filter,
) -> Result<Vec<StageSummary>, sqlx::Error> {
    let (clause, values) = where_clause(tenant_id, filter);
    let sql = format!(
        "SELECT stage, COUNT(*) AS n, CAST(SUM(amount) AS DOUBLE PRECISION) AS total
         FROM opportunities WHERE {clause} GROUP BY stage ORDER BY stage"
    );
    bind_all(sqlx::query(AssertSqlSafe(sql)), values)
        .fetch_all(conn)
        .await?
        .iter()
        .map(|row| {
            Ok(StageSummary {
                stage: row.try_get("stage")?,
                count: row.try_get("n")?,
                amount: row.try_get("total")?,
            })
        })
        .collect()
}
