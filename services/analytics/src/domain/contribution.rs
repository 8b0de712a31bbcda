//! The read models are sums. Every opportunity and lead contributes counts and amounts
//! to a few rollup rows, a pure function of its merged state; when an event changes a
//! state, the rollups move by (new contributions − old contributions). Because states
//! merge in any order and the rollups are a function of the states, the rollups do not
//! depend on the order of events either, and a rebuild gives exactly the same rows.

use std::collections::BTreeMap;

use super::histogram::bucket_of;
use super::lead::LeadState;
use super::opportunity::{OpportunityState, Touch};
use super::period::{day_key, month_key};
use super::stage::OpportunityStatus;

/// The reports, each a metric in the rollup table.
pub mod metric {
    /// k1 status, k2 furthest stage order reached, k3 current stage; period = cohort month.
    pub const FUNNEL: &str = "funnel";
    /// k1 won|lost; period = close month.
    pub const OUTCOME: &str = "outcome";
    /// k1 loss reason; period = close month.
    pub const LOSS_REASON: &str = "loss_reason";
    /// k1 stage, k2 duration bucket; period = month the stage was left.
    pub const STAGE_CYCLE: &str = "stage_cycle";
    /// k2 bucket of the time from creation to the first follow-up; period = cohort month.
    pub const FIRST_RESPONSE: &str = "first_response";
    /// k1 activity kind; period = month of the activity.
    pub const FOLLOW_UP: &str = "follow_up";
    /// k1 due|escalated; period = month it fired.
    pub const REMINDER: &str = "reminder";
    /// Open deals: k1 stage, k2 stage probability in thousandths; period = expected
    /// close month (0 when unset).
    pub const OPEN_PIPELINE: &str = "open_pipeline";
    /// Dated deltas for time travel, period = day: k1 `reached` with k2 the furthest
    /// stage order (moves from the old to the new order on the day it grew), or k1
    /// won|lost (+1 on the close day, −1 on a later reopening day).
    pub const FUNNEL_DAY: &str = "funnel_day";
    /// Leads per source: k1 received|qualified|assigned|pooled; period = cohort month.
    pub const LEAD_SOURCE: &str = "lead_source";
}

/// The slicing dimensions. `all` has the empty value; `rep` holds the owner.
pub mod dim {
    pub const ALL: &str = "all";
    pub const SOURCE: &str = "source";
    pub const INDUSTRY: &str = "industry";
    pub const REGION: &str = "region";
    pub const REP: &str = "rep";
}

/// The `team` of the rows that total a dimension over every team. Reports for the
/// whole tenant read them instead of summing each team's rows, so their cost does not
/// grow with the number of teams; a manager's scope reads its own teams' rows. Team ids
/// are `[A-Za-z0-9._-]`, so no team can be called this. The `rep` dimension has no
/// totals: a rep belongs to one team, so its rows are not repeated per team.
pub const ALL_TEAMS: &str = "*";

/// One rollup row's identity (besides tenant).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RollupKey {
    pub metric: &'static str,
    pub dim: &'static str,
    pub dim_value: String,
    pub team: String,
    pub period: i64,
    pub k1: String,
    pub k2: i64,
    pub k3: String,
}

/// What a row sums: how many, and amounts in cents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Measure {
    pub count: i64,
    pub amount_cents: i64,
}

/// Rollup rows and what an opportunity or lead adds to each.
pub type Contributions = BTreeMap<RollupKey, Measure>;

/// What to add to the rollups to move from `old` to `new` (rows that net to zero
/// left out).
pub fn delta(old: &Contributions, new: &Contributions) -> Contributions {
    let mut out = new.clone();
    for (key, m) in old {
        let e = out.entry(key.clone()).or_default();
        e.count -= m.count;
        e.amount_cents -= m.amount_cents;
    }
    out.retain(|_, m| m.count != 0 || m.amount_cents != 0);
    out
}

/// Adds `more` into `into` (for batching several deltas before writing them).
pub fn accumulate(into: &mut Contributions, more: Contributions) {
    for (key, m) in more {
        let e = into.entry(key).or_default();
        e.count += m.count;
        e.amount_cents += m.amount_cents;
    }
}

struct Sink<'a> {
    out: &'a mut Contributions,
    team: &'a str,
}

