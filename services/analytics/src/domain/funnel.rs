//! The funnel: how many opportunities reached each stage, what they are worth, how
//! many sit there now, and what share went on to the next stage (the last open stage's
//! next step is winning).
//!
//! An opportunity "reached" a stage when the furthest stage it ever stood in is at or
//! beyond that stage's order; so the counts never grow down the funnel, and an
//! opportunity that moved back still counts for where it had been.

use super::stage::OpportunityStatus;

/// The name of the final funnel entry, counting won opportunities.
pub const WON_STAGE: &str = "won";

/// A non-terminal stage of the tenant's pipeline, with its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogStage {
    pub stage: String,
    pub order: u32,
}

/// Opportunities whose furthest stage has this order: how many, and their amounts.
#[derive(Clone, Debug, PartialEq)]
pub struct ReachedBucket {
    pub max_order_reached: i64,
    pub count: u64,
    pub amount: f64,
}

/// Opportunities with this status whose current stage is this one.
#[derive(Clone, Debug, PartialEq)]
pub struct StageOccupancy {
    pub stage: String,
    pub status: OpportunityStatus,
    pub count: u64,
    pub amount: f64,
}

/// One funnel entry.
#[derive(Clone, Debug, PartialEq)]
pub struct FunnelStageFigures {
    pub stage: String,
    pub order: u32,
    /// Opportunities that reached this stage (and possibly went further).
    pub count: u64,
    /// Sum of their current amounts.
    pub amount: f64,
    /// Opportunities sitting in this stage now (open ones; for `won`, the won ones).
    pub current_count: u64,
    /// count of the next entry / count of this one; 0 when this one is empty.
    pub conversion_to_next: f64,
}

/// The whole funnel.
#[derive(Clone, Debug, PartialEq)]
pub struct Funnel {
    /// One entry per catalog stage in order, then [`WON_STAGE`].
    pub stages: Vec<FunnelStageFigures>,
    pub won: u64,
    pub won_amount: f64,
    pub lost: u64,
}

/// Builds the funnel from the catalog (any order; terminal stages must already be left
/// out), the furthest-stage histogram and the current occupancy.
pub fn funnel(
    catalog: &[CatalogStage],
    reached: &[ReachedBucket],
    occupancy: &[StageOccupancy],
) -> Funnel {
    let mut catalog = catalog.to_vec();
    catalog.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.stage.cmp(&b.stage)));

    let (mut won, mut won_amount, mut lost) = (0u64, 0.0f64, 0u64);
    for o in occupancy {
        match o.status {
            OpportunityStatus::Won => {
                won += o.count;
                won_amount += o.amount;
            }
            OpportunityStatus::Lost => lost += o.count,
            OpportunityStatus::Open => {}
        }
    }

    let mut stages: Vec<FunnelStageFigures> = catalog
        .iter()
        .map(|c| {
            let (count, amount) = reached
                .iter()
                .filter(|b| b.max_order_reached >= i64::from(c.order))
                .fold((0u64, 0.0f64), |(n, a), b| (n + b.count, a + b.amount));
            let current_count = occupancy
                .iter()
                .filter(|o| o.status == OpportunityStatus::Open && o.stage == c.stage)
                .map(|o| o.count)
                .sum();
            FunnelStageFigures {
                stage: c.stage.clone(),
                order: c.order,
                count,
                amount,
                current_count,
                conversion_to_next: 0.0,
            }
        })
        .collect();
    let won_order = catalog.last().map_or(0, |c| c.order.saturating_add(1));
    stages.push(FunnelStageFigures {
        stage: WON_STAGE.to_owned(),
        order: won_order,
        count: won,
        amount: won_amount,
        current_count: won,
        conversion_to_next: 0.0,
    });
    for i in 0..stages.len().saturating_sub(1) {
        let next = stages[i + 1].count;
        stages[i].conversion_to_next = ratio(next, stages[i].count);
    }
    Funnel {
        stages,
        won,
        won_amount,
        lost,
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(stage: &str, order: u32) -> CatalogStage {
        CatalogStage {
            stage: stage.to_owned(),
            order,
        }
    }

    fn reached(order: i64, count: u64, amount: f64) -> ReachedBucket {
        ReachedBucket {
            max_order_reached: order,
            count,
            amount,
        }
    }

    fn sitting(stage: &str, status: OpportunityStatus, count: u64, amount: f64) -> StageOccupancy {
        StageOccupancy {
            stage: stage.to_owned(),
            status,
            count,
            amount,
        }
    }

    fn figures(f: &Funnel) -> Vec<(&str, u32, u64, f64, u64, f64)> {
        f.stages
            .iter()
            .map(|s| {
                (
                    s.stage.as_str(),
                    s.order,
                    s.count,
                    s.amount,
                    s.current_count,
                    s.conversion_to_next,
                )
            })
            .collect()
    }

    #[test]
    fn counts_accumulate_down_from_the_furthest_stage_reached() {
        use OpportunityStatus::*;
        // 3 opportunities: two still in lead (100 each), one reached qualified and was won at 500.
        let f = funnel(
            &[stage("qualified", 1), stage("lead", 0)],
            &[reached(0, 2, 200.0), reached(1, 1, 500.0)],
            &[
                sitting("lead", Open, 2, 200.0),
                sitting("qualified", Won, 1, 500.0),
            ],
        );
        assert_eq!(
            figures(&f),
            vec![
                ("lead", 0, 3, 700.0, 2, 1.0 / 3.0),
                ("qualified", 1, 1, 500.0, 0, 1.0),
                ("won", 2, 1, 500.0, 1, 0.0),
            ]
        );
        assert_eq!((f.won, f.won_amount, f.lost), (1, 500.0, 0));
    }

    #[test]
    fn empty_stages_convert_at_zero_and_gaps_in_orders_are_fine() {
        use OpportunityStatus::*;
        let f = funnel(
            &[
                stage("lead", 0),
                stage("proposal", 5),
                stage("negotiation", 9),
            ],
            &[reached(0, 4, 40.0)],
            &[
                sitting("lead", Open, 3, 30.0),
                sitting("lead", Lost, 1, 10.0),
            ],
        );
        assert_eq!(
            figures(&f),
            vec![
                ("lead", 0, 4, 40.0, 3, 0.0),
                ("proposal", 5, 0, 0.0, 0, 0.0),
                ("negotiation", 9, 0, 0.0, 0, 0.0),
                ("won", 10, 0, 0.0, 0, 0.0),
            ]
        );
        assert_eq!((f.won, f.lost), (0, 1));
    }

    #[test]
    fn a_deal_won_straight_from_the_first_stage_counts_only_there() {
        use OpportunityStatus::*;
        let f = funnel(
            &[stage("lead", 0), stage("qualified", 1)],
            &[reached(0, 2, 300.0)],
            &[
                sitting("lead", Open, 1, 100.0),
                sitting("lead", Won, 1, 200.0),
            ],
        );
        assert_eq!(
            figures(&f),
            vec![
                ("lead", 0, 2, 300.0, 1, 0.0),
                ("qualified", 1, 0, 0.0, 0, 0.0),
                ("won", 2, 1, 200.0, 1, 0.0),
            ]
        );
    }

    #[test]
    fn without_a_catalog_there_is_only_won() {
        let f = funnel(&[], &[], &[]);
        assert_eq!(figures(&f), vec![("won", 0, 0, 0.0, 0, 0.0)]);
        assert_eq!((f.won, f.won_amount, f.lost), (0, 0.0, 0));
    }
}
