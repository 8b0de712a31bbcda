//! The queries, as the RPCs run them (permissions resolved: an admin's tenant scope),
//! each timed over several runs and checked against what was generated: a figure that
//! is wrong or empty fails the benchmark instead of being timed.

use std::future::Future;
use std::time::{Duration, Instant};

use shangji_analytics::api::query::ReportQuery;
use shangji_analytics::api::reports;
use shangji_analytics::domain::{CategoryThresholds, Scope};
use shangji_contracts::analytics::SliceBy;
use shangji_platform::Db;

use crate::data::{Expected, SOURCES, STAGES, TEAMS};

/// One query's latency over its runs.
pub struct Timing {
    pub name: &'static str,
    pub p50: Duration,
    pub p99: Duration,
}

async fn timed<T, F, Fut>(name: &'static str, runs: usize, mut f: F) -> anyhow::Result<(Timing, T)>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let out = f().await?;
        times.push(t.elapsed());
        last = Some(out);
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    let timing = Timing {
        name,
        p50: at(0.5),
        p99: at(0.99),
    };
    Ok((timing, last.expect("at least one run")))
}

fn query(slice: SliceBy) -> ReportQuery {
    ReportQuery {
        scope: Scope::tenant(),
        from_month: None,
        to_month: None,
        slice,
    }
}

fn assert_money(what: &str, got: f64, cents: i64) {
    let want = cents as f64 / 100.0;
    assert!(
        (got - want).abs() <= want.abs() * 1e-9 + 0.01,
        "{what}: got {got}, expected {want}"
    );
}

/// Runs every query `runs` times, asserts its answer, and returns the latencies.
pub async fn run(db: &Db, tenant: &str, runs: usize, e: &Expected) -> anyhow::Result<Vec<Timing>> {
    let mut timings = Vec::new();

    let q = query(SliceBy::None);
    let (t, f) = timed("funnel", runs, || async {
        Ok(reports::funnel(db, tenant, &q).await?)
    })
    .await?;
    timings.push(t);
    // The catalogue's stages, then `won`.
    let counts: Vec<u64> = f.stages.iter().map(|s| s.count).collect();
    let mut want_counts = e.reached.to_vec();
    want_counts.push(e.won);
    assert_eq!(
        counts, want_counts,
        "funnel: opportunities reaching each stage, then won"
    );
    let names: Vec<&str> = f.stages.iter().map(|s| s.stage.as_str()).collect();
    let mut want: Vec<&str> = STAGES.iter().map(|s| s.0).collect();
    want.push("won");
    assert_eq!(names, want, "funnel: the stages, in order");
    let open: u64 = f.stages[..STAGES.len()]
        .iter()
        .map(|s| s.current_count)
        .sum();
    assert_eq!(
        open,
        e.open(),
        "funnel: open opportunities by current stage"
    );
    assert_eq!(
        (f.opportunities_won, f.opportunities_lost),
        (e.won, e.lost),
        "funnel: won/lost"
    );
    assert_money("funnel: won amount", f.won_amount, e.won_cents);
    assert_eq!(f.leads_received, e.leads, "funnel: leads received");

    for (name, slice, slices) in [
        ("funnel by source", SliceBy::Source, SOURCES as usize),
        ("funnel by team", SliceBy::Team, TEAMS as usize),
        ("funnel by month", SliceBy::Period, 0),
    ] {
        let q = query(slice);
        let (t, f) = timed(name, runs, || async {
            Ok(reports::funnel(db, tenant, &q).await?)
        })
        .await?;
        timings.push(t);
        if slices > 0 {
            assert_eq!(
                f.slices.len(),
                slices.min(e.opportunities as usize),
                "{name}: slices"
            );
        } else {
            assert!(!f.slices.is_empty(), "{name}: slices");
        }
        let total: u64 = f.slices.iter().map(|s| s.stages[0].count).sum();
        assert_eq!(total, e.opportunities, "{name}: the slices add up");
        let won: u64 = f.slices.iter().map(|s| s.opportunities_won).sum();
        assert_eq!(won, e.won, "{name}: won adds up");
    }

    let q = query(SliceBy::None);
    let (t, w) = timed("win/loss", runs, || async {
        Ok(reports::win_loss(db, tenant, &q).await?)
    })
    .await?;
    timings.push(t);
    let w = w.total.expect("win/loss total");
    assert_eq!((w.won, w.lost), (e.won, e.lost), "win/loss: won/lost");
    assert_money("win/loss: won amount", w.won_amount, e.won_cents);
    for r in &w.loss_reasons {
        assert_eq!(
            Some(&r.count),
            e.loss_reasons.get(r.reason.as_str()),
            "win/loss: losses for {}",
            r.reason
        );
    }
    assert_eq!(
        w.loss_reasons.len(),
        e.loss_reasons.len(),
        "win/loss: loss reasons"
    );

    let (t, c) = timed("stage cycle times", runs, || async {
        Ok(reports::stage_cycle_times(db, tenant, &q).await?)
    })
    .await?;
    timings.push(t);
    let left: Vec<u64> = c.stages.iter().map(|s| s.count).collect();
    assert_eq!(
        left,
        e.left.to_vec(),
        "cycle times: opportunities that left each stage"
    );
    for s in c.stages.iter().filter(|s| s.count > 0) {
        assert!(
            (1.0..=31.0).contains(&s.median_days) && s.p90_days >= s.median_days,
            "cycle times of {}: median {} p90 {} days (moves take 1-30 days)",
            s.stage,
            s.median_days,
            s.p90_days
        );
    }

    let (t, s) = timed("source quality", runs, || async {
        Ok(reports::source_quality(db, tenant, &q).await?)
    })
    .await?;
    timings.push(t);
    let received: u64 = s.sources.iter().map(|r| r.leads_received).sum();
    let qualified: u64 = s.sources.iter().map(|r| r.leads_qualified).sum();
    assert_eq!(
        (received, qualified),
        (e.leads, e.qualified_leads),
        "source quality: leads"
    );

    let thresholds = CategoryThresholds {
        commit_permille: 700,
        best_case_permille: 400,
    };
    let (t, f) = timed("forecast", runs, || async {
        Ok(reports::forecast(db, tenant, &q, thresholds).await?)
    })
    .await?;
    timings.push(t);
    let open: u64 = f.months.iter().map(|m| m.open_count).sum();
    let won: u64 = f.months.iter().map(|m| m.closed_won_count).sum();
    assert_eq!(
        (open, won),
        (e.open(), e.won),
        "forecast: open and won deals"
    );
    assert_eq!(
        f.stage_win_rates.len(),
        STAGES.len(),
        "forecast: a win rate per stage"
    );
    Ok(timings)
}
