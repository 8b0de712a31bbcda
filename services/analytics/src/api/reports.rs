//! Each report: a few grouped sums over the rollups, turned into figures by the domain.
//! Every query reads a handful of pre-aggregated rows per stage, month and slice, never
//! one row per opportunity.

use std::collections::{BTreeMap, HashMap};

use shangji_contracts::analytics::{
    ActivityKind, CycleTimeSlice, ForecastMonth, ForecastResponse, FunnelResponse, FunnelSlice,
    FunnelStage, LossReason, RepActivityResponse, RepActivityRow, SliceBy, SourceQualityResponse,
    SourceQualityRow, StageCycleTime, StageCycleTimesResponse, StageWinRate, WinLossFigures,
    WinLossResponse,
};
use shangji_platform::Db;
use shangji_platform::grpc::ApiError;

use super::query::ReportQuery;
use crate::domain::contribution::{dim, metric};
use crate::domain::period::format_month;
use crate::domain::{
    self, CatalogStage, CategoryThresholds, ClosedWon, OpenDeals, OpportunityStatus, ReachedBucket,
    StageOccupancy, is_terminal_stage,
};
use crate::store::catalog;
use crate::store::rollups::{self, Group, RollupQuery, RollupRow};

const EVERY_DIM: [&str; 5] = [dim::ALL, dim::SOURCE, dim::INDUSTRY, dim::REGION, dim::REP];
const TEAM_AND_REP: [&str; 2] = [dim::ALL, dim::REP];

fn money(cents: i64) -> f64 {
    cents as f64 / 100.0
}

fn ratio(part: f64, whole: f64) -> f64 {
    if whole == 0.0 { 0.0 } else { part / whole }
}

fn count(n: i64) -> u64 {
    n.max(0) as u64
}

async fn sum(
    db: &Db,
    tenant: &str,
    q: &ReportQuery,
    metric: &'static str,
    dims: &[&str],
    periods: (Option<i64>, Option<i64>),
    forced_group: Option<Group>,
) -> Result<Vec<RollupRow>, ApiError> {
    let (dimension, group) = q.layout(dims)?;
    let rq = RollupQuery {
        metric,
        dim: dimension,
        scope: &q.scope,
        from_period: periods.0,
        to_period: periods.1,
        group: forced_group.unwrap_or(group),
    };
    Ok(rollups::sum(db, tenant, &rq).await?)
}

/// Rows split by group, in group order.
fn by_group(rows: Vec<RollupRow>) -> BTreeMap<String, Vec<RollupRow>> {
    let mut out: BTreeMap<String, Vec<RollupRow>> = BTreeMap::new();
    for row in rows {
        out.entry(row.group.clone()).or_default().push(row);
    }
    out
}

/// A slice's label: months as YYYY-MM (empty for "no month"), the rest as stored.
fn slice_label(slice: SliceBy, group: &str) -> String {
    match (slice, group.parse::<i64>()) {
        (SliceBy::Period, Ok(0)) => String::new(),
        (SliceBy::Period, Ok(m)) => format_month(m),
        _ => group.to_owned(),
    }
}

async fn open_catalog(db: &Db, tenant: &str) -> Result<Vec<CatalogStage>, ApiError> {
    Ok(catalog::stages(db, tenant)
        .await?
        .into_iter()
        .filter(|c| !is_terminal_stage(&c.stage))
        .collect())
}

fn funnel_stages(f: &domain::Funnel) -> Vec<FunnelStage> {
    f.stages
        .iter()
        .map(|s| FunnelStage {
            stage: s.stage.clone(),
            count: s.count,
            amount: s.amount,
            conversion_to_next: s.conversion_to_next,
            current_count: s.current_count,
            order: s.order,
        })
        .collect()
}

/// The funnel from FUNNEL rows: furthest-stage histogram and current occupancy.
fn funnel_of(catalog: &[CatalogStage], rows: &[&RollupRow]) -> domain::Funnel {
    let mut reached: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    let mut occupancy: HashMap<(String, String), (i64, i64)> = HashMap::new();
    for r in rows {
        let e = reached.entry(r.k2).or_default();
        e.0 += r.count;
        e.1 += r.amount_cents;
        let e = occupancy.entry((r.k1.clone(), r.k3.clone())).or_default();
        e.0 += r.count;
        e.1 += r.amount_cents;
    }
    let reached: Vec<ReachedBucket> = reached
        .into_iter()
        .map(|(order, (n, cents))| ReachedBucket {
            max_order_reached: order,
            count: count(n),
            amount: money(cents),
        })
        .collect();
    let occupancy: Vec<StageOccupancy> = occupancy
        .into_iter()
        .filter_map(|((status, stage), (n, cents))| {
            Some(StageOccupancy {
                stage,
                status: OpportunityStatus::parse(&status)?,
                count: count(n),
                amount: money(cents),
            })
        })
        .collect();
    domain::funnel(catalog, &reached, &occupancy)
}

