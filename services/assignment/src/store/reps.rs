//! The `reps` table: profiles, the load assignment balances on, and `rep_days` (new
//! leads and pool claims per UTC day).

use std::collections::{BTreeMap, BTreeSet};

use shangji_platform::Tx;
use shangji_platform::db::{BoundQuery, Params, Together};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::{Exec, flag, from_json, to_json};
use crate::domain::{Rep, RepLoad, RepProfile, Role, WorkingStatus};

const SELECT: &str = "SELECT r.rep_id, r.name, r.team, r.regions, r.industries, r.product_lines, \
     r.skill_tier, r.role, r.status, r.capacity, r.max_daily_leads, r.daily_claim_limit, \
     r.email, r.last_assigned_seq, r.assigned_total, r.open_count, \
     COALESCE(d.leads, 0) AS leads_today, COALESCE(d.claims, 0) AS claims_today, r.version \
     FROM reps r LEFT JOIN rep_days d \
     ON d.tenant_id = r.tenant_id AND d.rep_id = r.rep_id AND d.day = $2";

// More columns than sqlx decodes into a tuple, so the row is read by name.
fn to_rep(row: &AnyRow) -> Result<Rep, sqlx::Error> {
    let rep_id: String = row.try_get("rep_id")?;
    let small = |column: &str| -> Result<u32, sqlx::Error> {
        let value: i64 = row.try_get(column)?;
        u32::try_from(value).map_err(|_| {
            sqlx::Error::Decode(format!("rep {rep_id} has {column} {value} outside 0..2^32").into())
        })
    };
    let text = |column: &str| -> Result<String, sqlx::Error> { row.try_get(column) };
    let unknown = |value: &str, what: &str| {
        sqlx::Error::Decode(format!("rep {rep_id} has unknown {what} {value:?}").into())
    };
    let role = text("role")?;
    let status = text("status")?;
    Ok(Rep {
        profile: RepProfile {
            name: text("name")?,
            team: text("team")?,
            regions: from_json(&text("regions")?, "reps.regions")?,
            industries: from_json(&text("industries")?, "reps.industries")?,
            product_lines: from_json(&text("product_lines")?, "reps.product_lines")?,
            skill_tier: text("skill_tier")?,
            role: Role::parse(&role).ok_or_else(|| unknown(&role, "role"))?,
            status: WorkingStatus::parse(&status).ok_or_else(|| unknown(&status, "status"))?,
            capacity: small("capacity")?,
            max_daily_leads: small("max_daily_leads")?,
            daily_claim_limit: small("daily_claim_limit")?,
            email: text("email")?,
            rep_id: rep_id.clone(),
        },
        load: RepLoad {
            last_assigned_seq: row.try_get("last_assigned_seq")?,
            assigned_total: row.try_get("assigned_total")?,
            open_count: row.try_get("open_count")?,
            leads_today: row.try_get("leads_today")?,
            claims_today: row.try_get("claims_today")?,
        },
        version: row.try_get("version")?,
    })
}

/// The tenant's reps with their load on UTC day `day`, optionally one team's (empty: all)
/// and only active ones. Unordered: callers sort as they need.
pub async fn list<'e>(
    exec: impl Exec<'e>,
    tenant_id: &str,
    day: i64,
    team: &str,
    active_only: bool,
) -> Result<Vec<Rep>, sqlx::Error> {
    let sql = format!(
        "{SELECT} WHERE r.tenant_id = $1 AND ($3 = '' OR r.team = $3) AND ($4 = 0 OR r.active = 1)"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(day)
        .bind(team)
        .bind(flag(active_only))
        .fetch_all(exec)
        .await?;
    rows.iter().map(to_rep).collect()
}

pub async fn get<'e>(
    exec: impl Exec<'e>,
    tenant_id: &str,
    day: i64,
    rep_id: &str,
) -> Result<Option<Rep>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE r.tenant_id = $1 AND r.rep_id = $3");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(day)
        .bind(rep_id)
        .fetch_optional(exec)
        .await?;
    row.as_ref().map(to_rep).transpose()
}

/// Inserts a new rep with zero counters, version 1; false when the rep already exists.
pub async fn insert_new(
    tx: &mut Tx,
    tenant_id: &str,
    rep: &RepProfile,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO reps (tenant_id, rep_id, name, team, regions, industries, capacity, active,
                           last_assigned_seq, assigned_total, open_count, created_at, updated_at,
                           product_lines, skill_tier, role, status, max_daily_leads,
                           daily_claim_limit, email, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, 0, 0, $9, $9, $10, $11, $12, $13, $14, $15,
                 $16, 1)
         ON CONFLICT (tenant_id, rep_id) DO NOTHING",
    )
    .bind(tenant_id)
    .bind(&rep.rep_id)
    .bind(&rep.name)
    .bind(&rep.team)
    .bind(to_json(&rep.regions))
    .bind(to_json(&rep.industries))
    .bind(i64::from(rep.capacity))
    .bind(flag(rep.is_active()))
    .bind(now)
    .bind(to_json(&rep.product_lines))
    .bind(&rep.skill_tier)
    .bind(rep.role.as_str())
    .bind(rep.status.as_str())
    .bind(i64::from(rep.max_daily_leads))
    .bind(i64::from(rep.daily_claim_limit))
    .bind(&rep.email)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Replaces the profile of an existing rep, keeping the counters, and bumps its version.
