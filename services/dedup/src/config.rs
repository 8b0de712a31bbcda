//! Dedup's own settings. Its keys sit at the top level next to the shared ones, e.g.
//! `SHANGJI_DEDUP_GRADE_A_MIN_SCORE=75`.

use serde::{Deserialize, Serialize};

use crate::domain::GradeThresholds;
use crate::domain::matching::MatchThresholds;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DedupConfig {
    /// Lowest score (0..100) graded A.
    pub grade_a_min_score: f64,
    /// Lowest score graded B.
    pub grade_b_min_score: f64,
    /// Lowest score graded C; anything below is D.
    pub grade_c_min_score: f64,
    /// Lowest match score (0..1) at which a lead is attached to a known customer
    /// automatically; a tenant may override it (table `match_thresholds`).
    pub match_same_min: f64,
    /// Lowest match score at which a known customer is a possible match for review.
    pub match_possible_min: f64,
}

impl Default for DedupConfig {
    fn default() -> Self {
        let t = GradeThresholds::default();
        let m = MatchThresholds::default();
        DedupConfig {
            grade_a_min_score: t.a,
            grade_b_min_score: t.b,
            grade_c_min_score: t.c,
            match_same_min: m.same,
            match_possible_min: m.possible,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("configuration error in `{setting}`: {reason}")]
pub struct DedupConfigError {
    pub setting: &'static str,
    pub reason: String,
}

impl DedupConfig {
    /// The grade thresholds, once they are known to make sense: each within 0..=100
    /// and A >= B >= C.
    pub fn thresholds(&self) -> Result<GradeThresholds, DedupConfigError> {
        let settings = [
            ("grade_a_min_score", self.grade_a_min_score),
            ("grade_b_min_score", self.grade_b_min_score),
            ("grade_c_min_score", self.grade_c_min_score),
        ];
        for (setting, value) in settings {
            if !(0.0..=100.0).contains(&value) {
                return Err(DedupConfigError {
                    setting,
                    reason: format!("{value} must be a score from 0 to 100"),
                });
            }
        }
        if self.grade_b_min_score > self.grade_a_min_score {
            return Err(DedupConfigError {
                setting: "grade_b_min_score",
                reason: format!(
                    "{} must not exceed grade_a_min_score ({})",
                    self.grade_b_min_score, self.grade_a_min_score
                ),
            });
        }
        if self.grade_c_min_score > self.grade_b_min_score {
            return Err(DedupConfigError {
                setting: "grade_c_min_score",
                reason: format!(
                    "{} must not exceed grade_b_min_score ({})",
                    self.grade_c_min_score, self.grade_b_min_score
                ),
            });
        }
        Ok(GradeThresholds {
            a: self.grade_a_min_score,
            b: self.grade_b_min_score,
            c: self.grade_c_min_score,
        })
    }
}

impl DedupConfig {
    /// The default match thresholds, once they make sense: in (0, 1], possible <= same.
    pub fn match_thresholds(&self) -> Result<MatchThresholds, DedupConfigError> {
        MatchThresholds::new(self.match_same_min, self.match_possible_min).map_err(|err| {
            let setting = match err {
                crate::domain::matching::decision::ThresholdError::OutOfRange("same") => {
                    "match_same_min"
                }
                _ => "match_possible_min",
            };
            DedupConfigError {
                setting,
                reason: err.to_string(),
            }
        })
    }
}

impl shangji_platform::config::ServiceConfig for DedupConfig {
    fn validate(&self) -> anyhow::Result<()> {
        self.thresholds().map_err(anyhow::Error::from)?;
        self.match_thresholds()
            .map(|_| ())
            .map_err(anyhow::Error::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_70_50_30() {
        let t = DedupConfig::default().thresholds().unwrap();
        assert_eq!((t.a, t.b, t.c), (70.0, 50.0, 30.0));
    }

    #[test]
    fn thresholds_out_of_range_or_order_name_the_setting() {
        let err = DedupConfig {
            grade_a_min_score: 120.0,
            ..DedupConfig::default()
        }
        .thresholds()
        .unwrap_err();
        assert_eq!(err.setting, "grade_a_min_score");
        let err = DedupConfig {
            grade_c_min_score: 60.0,
            ..DedupConfig::default()
        }
        .thresholds()
        .unwrap_err();
        assert_eq!(err.setting, "grade_c_min_score");
        assert!(err.to_string().contains("grade_b_min_score"), "{err}");
        let err = DedupConfig {
            grade_a_min_score: f64::NAN,
            ..DedupConfig::default()
        }
        .thresholds()
        .unwrap_err();
        assert_eq!(err.setting, "grade_a_min_score");
    }

    #[test]
    fn match_thresholds_default_and_are_checked() {
        let t = DedupConfig::default().match_thresholds().unwrap();
        assert_eq!((t.same, t.possible), (0.9, 0.5));
        let err = DedupConfig {
            match_same_min: 1.5,
            ..DedupConfig::default()
        }
        .match_thresholds()
        .unwrap_err();
        assert_eq!(err.setting, "match_same_min");
        let err = DedupConfig {
            match_possible_min: 0.95,
            ..DedupConfig::default()
        }
        .match_thresholds()
        .unwrap_err();
        assert_eq!(err.setting, "match_possible_min");
    }

    #[test]
    fn partial_settings_keep_the_other_defaults() {
        let config: DedupConfig =
            serde_json::from_str(r#"{"grade_a_min_score": 80, "nats_url": "x"}"#).unwrap();
        assert_eq!(config.grade_a_min_score, 80.0);
        assert_eq!(config.grade_b_min_score, 50.0);
    }
}