/// The funnel as it stands, sliced as asked.
pub async fn funnel(db: &Db, tenant: &str, q: &ReportQuery) -> Result<FunnelResponse, ApiError> {
    let months = (q.from_month, q.to_month);
    let (rows, leads) = futures::try_join!(
        sum(db, tenant, q, metric::FUNNEL, &EVERY_DIM, months, None),
        sum(
            db,
            tenant,
            q,
            metric::LEAD_SOURCE,
            &EVERY_DIM,
            months,
            Some(Group::Nothing)
        ),
    )?;
    // After the rows: the catalog only grows, so it names every stage they count.
    let catalog = open_catalog(db, tenant).await?;
    let leads_dims_kept = q.layout(&[dim::ALL, dim::SOURCE, dim::REP]).is_ok();
    let leads_received = leads
        .iter()
        .filter(|r| r.k1 == "received")
        .map(|r| count(r.count))
        .sum();
    let total = funnel_of(&catalog, &rows.iter().collect::<Vec<_>>());
    let slices = if q.slice == SliceBy::None {
        Vec::new()
    } else {
        by_group(rows)
            .into_iter()
            .map(|(group, rows)| {
                let f = funnel_of(&catalog, &rows.iter().collect::<Vec<_>>());
                FunnelSlice {
                    slice: slice_label(q.slice, &group),
                    stages: funnel_stages(&f),
                    opportunities_won: f.won,
                    opportunities_lost: f.lost,
                    won_amount: f.won_amount,
                }
            })
            .collect()
    };
    Ok(FunnelResponse {
        stages: funnel_stages(&total),
        // Leads are kept by source and holder, not by industry or region.
        leads_received: if leads_dims_kept { leads_received } else { 0 },
        opportunities_won: total.won,
        opportunities_lost: total.lost,
        won_amount: total.won_amount,
        slices,
        as_of_day: String::new(),
    })
}

/// The funnel as it stood at the end of `day` (`yyyymmdd`): counts from dated deltas.
pub async fn funnel_as_of(
    db: &Db,
    tenant: &str,
    q: &ReportQuery,
    day: i64,
) -> Result<FunnelResponse, ApiError> {
    if !matches!(q.slice, SliceBy::None | SliceBy::Team | SliceBy::Rep) {
        return Err(ApiError::invalid_field(
            "filter.slice_by",
            "the funnel of a past day is kept by team and rep only",
        ));
    }
    if q.from_month.is_some() || q.to_month.is_some() {
        return Err(ApiError::invalid_field(
            "filter.from_month",
            "give either as_of or a month range, not both",
        ));
    }
    let rows = sum(
        db,
        tenant,
        q,
        metric::FUNNEL_DAY,
        &TEAM_AND_REP,
        (None, Some(day)),
        None,
    )
    .await?;
    // After the rows: the catalog only grows, so it names every stage they count.
    let catalog = open_catalog(db, tenant).await?;
    let as_of = |rows: &[&RollupRow]| {
        let mut reached: BTreeMap<i64, i64> = BTreeMap::new();
        let (mut won, mut lost) = (0, 0);
        for r in rows {
            match r.k1.as_str() {
                "reached" => *reached.entry(r.k2).or_default() += r.count,
                "won" => won += r.count,
                "lost" => lost += r.count,
                _ => {}
            }
        }
        let reached: Vec<ReachedBucket> = reached
            .into_iter()
            .map(|(order, n)| ReachedBucket {
                max_order_reached: order,
                count: count(n),
                amount: 0.0,
            })
            .collect();
        let closed = [
            (OpportunityStatus::Won, won),
            (OpportunityStatus::Lost, lost),
        ]
        .map(|(status, n)| StageOccupancy {
            stage: String::new(),
            status,
            count: count(n),
            amount: 0.0,
        });
        let mut f = domain::funnel(&catalog, &reached, &closed);
        for s in &mut f.stages {
            s.current_count = 0;
        }
        f
    };
    let total = as_of(&rows.iter().collect::<Vec<_>>());
    let slices = if q.slice == SliceBy::None {
        Vec::new()
    } else {
        by_group(rows)
            .into_iter()
            .map(|(group, rows)| {
                let f = as_of(&rows.iter().collect::<Vec<_>>());
                FunnelSlice {
                    slice: group,
                    stages: funnel_stages(&f),
                    opportunities_won: f.won,
                    opportunities_lost: f.lost,
                    won_amount: 0.0,
                }
            })
            .collect()
    };
    Ok(FunnelResponse {
        stages: funnel_stages(&total),
        leads_received: 0,
        opportunities_won: total.won,
        opportunities_lost: total.lost,
        won_amount: 0.0,
        slices,
        as_of_day: format!(
            "{:04}-{:02}-{:02}",
            day / 10_000,
            (day / 100) % 100,
            day % 100
        ),
    })
}

