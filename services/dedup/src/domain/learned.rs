//! Learned lead scoring: naive Bayes over the lead's field values (see
//! [`super::learned_features`]), trained incrementally on won and lost opportunities.
//!
//! Every probability is Laplace-smoothed (`ALPHA` pseudo-outcomes per value), so a value
//! seen only with wins still leaves room for a loss; and the final log-odds are bounded
//! to ±ln(99), so the model can never say 0 % or 100 %, only 1 % to 99 %. Each factor is
//! the log-odds weight one field's value adds; the weights and the prior add up to the
//! log-odds of winning, from which the score (100 × probability) follows.

use super::score::ScoreFactor;

/// Pseudo-outcomes added to every value's count, in both classes.
pub const ALPHA: f64 = 1.0;
/// Log-odds are kept within ±ln(99): a learned score is always within 1..=99.
pub fn max_log_odds() -> f64 {
    99f64.ln()
}

/// Won and lost outcomes counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutcomeCounts {
    pub won: i64,
    pub lost: i64,
}

impl OutcomeCounts {
    pub fn total(&self) -> i64 {
        self.won + self.lost
    }
}

/// What the model knows about one of the lead's values.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueStats {
    pub field: String,
    pub value: String,
    /// Outcomes of leads that had this value.
    pub counts: OutcomeCounts,
    /// Distinct values of the field seen with outcomes (this one included or not).
    pub distinct_values: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LearnedScore {
    /// 1..=99
    pub score: f64,
    /// The prior first, then one factor per field: `points` is its log-odds weight.
    pub factors: Vec<ScoreFactor>,
}

/// Why the learned model did not score: it falls back to the rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotYet {
    /// Fewer outcomes than the tenant's minimum.
    TooFewOutcomes { have: i64, need: i64 },
    /// Only wins or only losses so far: nothing to tell them apart by.
    OneSided,
}

/// Whether the model can score at all with these outcomes; callers check this before
/// reading the lead's value statistics, which it would not use otherwise.
pub fn ready(totals: OutcomeCounts, min_outcomes: i64) -> Result<(), NotYet> {
    if totals.total() < min_outcomes.max(1) {
        return Err(NotYet::TooFewOutcomes {
            have: totals.total(),
            need: min_outcomes.max(1),
        });
    }
    if totals.won == 0 || totals.lost == 0 {
        return Err(NotYet::OneSided);
    }
    Ok(())
}

/// The learned score of a lead with `values`, or why there is none yet.
pub fn learned_score(
    totals: OutcomeCounts,
    values: &[ValueStats],
    min_outcomes: i64,
) -> Result<LearnedScore, NotYet> {
    ready(totals, min_outcomes)?;
    let (won, lost) = (totals.won as f64, totals.lost as f64);
    let prior = ((won + ALPHA) / (lost + ALPHA)).ln();
    let mut factors = vec![ScoreFactor {
        factor: "prior".to_owned(),
        points: prior,
        detail: format!(
            "{} won and {} lost of {} outcomes learned",
            totals.won,
            totals.lost,
            totals.total()
        ),
    }];
    let mut log_odds = prior;
    for stats in values {
        // One bucket per value seen, plus one for values not seen yet.
        let buckets = (stats.distinct_values.max(0) + 1) as f64;
        let p_won = (stats.counts.won.max(0) as f64 + ALPHA) / (won + ALPHA * buckets);
        let p_lost = (stats.counts.lost.max(0) as f64 + ALPHA) / (lost + ALPHA * buckets);
        let weight = (p_won / p_lost).ln();
        log_odds += weight;
        factors.push(ScoreFactor {
            factor: stats.field.clone(),
            points: weight,
            detail: format!(
                "{} {}: {} won, {} lost (likelihood ratio {:.2})",
                stats.field,
                stats.value,
                stats.counts.won,
                stats.counts.lost,
                p_won / p_lost
            ),
        });
    }
    let bounded = log_odds.clamp(-max_log_odds(), max_log_odds());
    let probability = 1.0 / (1.0 + (-bounded).exp());
    Ok(LearnedScore {
        score: (probability * 100.0).clamp(1.0, 99.0),
        factors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(field: &str, value: &str, won: i64, lost: i64, distinct: i64) -> ValueStats {
        ValueStats {
            field: field.into(),
            value: value.into(),
            counts: OutcomeCounts { won, lost },
            distinct_values: distinct,
        }
    }

    #[test]
    fn it_waits_for_enough_outcomes_of_both_kinds() {
        let few = OutcomeCounts { won: 3, lost: 2 };
        assert_eq!(
            learned_score(few, &[], 30),
            Err(NotYet::TooFewOutcomes { have: 5, need: 30 })
        );
        let all_won = OutcomeCounts { won: 40, lost: 0 };
        assert_eq!(learned_score(all_won, &[], 30), Err(NotYet::OneSided));
    }

    #[test]
    fn values_seen_with_wins_score_higher_than_values_seen_with_losses() {
        let totals = OutcomeCounts { won: 20, lost: 20 };
        let good = learned_score(totals, &[stats("source", "referral", 18, 2, 2)], 10).unwrap();
        let bad = learned_score(totals, &[stats("source", "cold call", 2, 18, 2)], 10).unwrap();
        let unseen = learned_score(totals, &[stats("source", "expo", 0, 0, 2)], 10).unwrap();
        assert!(good.score > 80.0, "{good:?}");
        assert!(bad.score < 20.0, "{bad:?}");
        assert!(
            (unseen.score - 50.0).abs() < 1e-9,
            "an unseen value says nothing"
        );
        assert_eq!(good.factors[0].factor, "prior");
        assert!(good.factors[1].points > 0.0 && bad.factors[1].points < 0.0);
        assert!(
            good.factors[1]
                .detail
                .starts_with("source referral: 18 won, 2 lost")
        );
        let log_odds: f64 = good.factors.iter().map(|f| f.points).sum();
        assert!((100.0 / (1.0 + (-log_odds).exp()) - good.score).abs() < 1e-9);
    }

    #[test]
    fn no_evidence_however_one_sided_reaches_zero_or_one_hundred() {
        let totals = OutcomeCounts {
            won: 1_000_000,
            lost: 1,
        };
        let values: Vec<ValueStats> = (0..10)
            .map(|i| stats(&format!("f{i}"), "v", 1_000_000, 0, 1))
            .collect();
        let sure = learned_score(totals, &values, 1).unwrap();
        assert!(sure.score <= 99.0 && sure.score >= 1.0, "{}", sure.score);
        let values: Vec<ValueStats> = (0..10)
            .map(|i| stats(&format!("f{i}"), "v", 0, 1, 1))
            .collect();
        let hopeless = learned_score(
            OutcomeCounts {
                won: 1,
                lost: 1_000_000,
            },
            &values,
            1,
        )
        .unwrap();
        assert!(hopeless.score >= 1.0, "{}", hopeless.score);
        assert!(hopeless.factors.iter().all(|f| f.points.is_finite()));
    }
}
