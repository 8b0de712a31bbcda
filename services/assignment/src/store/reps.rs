//! The `reps` table: profiles and the load assignment balances on.

use shangji_platform::Tx;

use super::{Exec, flag, from_json, to_json};
use crate::domain::{Rep, RepLoad, RepProfile};

type RepRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
);

const SELECT: &str = "SELECT rep_id, name, team, regions, industries, capacity, active, \
                      last_assigned_seq, assigned_total, open_count FROM reps";

fn to_rep(row: RepRow) -> Result<Rep, sqlx::Error> {
    let (
        rep_id,
        name,
        team,
        regions,
        industries,
        capacity,
        active,
        last_assigned_seq,
        assigned_total,
        open_count,
    ) = row;
    let capacity = u32::try_from(capacity).map_err(|_| {
        sqlx::Error::Decode(format!("rep {rep_id} has capacity {capacity} outside 0..2^32").into())
    })?;
    Ok(Rep {
        profile: RepProfile {
            regions: from_json(&regions, "reps.regions")?,
            industries: from_json(&industries, "reps.industries")?,
            rep_id,
            name,
            team,
            capacity,
            active: active != 0,
        },
        load: RepLoad {
            last_assigned_seq,
            assigned_total,
            open_count,
        },
    })
}

/// The tenant's reps, optionally only one team (`team` empty: all) and only active ones.
/// Unordered: callers sort as they need, independent of the database's collation.
pub async fn list<'e>(
    exec: impl Exec<'e>,
    tenant_id: &str,
    team: &str,
    active_only: bool,
) -> Result<Vec<Rep>, sqlx::Error> {
    let sql = format!(
        "{SELECT} WHERE tenant_id = $1 AND ($2 = '' OR team = $2) AND ($3 = 0 OR active = 1)"
    );
    let rows: Vec<RepRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(team)
        .bind(flag(active_only))
        .fetch_all(exec)
        .await?;
    rows.into_iter().map(to_rep).collect()
}

pub async fn get<'e>(
    exec: impl Exec<'e>,
    tenant_id: &str,
    rep_id: &str,
) -> Result<Option<Rep>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE tenant_id = $1 AND rep_id = $2");
    let row: Option<RepRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(rep_id)
        .fetch_optional(exec)
        .await?;
    row.map(to_rep).transpose()
}

/// Inserts a new rep with zero counters; false when the rep already exists.
pub async fn insert_new(
    tx: &mut Tx,
    tenant_id: &str,
    rep: &RepProfile,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO reps (tenant_id, rep_id, name, team, regions, industries, capacity, active,
                           last_assigned_seq, assigned_total, open_count, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, 0, 0, $9, $9)
         ON CONFLICT (tenant_id, rep_id) DO NOTHING",
    )
    .bind(tenant_id)
    .bind(&rep.rep_id)
    .bind(&rep.name)
    .bind(&rep.team)
    .bind(to_json(&rep.regions))
    .bind(to_json(&rep.industries))
    .bind(i64::from(rep.capacity))
    .bind(flag(rep.active))
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Replaces the profile of an existing rep, keeping the counters.
pub async fn update_profile(
    tx: &mut Tx,
    tenant_id: &str,
    rep: &RepProfile,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE reps SET name = $3, team = $4, regions = $5, industries = $6, capacity = $7,
                         active = $8, updated_at = $9
         WHERE tenant_id = $1 AND rep_id = $2",
    )
    .bind(tenant_id)
    .bind(&rep.rep_id)
    .bind(&rep.name)
    .bind(&rep.team)
    .bind(to_json(&rep.regions))
    .bind(to_json(&rep.industries))
    .bind(i64::from(rep.capacity))
    .bind(flag(rep.active))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The rep got a lead on round-robin turn `turn`.
pub async fn record_assignment(
    tx: &mut Tx,
    tenant_id: &str,
    rep_id: &str,
    turn: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE reps SET last_assigned_seq = $3, assigned_total = assigned_total + 1, updated_at = $4
         WHERE tenant_id = $1 AND rep_id = $2",
    )
    .bind(tenant_id)
    .bind(rep_id)
    .bind(turn)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Recounts the rep's open opportunities from `opportunity_owners`. Counting instead of
/// adding and subtracting makes it right whatever order the events came in, and never
/// negative. A rep assignment does not know yet is counted when created.
pub async fn refresh_open_count(
    tx: &mut Tx,
    tenant_id: &str,
    rep_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE reps SET updated_at = $3, open_count = (
             SELECT COUNT(*) FROM opportunity_owners o
             WHERE o.tenant_id = $1 AND o.rep_id = $2 AND o.closed = 0)
         WHERE tenant_id = $1 AND rep_id = $2",
    )
    .bind(tenant_id)
    .bind(rep_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