fn cycle_times(catalog: &[CatalogStage], rows: &[RollupRow]) -> Vec<StageCycleTime> {
    let mut stages: BTreeMap<&str, Vec<(i64, u64)>> = BTreeMap::new();
    for r in rows {
        stages
            .entry(r.k1.as_str())
            .or_default()
            .push((r.k2, count(r.count)));
    }
    let order = |stage: &str| {
        catalog
            .iter()
            .find(|c| c.stage == stage)
            .map_or(u32::MAX, |c| c.order)
    };
    let mut out: Vec<StageCycleTime> = stages
        .into_iter()
        .filter_map(|(stage, buckets)| {
            let n: u64 = buckets.iter().map(|b| b.1).sum();
            Some(StageCycleTime {
                stage: stage.to_owned(),
                order: order(stage),
                count: n,
                median_days: domain::quantile_days(&buckets, 0.5)?,
                p90_days: domain::quantile_days(&buckets, 0.9)?,
            })
        })
        .collect();
    out.sort_by(|a, b| (a.order, &a.stage).cmp(&(b.order, &b.stage)));
    out
}

pub async fn stage_cycle_times(
    db: &Db,
    tenant: &str,
    q: &ReportQuery,
) -> Result<StageCycleTimesResponse, ApiError> {
    let months = (q.from_month, q.to_month);
    let rows = sum(
        db,
        tenant,
        q,
        metric::STAGE_CYCLE,
        &TEAM_AND_REP,
        months,
        None,
    )
    .await?;
    // After the rows: the catalog only grows, so it names every stage they count.
    let catalog = open_catalog(db, tenant).await?;
    let slices = if q.slice == SliceBy::None {
        Vec::new()
    } else {
        by_group(rows.clone())
            .into_iter()
            .map(|(group, rows)| CycleTimeSlice {
                slice: slice_label(q.slice, &group),
                stages: cycle_times(&catalog, &rows),
            })
            .collect()
    };
    Ok(StageCycleTimesResponse {
        stages: cycle_times(&catalog, &rows),
        slices,
    })
}

fn win_loss_figures(
    slice: String,
    outcomes: &[&RollupRow],
    losses: &[&RollupRow],
) -> WinLossFigures {
    let (mut won, mut lost, mut won_cents, mut lost_cents) = (0, 0, 0, 0);
    for r in outcomes {
        if r.k1 == "won" {
            won += r.count;
            won_cents += r.amount_cents;
        } else if r.k1 == "lost" {
            lost += r.count;
            lost_cents += r.amount_cents;
        }
    }
    let mut reasons: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for r in losses {
        let e = reasons.entry(r.k1.as_str()).or_default();
        e.0 += r.count;
        e.1 += r.amount_cents;
    }
    let all_losses: i64 = reasons.values().map(|v| v.0).sum();
    let mut loss_reasons: Vec<LossReason> = reasons
        .into_iter()
        .filter(|(_, (n, _))| *n != 0)
        .map(|(reason, (n, cents))| LossReason {
            reason: reason.to_owned(),
            count: count(n),
            amount: money(cents),
            share: ratio(n as f64, all_losses as f64),
        })
        .collect();
    loss_reasons.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
    WinLossFigures {
        slice,
        won: count(won),
        lost: count(lost),
        won_amount: money(won_cents),
        lost_amount: money(lost_cents),
        win_rate: ratio(won as f64, (won + lost) as f64),
        average_deal_size: ratio(money(won_cents), won as f64),
        loss_reasons,
    }
}

