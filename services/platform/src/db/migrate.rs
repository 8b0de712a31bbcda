//! Minimal, explicit migrations: numbered SQL scripts per backend, embedded in the
//! binary, applied in order at start-up, each in its own transaction and recorded in
//! `schema_migrations`. On PostgreSQL an advisory lock makes concurrent replicas
//! starting together apply each script exactly once.

use sqlx::{Acquire, Executor};

use super::{Backend, Db};

/// One schema change, written for both backends.
#[derive(Debug)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

/// The ordered migrations of one component (a service, or the platform's own tables).
#[derive(Debug)]
pub struct Migrations {
    pub component: &'static str,
    pub list: &'static [Migration],
}

/// Tables every service has: outbox, inbox and remembered RPC responses.
pub const PLATFORM: Migrations = Migrations {
    component: "platform",
    list: &[Migration {
        version: 1,
        name: "outbox, inbox, idempotency",
        sqlite: include_str!("../../migrations/sqlite/0001_platform.sql"),
        postgres: include_str!("../../migrations/postgres/0001_platform.sql"),
    }],
};

/// Arbitrary constant identifying Shangji's migration lock among advisory locks.
const MIGRATION_LOCK_ID: i64 = 0x0053_4841_4e47_4a49;

pub(super) async fn run(db: &Db, migrations: &Migrations) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let mut conn = db
        .writer
        .acquire()
        .await
        .context("acquiring a connection to migrate")?;
    if db.backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(MIGRATION_LOCK_ID)
            .execute(&mut *conn)
            .await
            .context("taking the migration lock")?;
    }
    let result = async {
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                component TEXT NOT NULL,
                version BIGINT NOT NULL,
                name TEXT NOT NULL,
                applied_at BIGINT NOT NULL,
                PRIMARY KEY (component, version)
            )",
        )
        .await
        .context("creating schema_migrations")?;
        for set in [&PLATFORM, migrations] {
            for m in set.list {
                let applied: Option<i64> = sqlx::query_scalar(
                    "SELECT version FROM schema_migrations WHERE component = $1 AND version = $2",
                )
                .bind(set.component)
                .bind(m.version)
                .fetch_optional(&mut *conn)
                .await?;
                if applied.is_some() {
                    continue;
                }
                let sql = match db.backend {
                    Backend::Sqlite => m.sqlite,
                    Backend::Postgres => m.postgres,
                };
                let mut tx = conn.begin().await?;
                tx.execute(sql).await.with_context(|| {
                    format!(
                        "applying migration {} {} `{}`",
                        set.component, m.version, m.name
                    )
                })?;
                sqlx::query(
                    "INSERT INTO schema_migrations (component, version, name, applied_at)
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(set.component)
                .bind(m.version)
                .bind(m.name)
                .bind(shangji_contracts::time::now_millis())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                tracing::info!(
                    component = set.component,
                    version = m.version,
                    name = m.name,
                    "applied migration"
                );
            }
        }
        anyhow::Ok(())
    }
    .await;
    if db.backend == Backend::Postgres {
        // Unlock even when a migration failed, so another replica can try.
        let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(MIGRATION_LOCK_ID)
            .execute(&mut *conn)
            .await;
    }
    result
}
