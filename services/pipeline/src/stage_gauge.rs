//! The `shangji_pipeline_opportunities{stage, status}` gauge for the SRE dashboard:
//! how many opportunities sit in each stage, refreshed from the database every 15 s by
//! a small task (the database is the truth; counting events in memory would drift
//! across replicas and restarts). Summed over tenants to keep the label set small.

use std::collections::BTreeSet;
use std::time::Duration;

use shangji_platform::Db;
use tokio_util::sync::CancellationToken;

use crate::store::opportunities;

pub const GAUGE: &str = "shangji_pipeline_opportunities";
/// How often the counts are read.
pub const REFRESH: Duration = Duration::from_secs(15);

/// Refreshes the gauge until `shutdown`.
pub async fn run(db: Db, shutdown: CancellationToken) -> anyhow::Result<()> {
    metrics::describe_gauge!(
        GAUGE,
        "Opportunities by stage and status, from the database"
    );
    let mut shown: BTreeSet<(String, String)> = BTreeSet::new();
    let mut ticks = tokio::time::interval(REFRESH);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = ticks.tick() => {}
        }
        match refresh(&db, &shown).await {
            Ok(now_shown) => shown = now_shown,
            // A busy or restarting database must not stop the service; try next tick.
            Err(err) => tracing::warn!(error = %err, "could not refresh the opportunity gauge"),
        }
    }
}

async fn refresh(
    db: &Db,
    shown: &BTreeSet<(String, String)>,
) -> Result<BTreeSet<(String, String)>, sqlx::Error> {
    let mut conn = db.reader().acquire().await?;
    let counts = opportunities::count_by_stage_and_status(&mut conn).await?;
    let labels = labels_to_set(shown, &counts);
    for ((stage, status), count) in &labels {
        metrics::gauge!(GAUGE, "stage" => stage.clone(), "status" => status.clone())
            .set(*count as f64);
    }
    Ok(counts
        .into_iter()
        .map(|(stage, status, _)| (stage, status))
        .collect())
}

/// Every label pair to set: the counted ones, and zero for pairs shown before that no
/// longer have any opportunity (a gauge left at its last value would lie).
pub fn labels_to_set(
    shown: &BTreeSet<(String, String)>,
    counts: &[(String, String, i64)],
) -> Vec<((String, String), i64)> {
    let mut labels: Vec<((String, String), i64)> = counts
        .iter()
        .map(|(stage, status, n)| ((stage.clone(), status.clone()), *n))
        .collect();
    for pair in shown {
        if !labels.iter().any(|(l, _)| l == pair) {
            labels.push((pair.clone(), 0));
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vanished_stages_drop_to_zero() {
        let shown = BTreeSet::from([
            ("lead".to_owned(), "open".to_owned()),
            ("proposal".to_owned(), "open".to_owned()),
        ]);
        let counts = vec![("lead".to_owned(), "open".to_owned(), 3)];
        let labels = labels_to_set(&shown, &counts);
        assert_eq!(
            labels,
            [
                (("lead".into(), "open".into()), 3),
                (("proposal".into(), "open".into()), 0)
            ]
        );
    }
}