pub async fn win_loss(db: &Db, tenant: &str, q: &ReportQuery) -> Result<WinLossResponse, ApiError> {
    let months = (q.from_month, q.to_month);
    let (outcomes, losses) = futures::try_join!(
        sum(db, tenant, q, metric::OUTCOME, &EVERY_DIM, months, None),
        sum(db, tenant, q, metric::LOSS_REASON, &EVERY_DIM, months, None),
    )?;
    let total = win_loss_figures(
        String::new(),
        &outcomes.iter().collect::<Vec<_>>(),
        &losses.iter().collect::<Vec<_>>(),
    );
    let slices = if q.slice == SliceBy::None {
        Vec::new()
    } else {
        let losses = by_group(losses);
        by_group(outcomes)
            .into_iter()
            .map(|(group, rows)| {
                let l: Vec<&RollupRow> = losses
                    .get(&group)
                    .map(|v| v.iter().collect())
                    .unwrap_or_default();
                win_loss_figures(
                    slice_label(q.slice, &group),
                    &rows.iter().collect::<Vec<_>>(),
                    &l,
                )
            })
            .collect()
    };
    Ok(WinLossResponse {
        total: Some(total),
        slices,
    })
}

pub async fn rep_activity(
    db: &Db,
    tenant: &str,
    q: &ReportQuery,
) -> Result<RepActivityResponse, ApiError> {
    let months = (q.from_month, q.to_month);
    let q = ReportQuery {
        slice: SliceBy::Rep,
        ..q.clone()
    };
    let (follow_ups, responses, reminders) = futures::try_join!(
        sum(
            db,
            tenant,
            &q,
            metric::FOLLOW_UP,
            &TEAM_AND_REP,
            months,
            None
        ),
        sum(
            db,
            tenant,
            &q,
            metric::FIRST_RESPONSE,
            &TEAM_AND_REP,
            months,
            None
        ),
        sum(
            db,
            tenant,
            &q,
            metric::REMINDER,
            &TEAM_AND_REP,
            months,
            None
        ),
    )?;
    let mut reps: BTreeMap<String, RepActivityRow> = BTreeMap::new();
    fn row<'a>(
        reps: &'a mut BTreeMap<String, RepActivityRow>,
        rep: &str,
    ) -> &'a mut RepActivityRow {
        reps.entry(rep.to_owned())
            .or_insert_with(|| RepActivityRow {
                rep_id: rep.to_owned(),
                ..Default::default()
            })
    }
    for r in &follow_ups {
        let e = row(&mut reps, &r.group);
        e.follow_ups += count(r.count);
        match e.follow_ups_by_kind.iter_mut().find(|k| k.kind == r.k1) {
            Some(k) => k.count += count(r.count),
            None => e.follow_ups_by_kind.push(ActivityKind {
                kind: r.k1.clone(),
                count: count(r.count),
            }),
        }
    }
    for r in &reminders {
        let e = row(&mut reps, &r.group);
        match r.k1.as_str() {
            "due" => e.reminders_due += count(r.count),
            "escalated" => e.reminders_escalated += count(r.count),
            _ => {}
        }
    }
    for (rep, rows) in by_group(responses) {
        let buckets: Vec<(i64, u64)> = rows.iter().map(|r| (r.k2, count(r.count))).collect();
        let e = row(&mut reps, &rep);
        e.first_responses = buckets.iter().map(|b| b.1).sum();
        e.first_response_median_hours = domain::quantile_days(&buckets, 0.5).unwrap_or(0.0) * 24.0;
        e.first_response_p90_hours = domain::quantile_days(&buckets, 0.9).unwrap_or(0.0) * 24.0;
    }
    let mut reps: Vec<RepActivityRow> = reps.into_values().collect();
    for r in &mut reps {
        r.follow_ups_by_kind.sort_by(|a, b| a.kind.cmp(&b.kind));
    }
    Ok(RepActivityResponse { reps })
}

