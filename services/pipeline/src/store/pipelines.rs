//! Pipelines, their versions and their stages; the default one is seeded on first use.
//!
//! `pipelines` holds each pipeline's current version, `pipeline_versions` every version's
//! stages and gates (JSON, never changed), and `stages` the current version's stages flat
//! for queries. Pipelines seeded before versions existed have no version row: their
//! version 1 is read from `stages` (they have no gates).

use shangji_contracts::time::now_millis;
use sqlx::{AnyConnection, Row as _};

use crate::domain::StageGate;
use crate::domain::stage::{DEFAULT_PIPELINE_ID, Pipeline, Stage};

/// The pipeline row: name, team, current version.
struct Head {
    name: String,
    team: String,
    version: i64,
}

async fn head(
    conn: &mut AnyConnection,
    tenant_id: &str,
    pipeline_id: &str,
) -> Result<Option<Head>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT name, team, version FROM pipelines WHERE tenant_id = $1 AND pipeline_id = $2",
    )
    .bind(tenant_id)
    .bind(pipeline_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|row| {
        Ok(Head {
            name: row.try_get("name")?,
            team: row.try_get("team")?,
            version: row.try_get("version")?,
        })
    })
    .transpose()
}

/// The tenant's pipeline `pipeline_id` in its current version, if it exists.
pub async fn load(
    conn: &mut AnyConnection,
    tenant_id: &str,
    pipeline_id: &str,
) -> Result<Option<Pipeline>, sqlx::Error> {
    let Some(head) = head(conn, tenant_id, pipeline_id).await? else {
        return Ok(None);
    };
    let version = head.version;
    load_stages(conn, tenant_id, pipeline_id, head, version).await
}

/// The pipeline as it was in `version` (what an opportunity opened then follows).
pub async fn load_version(
    conn: &mut AnyConnection,
    tenant_id: &str,
    pipeline_id: &str,
    version: i64,
) -> Result<Option<Pipeline>, sqlx::Error> {
    let Some(head) = head(conn, tenant_id, pipeline_id).await? else {
        return Ok(None);
    };
    load_stages(conn, tenant_id, pipeline_id, head, version).await
}

async fn load_stages(
    conn: &mut AnyConnection,
    tenant_id: &str,
    pipeline_id: &str,
    head: Head,
    version: i64,
) -> Result<Option<Pipeline>, sqlx::Error> {
    let stored: Option<String> = sqlx::query_scalar(
        "SELECT stages FROM pipeline_versions
         WHERE tenant_id = $1 AND pipeline_id = $2 AND version = $3",
    )
    .bind(tenant_id)
    .bind(pipeline_id)
    .bind(version)
    .fetch_optional(&mut *conn)
    .await?;
    let stages = match stored {
        Some(json) => serde_json::from_str::<Vec<Stage>>(&json)
            .map_err(|_| super::corrupt("stages", &json))?,
        None if version == 1 => flat_stages(conn, tenant_id, pipeline_id).await?,
        None => return Ok(None),
    };
    Ok(Some(Pipeline::new(
        pipeline_id.to_owned(),
        head.name,
        head.team,
        version,
        stages,
    )))
}

/// The current stages from the flat table (no gates).
async fn flat_stages(
    conn: &mut AnyConnection,
    tenant_id: &str,
    pipeline_id: &str,
) -> Result<Vec<Stage>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT name, stage_order, win_probability, terminal FROM stages
         WHERE tenant_id = $1 AND pipeline_id = $2 ORDER BY stage_order",
    )
    .bind(tenant_id)
    .bind(pipeline_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let order: i64 = row.try_get("stage_order")?;
            let terminal: i64 = row.try_get("terminal")?;
            Ok(Stage {
                name: row.try_get("name")?,
                order: u32::try_from(order)
                    .map_err(|_| super::corrupt("stage_order", &order.to_string()))?,
                win_probability: row.try_get("win_probability")?,
                terminal: terminal != 0,
                gate: StageGate::default(),
            })
        })
        .collect()
}

/// Every pipeline of the tenant in its current version, by id.
pub async fn list(conn: &mut AnyConnection, tenant_id: &str) -> Result<Vec<Pipeline>, sqlx::Error> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT pipeline_id FROM pipelines WHERE tenant_id = $1 ORDER BY pipeline_id",
    )
    .bind(tenant_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut pipelines = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(pipeline) = load(conn, tenant_id, &id).await? {
            pipelines.push(pipeline);
        }
    }
    Ok(pipelines)
}

/// The pipeline new opportunities of `team` follow: the team's own, else the default
/// (seeded when missing). Must run in a write transaction.
pub async fn for_team(
    conn: &mut AnyConnection,
    tenant_id: &str,
    team: &str,
) -> Result<Option<Pipeline>, sqlx::Error> {
    if !team.is_empty() {
        let own: Option<String> = sqlx::query_scalar(
            "SELECT pipeline_id FROM pipelines WHERE tenant_id = $1 AND team = $2",
        )
        .bind(tenant_id)
        .bind(team)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(pipeline_id) = own {
            return load(conn, tenant_id, &pipeline_id).await;
        }
    }
    load_or_seed(conn, tenant_id, DEFAULT_PIPELINE_ID).await
}

/// The pipeline that serves `team`, other than `except`, if any.
pub async fn team_taken_by(
    conn: &mut AnyConnection,
    tenant_id: &str,
    team: &str,
    except: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT pipeline_id FROM pipelines WHERE tenant_id = $1 AND team = $2 AND pipeline_id <> $3",
    )
    .bind(tenant_id)
    .bind(team)
    .bind(except)
    .fetch_optional(conn)
    .await
}