impl Sink<'_> {
    #[allow(clippy::too_many_arguments)] // one row's key, spelled out at each call
    fn add(
        &mut self,
        metric: &'static str,
        dims: &[(&'static str, &str)],
        period: i64,
        k1: &str,
        k2: i64,
        k3: &str,
        count: i64,
        amount_cents: i64,
    ) {
        for (dim, value) in dims {
            let teams: &[&str] = if *dim == dim::REP {
                &[self.team]
            } else {
                &[self.team, ALL_TEAMS]
            };
            for team in teams {
                let e = self
                    .out
                    .entry(RollupKey {
                        metric,
                        dim,
                        dim_value: (*value).to_owned(),
                        team: (*team).to_owned(),
                        period,
                        k1: k1.to_owned(),
                        k2,
                        k3: k3.to_owned(),
                    })
                    .or_default();
                e.count += count;
                e.amount_cents += amount_cents;
            }
        }
    }
}

impl Sink<'_> {
    /// A reminder that fell due or escalated counts for the month and the rep it was for.
    fn add_reminders<'t>(&mut self, reminders: impl Iterator<Item = &'t Touch>) {
        for touch in reminders {
            let dims = [(dim::ALL, ""), (dim::REP, touch.rep_id.as_str())];
            self.add(
                metric::REMINDER,
                &dims,
                month_key(touch.at),
                &touch.kind,
                0,
                "",
                1,
                0,
            );
        }
    }
}