pub async fn update_profile(
    tx: &mut Tx,
    tenant_id: &str,
    rep: &RepProfile,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE reps SET name = $3, team = $4, regions = $5, industries = $6, capacity = $7,
                         active = $8, updated_at = $9, product_lines = $10, skill_tier = $11,
                         role = $12, status = $13, max_daily_leads = $14,
                         daily_claim_limit = $15, email = $16, version = version + 1
         WHERE tenant_id = $1 AND rep_id = $2",
    )
    .bind(tenant_id)
    .bind(&rep.rep_id)
    .bind(&rep.name)
    .bind(&rep.team)
    .bind(to_json(&rep.regions))
    .bind(to_json(&rep.industries))
    .bind(i64::from(rep.capacity))
    .bind(flag(rep.is_active()))
    .bind(now)
    .bind(to_json(&rep.product_lines))
    .bind(&rep.skill_tier)
    .bind(rep.role.as_str())
    .bind(rep.status.as_str())
    .bind(i64::from(rep.max_daily_leads))
    .bind(i64::from(rep.daily_claim_limit))
    .bind(&rep.email)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The rep got a new lead on round-robin turn `turn`, on UTC day `day`: its turn and
/// total, and its day's count, in one round trip.
pub async fn record_assignment(
    tx: &mut Tx,
    tenant_id: &str,
    rep_id: &str,
    turn: i64,
    day: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut together = Together::new(tx);
    together.push(
        sqlx::query(
            "UPDATE reps SET last_assigned_seq = $3, assigned_total = assigned_total + 1, updated_at = $4
             WHERE tenant_id = $1 AND rep_id = $2",
        )
        .bind(tenant_id.to_owned())
        .bind(rep_id.to_owned())
        .bind(turn)
        .bind(now),
    )?;
    together.push(bump_day(tenant_id, rep_id, day, 1, 0))?;
    together.execute(tx).await
}

/// The rep claimed one pool entry on UTC day `day`.
pub async fn record_claim(
    tx: &mut Tx,
    tenant_id: &str,
    rep_id: &str,
    day: i64,
) -> Result<(), sqlx::Error> {
    bump_day(tenant_id, rep_id, day, 0, 1)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Adds to the rep's counts of day `day`.
fn bump_day(
    tenant_id: &str,
    rep_id: &str,
    day: i64,
    leads: i64,
    claims: i64,
) -> BoundQuery<'static> {
    sqlx::query(
        "INSERT INTO rep_days (tenant_id, rep_id, day, leads, claims) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, rep_id, day) DO UPDATE
         SET leads = rep_days.leads + excluded.leads, claims = rep_days.claims + excluded.claims",
    )
    .bind(tenant_id.to_owned())
    .bind(rep_id.to_owned())
    .bind(day)
    .bind(leads)
    .bind(claims)
}

/// Reps whose open opportunities a batch changed, recounted together: once per rep
/// however many of its opportunities the batch touched, one statement per tenant.
#[derive(Debug, Default)]
pub struct Recount {
    /// tenant -> reps; ordered, so writers lock the rows in the same order.
    reps: BTreeMap<String, BTreeSet<String>>,
}

impl Recount {
    pub fn add(&mut self, tenant_id: &str, rep_id: &str) {
        if rep_id.is_empty() {
            return;
        }
        self.reps
            .entry(tenant_id.to_owned())
            .or_default()
            .insert(rep_id.to_owned());
    }

    /// Recounts every rep added (see [`refresh_open_count`]) and forgets them.
    pub async fn refresh(&mut self, tx: &mut Tx, now: i64) -> Result<(), sqlx::Error> {
        for (tenant_id, reps) in std::mem::take(&mut self.reps) {
            let reps: Vec<String> = reps.into_iter().collect();
            for chunk in reps.chunks(500) {
                // Placeholders in the order they appear (SQLite's are positional).
                let mut params = Params::new(tx);
                let (at, tenant) = (params.one(), params.one());
                let list = params.list(chunk.len());
                let sql = format!(
                    "UPDATE reps SET updated_at = {at}, open_count = (
                         SELECT COUNT(*) FROM opportunity_owners o
                         WHERE o.tenant_id = reps.tenant_id AND o.rep_id = reps.rep_id
                           AND o.closed = 0)
                     WHERE tenant_id = {tenant} AND rep_id IN ({list})"
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(now)
                    .bind(&tenant_id);
                for rep_id in chunk {
                    query = query.bind(rep_id);
                }
                query.execute(&mut **tx).await?;
            }
        }
        Ok(())
    }
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
