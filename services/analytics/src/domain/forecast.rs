//! The forecast: open deals by expected close month, weighted by their stage's win
//! probability, by the historical share of deals from their stage that were won, and
//! split into forecast categories by probability.

use std::collections::BTreeMap;

/// Probability thresholds of the forecast categories, in thousandths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CategoryThresholds {
    /// At or above: `commit`.
    pub commit_permille: i64,
    /// At or above (and below commit): `best case`; below: `pipeline`.
    pub best_case_permille: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    Pipeline,
    BestCase,
    Commit,
}

impl CategoryThresholds {
    pub fn category(&self, permille: i64) -> Category {
        if permille >= self.commit_permille {
            Category::Commit
        } else if permille >= self.best_case_permille {
            Category::BestCase
        } else {
            Category::Pipeline
        }
    }
}

/// Open deals of one stage and probability expected to close in one month.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenDeals {
    /// `yyyymm`, 0 when no close date is set.
    pub close_month: i64,
    pub stage: String,
    pub probability_permille: i64,
    pub count: u64,
    pub amount_cents: i64,
}

/// Won deals of one close month.
#[derive(Clone, Debug, PartialEq)]
pub struct ClosedWon {
    pub close_month: i64,
    pub count: u64,
    pub amount_cents: i64,
}

/// One month of the forecast, amounts in currency units.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ForecastMonth {
    pub close_month: i64,
    pub open_count: u64,
    pub pipeline_amount: f64,
    /// Σ amount × stage probability.
    pub weighted_amount: f64,
    /// Σ amount × historical win rate from the deal's stage.
    pub historical_amount: f64,
    pub best_case_amount: f64,
    pub commit_amount: f64,
    pub closed_won_amount: f64,
    pub closed_won_count: u64,
}

/// The forecast per close month. `stage_win_rate` gives, per stage name, the share of
/// closed deals that had reached it and were won (stages it lacks count as 0).
pub fn forecast(
    open: &[OpenDeals],
    won: &[ClosedWon],
    stage_win_rate: &BTreeMap<String, f64>,
    thresholds: CategoryThresholds,
) -> Vec<ForecastMonth> {
    let mut months: BTreeMap<i64, ForecastMonth> = BTreeMap::new();
    for d in open {
        let m = months
            .entry(d.close_month)
            .or_insert_with(|| ForecastMonth {
                close_month: d.close_month,
                ..Default::default()
            });
        let amount = d.amount_cents as f64 / 100.0;
        m.open_count += d.count;
        m.pipeline_amount += amount;
        m.weighted_amount += amount * d.probability_permille as f64 / 1000.0;
        m.historical_amount += amount * stage_win_rate.get(&d.stage).copied().unwrap_or(0.0);
        match thresholds.category(d.probability_permille) {
            Category::Commit => m.commit_amount += amount,
            Category::BestCase => m.best_case_amount += amount,
            Category::Pipeline => {}
        }
    }
    for w in won {
        let m = months
            .entry(w.close_month)
            .or_insert_with(|| ForecastMonth {
                close_month: w.close_month,
                ..Default::default()
            });
        m.closed_won_amount += w.amount_cents as f64 / 100.0;
        m.closed_won_count += w.count;
    }
    months.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_categories_and_history() {
        let t = CategoryThresholds {
            commit_permille: 700,
            best_case_permille: 400,
        };
        let open = [
            OpenDeals {
                close_month: 202_612,
                stage: "proposal".into(),
                probability_permille: 500,
                count: 2,
                amount_cents: 100_000,
            },
            OpenDeals {
                close_month: 202_612,
                stage: "negotiation".into(),
                probability_permille: 800,
                count: 1,
                amount_cents: 50_000,
            },
            OpenDeals {
                close_month: 0,
                stage: "lead".into(),
                probability_permille: 100,
                count: 1,
                amount_cents: 1_000,
            },
        ];
        let won = [ClosedWon {
            close_month: 202_611,
            count: 1,
            amount_cents: 30_000,
        }];
        let rates = BTreeMap::from([
            ("proposal".to_owned(), 0.25),
            ("negotiation".to_owned(), 0.5),
        ]);
        let f = forecast(&open, &won, &rates, t);
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].close_month, 0);
        assert_eq!(f[0].pipeline_amount, 10.0);
        assert_eq!(f[0].historical_amount, 0.0);
        assert_eq!(f[1].closed_won_amount, 300.0);
        let dec = &f[2];
        assert_eq!(dec.open_count, 3);
        assert_eq!(dec.pipeline_amount, 1_500.0);
        assert_eq!(dec.weighted_amount, 500.0 + 400.0);
        assert_eq!(dec.historical_amount, 250.0 + 250.0);
        assert_eq!((dec.best_case_amount, dec.commit_amount), (1_000.0, 500.0));
    }
}
