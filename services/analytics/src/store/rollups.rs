//! The `rollups` table: every report is a grouped sum over a few of its rows.

use shangji_platform::{Db, Tx};

use super::generations::LIVE_GENERATION_SQL;
use crate::domain::Scope;
use crate::domain::contribution::{ALL_TEAMS, Contributions, dim};
use shangji_platform::db::Params;

/// Columns of one rollup row's key and measures, as bound.
const COLUMNS: usize = 12;
/// Rows per INSERT: keeps every backend well within its bind-parameter limit.
const ROWS_PER_STATEMENT: usize = 200;

/// Adds the delta to the generation's rollups.
pub async fn add(
    tx: &mut Tx,
    tenant_id: &str,
    generation: i64,
    delta: &Contributions,
) -> Result<(), sqlx::Error> {
    let rows: Vec<_> = delta.iter().collect();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut params = Params::new(tx);
        let values: Vec<String> = (0..chunk.len())
            .map(|_| format!("({})", params.list(COLUMNS)))
            .collect();
        let sql = format!(
            "INSERT INTO rollups (tenant_id, generation, metric, dim, dim_value, team, period, k1, k2, k3,
                                  count, amount_cents)
             VALUES {}
             ON CONFLICT (tenant_id, generation, metric, dim, dim_value, team, period, k1, k2, k3)
             DO UPDATE SET count = rollups.count + excluded.count,
                           amount_cents = rollups.amount_cents + excluded.amount_cents",
            values.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (k, m) in chunk {
            q = q
                .bind(tenant_id)
                .bind(generation)
                .bind(k.metric)
                .bind(k.dim)
                .bind(k.dim_value.as_str())
                .bind(k.team.as_str())
                .bind(k.period)
                .bind(k.k1.as_str())
                .bind(k.k2)
                .bind(k.k3.as_str())
                .bind(m.count)
                .bind(m.amount_cents);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// How rows are grouped besides their keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// One group.
    Nothing,
    Period,
    Team,
    /// The dimension's value (source, industry, region or rep).
    DimValue,
}

/// A grouped sum: which rows, of which metric and dimension, grouped how.
#[derive(Clone, Debug)]
pub struct RollupQuery<'a> {
    pub metric: &'static str,
    /// The dimension to read; a scope limited to one rep forces `rep`.
    pub dim: &'static str,
    pub scope: &'a Scope,
    pub from_period: Option<i64>,
    pub to_period: Option<i64>,
    pub group: Group,
}

/// One grouped sum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollupRow {
    /// The group's value ("" when not grouped; periods as decimal text).
    pub group: String,
    pub k1: String,
    pub k2: i64,
    pub k3: String,
    pub count: i64,
    pub amount_cents: i64,
}

/// Runs the query over the tenant's live generation.
pub async fn sum(
    db: &Db,
    tenant_id: &str,
    query: &RollupQuery<'_>,
) -> Result<Vec<RollupRow>, sqlx::Error> {
    let group = match query.group {
        Group::Nothing => "''",
        Group::Period => "CAST(period AS TEXT)",
        Group::Team => "team",
        Group::DimValue => "dim_value",
    };
    let dim_read = if query.scope.rep.is_some() {
        dim::REP
    } else {
        query.dim
    };
    let mut sql = format!(
        "SELECT {group}, k1, k2, k3, CAST(SUM(count) AS BIGINT), CAST(SUM(amount_cents) AS BIGINT)
         FROM rollups
         WHERE tenant_id = $1 AND generation = {LIVE_GENERATION_SQL} AND metric = $2 AND dim = $3"
    );
    let mut n = 3;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    if query.scope.rep.is_some() {
        sql.push_str(&format!(" AND dim_value = {}", next()));
    }
    match &query.scope.teams {
        Some(teams) => {
            if teams.is_empty() {
                return Ok(Vec::new());
            }
            let params: Vec<String> = teams.iter().map(|_| next()).collect();
            sql.push_str(&format!(" AND team IN ({})", params.join(", ")));
        }
        // The whole tenant: the all-teams totals, unless the report is per team (the
        // rep dimension has no totals).
        None if dim_read == dim::REP => {}
        None if query.group == Group::Team => {
            sql.push_str(&format!(" AND team <> '{ALL_TEAMS}'"));
        }
        None => sql.push_str(&format!(" AND team = '{ALL_TEAMS}'")),
    }
    if query.from_period.is_some() {
        sql.push_str(&format!(" AND period >= {}", next()));
    }
    if query.to_period.is_some() {
        sql.push_str(&format!(" AND period <= {}", next()));
    }
    // PostgreSQL refuses a constant in GROUP BY.
    if query.group == Group::Nothing {
        sql.push_str(" GROUP BY k1, k2, k3");
    } else {
        sql.push_str(&format!(" GROUP BY {group}, k1, k2, k3"));
    }
    // Rows that netted out (a fact moved elsewhere) are not figures.
    sql.push_str(" HAVING SUM(count) <> 0 OR SUM(amount_cents) <> 0");
    let mut q =
        sqlx::query_as::<_, (String, String, i64, String, i64, i64)>(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(query.metric)
            .bind(dim_read);
    if let Some(rep) = &query.scope.rep {
        q = q.bind(rep.as_str());
    }
    if let Some(teams) = &query.scope.teams {
        for team in teams {
            q = q.bind(team.as_str());
        }
    }
    if let Some(from) = query.from_period {
        q = q.bind(from);
    }
    if let Some(to) = query.to_period {
        q = q.bind(to);
    }
    let rows = q.fetch_all(db.reader()).await?;
    Ok(rows
        .into_iter()
        .map(|(group, k1, k2, k3, count, amount_cents)| RollupRow {
            group,
            k1,
            k2,
            k3,
            count,
            amount_cents,
        })
        .collect())
}

/// Every non-zero row of the tenant's generation, in key order (to compare a rebuild
/// with the incrementally kept rows, and for inspection).
pub async fn all_rows(
    db: &Db,
    tenant_id: &str,
    generation: i64,
) -> Result<
    Vec<(
        String,
        String,
        String,
        String,
        i64,
        String,
        i64,
        String,
        i64,
        i64,
    )>,
    sqlx::Error,
> {
    sqlx::query_as(
        "SELECT metric, dim, dim_value, team, period, k1, k2, k3, count, amount_cents FROM rollups
         WHERE tenant_id = $1 AND generation = $2 AND (count <> 0 OR amount_cents <> 0)
         ORDER BY metric, dim, dim_value, team, period, k1, k2, k3",
    )
    .bind(tenant_id)
    .bind(generation)
    .fetch_all(db.reader())
    .await
}
