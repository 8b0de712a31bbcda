//! The `stage_catalog` table: the tenant's stages and their order, learned from the
//! events. A newer statement wins, so it is the same whatever order events arrive in.

use std::collections::BTreeMap;

use shangji_platform::db::Params;
use shangji_platform::{Db, Tx};

use crate::domain::CatalogStage;

/// Stage orders a batch's events stated, written in one statement when the batch ends
/// rather than one per event (nearly every opportunity event states its stage).
#[derive(Debug, Default)]
pub struct Learned {
    /// (tenant, stage) -> (order, as of when); ordered, so every writer locks the rows
    /// in the same order.
    stages: BTreeMap<(String, String), (u32, i64)>,
}

impl Learned {
    /// Learns that `stage` has position `order` as of `learned_at`; a newer statement
    /// wins (a pipeline may be reordered), and of two as new the later one.
    pub fn learn(&mut self, tenant_id: &str, stage: &str, order: u32, learned_at: i64) {
        let key = (tenant_id.to_owned(), stage.to_owned());
        match self.stages.get_mut(&key) {
            Some(known) if known.1 > learned_at => {}
            Some(known) => *known = (order, learned_at),
            None => {
                self.stages.insert(key, (order, learned_at));
            }
        }
    }

    /// The position of `stage`, when an event has told it: learned in this batch or
    /// stored, whichever statement is newer.
    pub async fn order_of(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        stage: &str,
    ) -> Result<Option<u32>, sqlx::Error> {
        let stored: Option<(i64, i64)> = sqlx::query_as(
            "SELECT stage_order, learned_at FROM stage_catalog WHERE tenant_id = $1 AND stage = $2",
        )
        .bind(tenant_id)
        .bind(stage)
        .fetch_optional(&mut **tx)
        .await?;
        let stored = stored.and_then(|(order, at)| Some((u32::try_from(order).ok()?, at)));
        let learned = self
            .stages
            .get(&(tenant_id.to_owned(), stage.to_owned()))
            .copied();
        Ok(match (learned, stored) {
            (Some(l), Some(s)) if s.1 > l.1 => Some(s.0),
            (Some(l), _) => Some(l.0),
            (None, s) => s.map(|s| s.0),
        })
    }

    /// Writes what was learned (a newer stored statement wins) and forgets it.
    pub async fn write(&mut self, tx: &mut Tx) -> Result<(), sqlx::Error> {
        let stages: Vec<_> = std::mem::take(&mut self.stages).into_iter().collect();
        // Four parameters a row keeps every statement far below the bind limits.
        for chunk in stages.chunks(500) {
            let values = Params::new(tx).rows(chunk.len(), 4);
            let sql = format!(
                "INSERT INTO stage_catalog (tenant_id, stage, stage_order, learned_at) VALUES {values}
                 ON CONFLICT (tenant_id, stage) DO UPDATE
                 SET stage_order = excluded.stage_order, learned_at = excluded.learned_at
                 WHERE stage_catalog.learned_at <= excluded.learned_at"
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for ((tenant_id, stage), (order, at)) in chunk {
                query = query
                    .bind(tenant_id)
                    .bind(stage)
                    .bind(i64::from(*order))
                    .bind(*at);
            }
            query.execute(&mut **tx).await?;
        }
        Ok(())
    }
}

/// The tenant's known stages, in order.
pub async fn stages(db: &Db, tenant_id: &str) -> Result<Vec<CatalogStage>, sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT stage, stage_order FROM stage_catalog WHERE tenant_id = $1 ORDER BY stage_order, stage",
    )
    .bind(tenant_id)
    .fetch_all(db.reader())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(stage, order)| CatalogStage {
            stage,
            order: u32::try_from(order).unwrap_or(u32::MAX),
        })
        .collect())
}