/// Stores `defined` as the pipeline's next version (1 for a new pipeline) and makes it
/// current; returns it with its version. Run it in a transaction: a concurrent upsert of
/// the same pipeline fails on the version's primary key (a unique violation).
pub async fn save_new_version(
    conn: &mut AnyConnection,
    tenant_id: &str,
    defined: &Pipeline,
    user_id: &str,
) -> Result<Pipeline, sqlx::Error> {
    let now = now_millis();
    let current = head(conn, tenant_id, &defined.pipeline_id).await?;
    let version = current.as_ref().map_or(1, |head| head.version + 1);
    match current {
        None => {
            sqlx::query(
                "INSERT INTO pipelines (tenant_id, pipeline_id, name, created_at, team, version, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $4)",
            )
            .bind(tenant_id)
            .bind(&defined.pipeline_id)
            .bind(&defined.name)
            .bind(now)
            .bind(&defined.team)
            .bind(version)
            .execute(&mut *conn)
            .await?;
        }
        Some(_) => {
            sqlx::query(
                "UPDATE pipelines SET name = $3, team = $4, version = $5, updated_at = $6
                 WHERE tenant_id = $1 AND pipeline_id = $2",
            )
            .bind(tenant_id)
            .bind(&defined.pipeline_id)
            .bind(&defined.name)
            .bind(&defined.team)
            .bind(version)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        }
    }
    insert_version(conn, tenant_id, defined, version, user_id, now).await?;
    replace_flat_stages(conn, tenant_id, defined).await?;
    let mut saved = defined.clone();
    saved.version = version;
    Ok(saved)
}

/// Renames or re-teams the pipeline without a new version (the stages did not change).
pub async fn rename(
    conn: &mut AnyConnection,
    tenant_id: &str,
    pipeline_id: &str,
    name: &str,
    team: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE pipelines SET name = $3, team = $4, updated_at = $5
         WHERE tenant_id = $1 AND pipeline_id = $2",
    )
    .bind(tenant_id)
    .bind(pipeline_id)
    .bind(name)
    .bind(team)
    .bind(now_millis())
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_version(
    conn: &mut AnyConnection,
    tenant_id: &str,
    pipeline: &Pipeline,
    version: i64,
    user_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let stages = serde_json::to_string(&pipeline.stages)
        .map_err(|err| sqlx::Error::Encode(Box::new(err)))?;
    sqlx::query(
        "INSERT INTO pipeline_versions (tenant_id, pipeline_id, version, stages, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant_id)
    .bind(&pipeline.pipeline_id)
    .bind(version)
    .bind(stages)
    .bind(user_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

async fn replace_flat_stages(
    conn: &mut AnyConnection,
    tenant_id: &str,
    pipeline: &Pipeline,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM stages WHERE tenant_id = $1 AND pipeline_id = $2")
        .bind(tenant_id)
        .bind(&pipeline.pipeline_id)
        .execute(&mut *conn)
        .await?;
    for stage in &pipeline.stages {
        sqlx::query(
            "INSERT INTO stages (tenant_id, pipeline_id, name, stage_order, win_probability, terminal)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant_id)
        .bind(&pipeline.pipeline_id)
        .bind(&stage.name)
        .bind(i64::from(stage.order))
        .bind(stage.win_probability)
        .bind(i64::from(stage.terminal))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Writes the default pipeline for the tenant unless it exists. Idempotent and safe
/// when replicas seed at once: the pipeline row is inserted with ON CONFLICT DO NOTHING
/// and its version and stages only by the transaction that inserted it.
pub async fn seed_default(conn: &mut AnyConnection, tenant_id: &str) -> Result<(), sqlx::Error> {
    let pipeline = Pipeline::default_pipeline();
    let now = now_millis();
    let inserted = sqlx::query(
        "INSERT INTO pipelines (tenant_id, pipeline_id, name, created_at, team, version, updated_at)
         VALUES ($1, $2, $3, $4, '', 1, $4)
         ON CONFLICT (tenant_id, pipeline_id) DO NOTHING",
    )
    .bind(tenant_id)
    .bind(&pipeline.pipeline_id)
    .bind(&pipeline.name)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(());
    }
    insert_version(conn, tenant_id, &pipeline, 1, "pipeline", now).await?;
    replace_flat_stages(conn, tenant_id, &pipeline).await?;
    tracing::info!(tenant_id, pipeline_id = %pipeline.pipeline_id, "seeded the default pipeline");
    Ok(())
}

/// The tenant's pipeline `pipeline_id`, seeding it first when it is the default one.
/// Must run in a write transaction. `None` only for a missing non-default pipeline.
pub async fn load_or_seed(
    conn: &mut AnyConnection,
    tenant_id: &str,
    pipeline_id: &str,
) -> Result<Option<Pipeline>, sqlx::Error> {
    if let Some(pipeline) = load(conn, tenant_id, pipeline_id).await? {
        return Ok(Some(pipeline));
    }
    if pipeline_id != DEFAULT_PIPELINE_ID {
        return Ok(None);
    }
    seed_default(conn, tenant_id).await?;
    load(conn, tenant_id, pipeline_id).await
}

/// The pipeline an opportunity follows: its pipeline in the opportunity's version.
pub async fn for_opportunity(
    conn: &mut AnyConnection,
    tenant_id: &str,
    pipeline_id: &str,
    version: i64,
) -> Result<Option<Pipeline>, sqlx::Error> {
    if pipeline_id == DEFAULT_PIPELINE_ID {
        // Seeds a tenant whose opportunities predate its pipeline row (never in practice,
        // but reading must not depend on it).
        load_or_seed(conn, tenant_id, pipeline_id).await?;
    }
    load_version(conn, tenant_id, pipeline_id, version).await
}
