//! Generations of the read models. Queries read the tenant's `live` generation; a
//! rebuild fills a fresh `building` generation from the streams while live events keep
//! going into both, then swaps it in and drops the old one.

use shangji_platform::{Db, Tx};

/// The live generation as a subquery on `$1` (the tenant), for read queries.
pub const LIVE_GENERATION_SQL: &str =
    "COALESCE((SELECT live FROM read_model_generations WHERE tenant_id = $1), 0)";

/// The generations an event of the tenant must be applied to: the live one, and the one
/// being rebuilt if any (which dedups by event id itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Targets {
    pub live: i64,
    pub building: Option<i64>,
}

pub async fn targets(tx: &mut Tx, tenant_id: &str) -> Result<Targets, sqlx::Error> {
    let row: Option<(i64, Option<i64>)> =
        sqlx::query_as("SELECT live, building FROM read_model_generations WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.map_or(
        Targets {
            live: 0,
            building: None,
        },
        |(live, building)| Targets { live, building },
    ))
}

/// The state of the tenant's generations, for the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenerationStatus {
    pub live: i64,
    pub building: Option<i64>,
    pub building_started_at: Option<i64>,
    pub last_rebuilt_at: Option<i64>,
}

pub async fn status(db: &Db, tenant_id: &str) -> Result<GenerationStatus, sqlx::Error> {
    type Row = (i64, Option<i64>, Option<i64>, Option<i64>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT live, building, building_started_at, last_rebuilt_at
         FROM read_model_generations WHERE tenant_id = $1",
    )
    .bind(tenant_id)
    .fetch_optional(db.reader())
    .await?;
    Ok(row.map_or(
        GenerationStatus {
            live: 0,
            building: None,
            building_started_at: None,
            last_rebuilt_at: None,
        },
        |(live, building, building_started_at, last_rebuilt_at)| GenerationStatus {
            live,
            building,
            building_started_at,
            last_rebuilt_at,
        },
    ))
}

/// Opens a building generation (live + 1 … past any earlier one); `None` when a rebuild
/// is already under way. From this commit on, live events also go into it.
pub async fn begin_rebuild(
    tx: &mut Tx,
    tenant_id: &str,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query(
        "INSERT INTO read_model_generations (tenant_id, live) VALUES ($1, 0)
         ON CONFLICT (tenant_id) DO NOTHING",
    )
    .bind(tenant_id)
    .execute(&mut **tx)
    .await?;
    let (live, building): (i64, Option<i64>) =
        sqlx::query_as("SELECT live, building FROM read_model_generations WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_one(&mut **tx)
            .await?;
    if building.is_some() {
        return Ok(None);
    }
    let next = live + 1;
    // Leftovers of an abandoned rebuild of the same number.
    drop_generation(tx, tenant_id, next).await?;
    let updated = sqlx::query(
        "UPDATE read_model_generations
         SET building = $2, building_started_at = $3
         WHERE tenant_id = $1 AND building IS NULL",
    )
    .bind(tenant_id)
    .bind(next)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok((updated == 1).then_some(next))
}

/// Makes the building generation live and drops the old one.
pub async fn swap_in(
    tx: &mut Tx,
    tenant_id: &str,
    generation: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let old: Option<i64> = sqlx::query_scalar(
        "SELECT live FROM read_model_generations WHERE tenant_id = $1 AND building = $2",
    )
    .bind(tenant_id)
    .bind(generation)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(old) = old else {
        return Ok(false);
    };
    sqlx::query(
        "UPDATE read_model_generations
         SET live = $2, building = NULL, building_started_at = NULL,
             last_rebuilt_at = $3
         WHERE tenant_id = $1",
    )
    .bind(tenant_id)
    .bind(generation)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    drop_generation(tx, tenant_id, old).await?;
    sqlx::query("DELETE FROM rebuild_applied WHERE tenant_id = $1 AND generation = $2")
        .bind(tenant_id)
        .bind(generation)
        .execute(&mut **tx)
        .await?;
    Ok(true)
}

/// Gives up a rebuild (its rows are dropped; the live generation is untouched).
pub async fn abandon(tx: &mut Tx, tenant_id: &str, generation: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE read_model_generations
         SET building = NULL, building_started_at = NULL
         WHERE tenant_id = $1 AND building = $2",
    )
    .bind(tenant_id)
    .bind(generation)
    .execute(&mut **tx)
    .await?;
    drop_generation(tx, tenant_id, generation).await
}

async fn drop_generation(tx: &mut Tx, tenant_id: &str, generation: i64) -> Result<(), sqlx::Error> {
    for table in [
        "opportunity_states",
        "lead_states",
        "rollups",
        "rebuild_applied",
    ] {
        let sql = format!("DELETE FROM {table} WHERE tenant_id = $1 AND generation = $2");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(generation)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Records that a rebuild generation applied the event; false when it already had.
pub async fn first_application(
    tx: &mut Tx,
    tenant_id: &str,
    generation: i64,
    event_id: &str,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO rebuild_applied (tenant_id, generation, event_id) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, generation, event_id) DO NOTHING",
    )
    .bind(tenant_id)
    .bind(generation)
    .bind(event_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}