/// Every row an opportunity contributes to.
pub fn of_opportunity(s: &OpportunityState) -> Contributions {
    let mut out = Contributions::new();
    let team = s.team.value.as_str();
    let mut sink = Sink {
        out: &mut out,
        team,
    };
    let owner = s.owner.value.as_str();
    let origin = &s.origin.value;
    let every: [(&'static str, &str); 5] = [
        (dim::ALL, ""),
        (dim::SOURCE, &origin.source),
        (dim::INDUSTRY, &origin.industry),
        (dim::REGION, &origin.region),
        (dim::REP, owner),
    ];
    let with_rep: [(&'static str, &str); 2] = [(dim::ALL, ""), (dim::REP, owner)];
    let status = s.status();
    let amount = s.amount_cents.value;
    let cohort = month_key(s.cohort_at());
    let max_reached = i64::from(s.max_order_reached());

    sink.add(
        metric::FUNNEL,
        &every,
        cohort,
        status.as_str(),
        max_reached,
        &s.stage.value.stage,
        1,
        amount,
    );

    match (&s.closing, status) {
        (Some(c), OpportunityStatus::Won | OpportunityStatus::Lost) => {
            let month = month_key(c.at);
            sink.add(
                metric::OUTCOME,
                &every,
                month,
                status.as_str(),
                0,
                "",
                1,
                amount,
            );
            if status == OpportunityStatus::Lost {
                let reason = if c.reason.trim().is_empty() {
                    "unspecified"
                } else {
                    c.reason.trim()
                };
                sink.add(metric::LOSS_REASON, &every, month, reason, 0, "", 1, amount);
            }
        }
        _ => {
            let close_month = s.expected_close_at.value.map_or(0, month_key);
            sink.add(
                metric::OPEN_PIPELINE,
                &with_rep,
                close_month,
                &s.stage.value.stage,
                s.probability_permille.value,
                "",
                1,
                amount,
            );
        }
    }

    // Time in each stage it left: until it first stood somewhere else, or closed.
    let visits = s.visits_in_time_order();
    let closed_at = s.closing.as_ref().map(|c| c.at);
    for (i, (stage, entered, _)) in visits.iter().enumerate() {
        let next = visits[i + 1..].iter().map(|v| v.1).find(|&t| t > *entered);
        let left = match (next, closed_at.filter(|&c| c >= *entered)) {
            (Some(n), Some(c)) => Some(n.min(c)),
            (n, c) => n.or(c),
        };
        if let Some(left) = left {
            sink.add(
                metric::STAGE_CYCLE,
                &with_rep,
                month_key(left),
                stage,
                bucket_of(left - entered),
                "",
                1,
                0,
            );
        }
    }

    if let (Some(first), Some(created)) = (s.first_activity_at(), s.created_at) {
        sink.add(
            metric::FIRST_RESPONSE,
            &with_rep,
            month_key(created),
            "",
            bucket_of(first - created),
            "",
            1,
            0,
        );
    }
    for touch in s.activities.values() {
        let dims = [(dim::ALL, ""), (dim::REP, touch.rep_id.as_str())];
        sink.add(
            metric::FOLLOW_UP,
            &dims,
            month_key(touch.at),
            &touch.kind,
            0,
            "",
            1,
            0,
        );
    }
    sink.add_reminders(s.reminders.values());

    // Time travel: the furthest order reached as a step function of the day.
    let mut furthest: Option<u32> = None;
    for (_, at, order) in &visits {
        if furthest.is_some_and(|f| *order <= f) {
            continue;
        }
        let day = day_key(*at);
        if let Some(f) = furthest {
            sink.add(
                metric::FUNNEL_DAY,
                &with_rep,
                day,
                "reached",
                i64::from(f),
                "",
                -1,
                0,
            );
        }
        sink.add(
            metric::FUNNEL_DAY,
            &with_rep,
            day,
            "reached",
            i64::from(*order),
            "",
            1,
            0,
        );
        furthest = Some(*order);
    }
    if let Some(c) = &s.closing {
        let outcome = if c.won { "won" } else { "lost" };
        sink.add(
            metric::FUNNEL_DAY,
            &with_rep,
            day_key(c.at),
            outcome,
            0,
            "",
            1,
            0,
        );
        if let Some(r) = s.reopened_at.filter(|&r| r > c.at) {
            sink.add(
                metric::FUNNEL_DAY,
                &with_rep,
                day_key(r),
                outcome,
                0,
                "",
                -1,
                0,
            );
        }
    }
    out
}

/// Every row a lead contributes to.
pub fn of_lead(s: &LeadState) -> Contributions {
    let mut out = Contributions::new();
    let (rep, team) = &s.holder.value;
    let mut sink = Sink {
        out: &mut out,
        team,
    };
    let dims = [
        (dim::ALL, ""),
        (dim::SOURCE, s.source()),
        (dim::REP, rep.as_str()),
    ];
    let cohort = month_key(s.cohort_at());
    let steps = [
        ("received", s.received_at.is_some()),
        ("qualified", s.qualified),
        ("assigned", s.assigned),
        ("pooled", s.pooled),
    ];
    for (step, happened) in steps {
        if happened {
            sink.add(metric::LEAD_SOURCE, &dims, cohort, step, 0, "", 1, 0);
        }
    }
    sink.add_reminders(s.reminders.values());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::opportunity::{Closing, OpportunityFacts, StagePosition};

    fn key_count(c: &Contributions, metric: &str, dim: &str) -> i64 {
        c.iter()
            .filter(|(k, _)| k.metric == metric && k.dim == dim && k.team != ALL_TEAMS)
            .map(|(_, m)| m.count)
            .sum()
    }

    #[test]
    fn a_stage_move_shifts_the_funnel_row_and_nets_the_day_steps() {
        let mut s = OpportunityState::new(i64::MAX);
        s.merge(&OpportunityFacts {
            at: 1_000,
            owner: Some("a".into()),
            stage: Some(StagePosition {
                stage: "lead".into(),
                order: 0,
            }),
            visited: vec![("lead".into(), Some(0))],
            amount: Some(1.0),
            created_at: Some(1_000),
            ..Default::default()
        });
        let before = of_opportunity(&s);
        assert_eq!(key_count(&before, metric::FUNNEL, dim::ALL), 1);
        assert_eq!(key_count(&before, metric::OPEN_PIPELINE, dim::REP), 1);
        let mut moved = s.clone();
        moved.merge(&OpportunityFacts {
            at: 5 * 86_400_000,
            stage: Some(StagePosition {
                stage: "proposal".into(),
                order: 2,
            }),
            visited: vec![("proposal".into(), Some(2))],
            ..Default::default()
        });
        let d = delta(&before, &of_opportunity(&moved));
        // Funnel: one row out, one in, for each of the five dimensions, and for the
        // all-teams totals of the four that have them.
        assert_eq!(
            d.iter().filter(|(k, _)| k.metric == metric::FUNNEL).count(),
            18
        );
        assert!(
            d.keys()
                .any(|k| k.team == ALL_TEAMS && k.dim == dim::SOURCE)
        );
        assert!(!d.keys().any(|k| k.team == ALL_TEAMS && k.dim == dim::REP));
        assert_eq!(key_count(&d, metric::FUNNEL, dim::ALL), 0);
        // The time in `lead` became known.
        assert_eq!(key_count(&d, metric::STAGE_CYCLE, dim::ALL), 1);
        // Day steps net to one opportunity at any date.
        let after = of_opportunity(&moved);
        assert_eq!(key_count(&after, metric::FUNNEL_DAY, dim::ALL), 1);
        // Applying the same state again moves nothing.
        assert!(delta(&after, &of_opportunity(&moved)).is_empty());
    }

    #[test]
    fn a_close_leaves_the_pipeline_and_counts_the_outcome() {
        let mut s = OpportunityState::new(0);
        s.merge(&OpportunityFacts {
            at: 10,
            amount: Some(99.5),
            closing: Some(Closing {
                at: 10,
                won: false,
                reason: " price ".into(),
            }),
            ..Default::default()
        });
        let c = of_opportunity(&s);
        assert_eq!(key_count(&c, metric::OPEN_PIPELINE, dim::ALL), 0);
        assert_eq!(key_count(&c, metric::OUTCOME, dim::ALL), 1);
        let reason = c
            .keys()
            .find(|k| k.metric == metric::LOSS_REASON)
            .expect("loss row");
        assert_eq!(reason.k1, "price");
        let mut acc = Contributions::new();
        accumulate(&mut acc, c.clone());
        accumulate(&mut acc, delta(&c, &Contributions::new()));
        assert!(acc.values().all(|m| *m == Measure::default()));
    }
}
