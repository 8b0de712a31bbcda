//! Reminders as a caller may see them (data permissions, see `domain::access`): the
//! visibility condition is built here once, for the `ListDue` query and for the check
//! before a snooze or an acknowledgement.

use shangji_platform::Db;
use sqlx::AnyConnection;

use super::reminders::{COLUMNS, RawRow, ReminderRow, rows};

/// What a rep or manager may see: their own reminders, and those whose opportunity
/// (or, before there is one, whose lead) is in one of `teams`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VisibleTo {
    pub rep_id: String,
    pub teams: Vec<String>,
}

/// The condition on `reminders` for `scope`, with its placeholders numbered from `next`;
/// returns the SQL and the values to bind in order.
fn condition(scope: &VisibleTo, next: usize) -> (String, Vec<String>) {
    let mut values = vec![scope.rep_id.clone()];
    let mut sql = format!("(reminders.owner_rep_id = ${next}");
    if !scope.teams.is_empty() {
        let placeholders: Vec<String> = (0..scope.teams.len())
            .map(|i| format!("${}", next + 1 + i))
            .collect();
        let teams = placeholders.join(", ");
        values.extend(scope.teams.iter().cloned());
        sql.push_str(&format!(
            " OR EXISTS (SELECT 1 FROM opportunities o WHERE o.tenant_id = reminders.tenant_id
                 AND o.opportunity_id = reminders.opportunity_id AND o.team IN ({teams}))
              OR (reminders.opportunity_id = '' AND EXISTS (SELECT 1 FROM leads l
                 WHERE l.tenant_id = reminders.tenant_id AND l.lead_id = reminders.lead_id
                   AND l.team IN ({teams})))"
        ));
    }
    sql.push(')');
    (sql, values)
}

/// Open reminders of the tenant due by `due_by`, oldest due first, optionally only
/// `owner_rep_id`'s, and only those `scope` may see (None: all).
pub async fn list_open_due(
    db: &Db,
    tenant_id: &str,
    owner_rep_id: Option<&str>,
    scope: Option<&VisibleTo>,
    due_by: i64,
    limit: u32,
) -> Result<Vec<ReminderRow>, sqlx::Error> {
    let mut sql = format!(
        "SELECT {COLUMNS} FROM reminders
         WHERE tenant_id = $1 AND state IN ('pending', 'fired') AND due_at <= $2"
    );
    let mut values: Vec<String> = Vec::new();
    if let Some(owner) = owner_rep_id {
        values.push(owner.to_owned());
        sql.push_str(&format!(" AND owner_rep_id = ${}", 3 + values.len() - 1));
    }
    if let Some(scope) = scope {
        let (cond, scoped) = condition(scope, 3 + values.len());
        sql.push_str(&format!(" AND {cond}"));
        values.extend(scoped);
    }
    sql.push_str(&format!(
        " ORDER BY due_at, reminder_id LIMIT ${}",
        3 + values.len()
    ));
    let mut query = sqlx::query_as::<_, RawRow>(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(due_by);
    for value in values {
        query = query.bind(value);
    }
    let raw = query.bind(i64::from(limit)).fetch_all(db.reader()).await?;
    rows(raw)
}

/// Whether the tenant's reminder exists and `scope` may see it.
pub async fn can_see(
    conn: &mut AnyConnection,
    tenant_id: &str,
    reminder_id: &str,
    scope: &VisibleTo,
) -> Result<bool, sqlx::Error> {
    let (cond, values) = condition(scope, 3);
    let sql =
        format!("SELECT 1 FROM reminders WHERE tenant_id = $1 AND reminder_id = $2 AND {cond}");
    let mut query = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(reminder_id);
    for value in values {
        query = query.bind(value);
    }
    Ok(query.fetch_optional(conn).await?.is_some())
}