pub async fn source_quality(
    db: &Db,
    tenant: &str,
    q: &ReportQuery,
) -> Result<SourceQualityResponse, ApiError> {
    let months = (q.from_month, q.to_month);
    let q = ReportQuery {
        slice: SliceBy::Source,
        ..q.clone()
    };
    let (leads, outcomes) = futures::try_join!(
        sum(
            db,
            tenant,
            &q,
            metric::LEAD_SOURCE,
            &[dim::ALL, dim::SOURCE, dim::REP],
            months,
            None
        ),
        sum(db, tenant, &q, metric::OUTCOME, &EVERY_DIM, months, None),
    )?;
    let mut sources: BTreeMap<String, SourceQualityRow> = BTreeMap::new();
    fn row<'a>(
        sources: &'a mut BTreeMap<String, SourceQualityRow>,
        source: &str,
    ) -> &'a mut SourceQualityRow {
        sources
            .entry(source.to_owned())
            .or_insert_with(|| SourceQualityRow {
                source: source.to_owned(),
                ..Default::default()
            })
    }
    for r in &leads {
        let e = row(&mut sources, &r.group);
        let n = count(r.count);
        match r.k1.as_str() {
            "received" => e.leads_received += n,
            "qualified" => e.leads_qualified += n,
            "assigned" => e.leads_assigned += n,
            "pooled" => e.leads_pooled += n,
            _ => {}
        }
    }
    for r in outcomes.iter().filter(|r| r.k1 == "won") {
        let e = row(&mut sources, &r.group);
        e.opportunities_won += count(r.count);
        e.won_amount += money(r.amount_cents);
    }
    let mut rows: Vec<SourceQualityRow> = sources.into_values().collect();
    for r in &mut rows {
        r.qualification_rate = ratio(r.leads_qualified as f64, r.leads_received as f64);
        r.revenue_per_lead = ratio(r.won_amount, r.leads_received as f64);
    }
    Ok(SourceQualityResponse { sources: rows })
}

pub async fn forecast(
    db: &Db,
    tenant: &str,
    q: &ReportQuery,
    thresholds: CategoryThresholds,
) -> Result<ForecastResponse, ApiError> {
    let months = (q.from_month, q.to_month);
    let q = ReportQuery {
        slice: SliceBy::Period,
        ..q.clone()
    };
    let (open, outcomes, funnel) = futures::try_join!(
        sum(
            db,
            tenant,
            &q,
            metric::OPEN_PIPELINE,
            &TEAM_AND_REP,
            months,
            None
        ),
        sum(db, tenant, &q, metric::OUTCOME, &EVERY_DIM, months, None),
        // History: every closed deal in scope, whenever it opened.
        sum(
            db,
            tenant,
            &q,
            metric::FUNNEL,
            &EVERY_DIM,
            (None, None),
            Some(Group::Nothing)
        ),
    )?;
    // After the rows: the catalog only grows, so it names every stage they count.
    let catalog = open_catalog(db, tenant).await?;
    let mut stage_win_rates = Vec::new();
    let mut rates = BTreeMap::new();
    for c in &catalog {
        let (mut closed, mut won) = (0, 0);
        for r in funnel.iter().filter(|r| r.k2 >= i64::from(c.order)) {
            match r.k1.as_str() {
                "won" => {
                    won += r.count;
                    closed += r.count;
                }
                "lost" => closed += r.count,
                _ => {}
            }
        }
        let rate = ratio(won as f64, closed as f64);
        rates.insert(c.stage.clone(), rate);
        stage_win_rates.push(StageWinRate {
            stage: c.stage.clone(),
            order: c.order,
            closed: count(closed),
            won: count(won),
            rate,
        });
    }
    let open: Vec<OpenDeals> = open
        .iter()
        .map(|r| OpenDeals {
            close_month: r.group.parse().unwrap_or(0),
            stage: r.k1.clone(),
            probability_permille: r.k2,
            count: count(r.count),
            amount_cents: r.amount_cents,
        })
        .collect();
    let won: Vec<ClosedWon> = outcomes
        .iter()
        .filter(|r| r.k1 == "won")
        .map(|r| ClosedWon {
            close_month: r.group.parse().unwrap_or(0),
            count: count(r.count),
            amount_cents: r.amount_cents,
        })
        .collect();
    let months = domain::forecast(&open, &won, &rates, thresholds)
        .into_iter()
        .filter(|m| m.open_count > 0 || m.closed_won_count > 0)
        .map(|m| ForecastMonth {
            close_month: if m.close_month == 0 {
                String::new()
            } else {
                format_month(m.close_month)
            },
            open_count: m.open_count,
            pipeline_amount: m.pipeline_amount,
            weighted_amount: m.weighted_amount,
            historical_amount: m.historical_amount,
            best_case_amount: m.best_case_amount,
            commit_amount: m.commit_amount,
            closed_won_amount: m.closed_won_amount,
            closed_won_count: m.closed_won_count,
        })
        .collect();
    Ok(ForecastResponse {
        months,
        stage_win_rates,
        commit_probability: thresholds.commit_permille as f64 / 1000.0,
        best_case_probability: thresholds.best_case_permille as f64 / 1000.0,
    })
}
