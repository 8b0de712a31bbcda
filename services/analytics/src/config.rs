//! The analytics service's own settings (`SHANGJI_ANALYTICS_<KEY>`).

use serde::{Deserialize, Serialize};

use crate::domain::CategoryThresholds;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct AnalyticsConfig {
    /// Open deals whose stage probability is at least this are forecast as `commit`.
    pub commit_probability: f64,
    /// Open deals at least this probable (and below commit) are `best case`.
    pub best_case_probability: f64,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        AnalyticsConfig {
            commit_probability: 0.7,
            best_case_probability: 0.4,
        }
    }
}

impl AnalyticsConfig {
    /// Rejects settings the forecast cannot work with, naming the setting.
    pub fn validate(&self) -> anyhow::Result<()> {
        for (name, value) in [
            ("commit_probability", self.commit_probability),
            ("best_case_probability", self.best_case_probability),
        ] {
            if !(0.0..=1.0).contains(&value) {
                anyhow::bail!("configuration error in `{name}`: must be between 0 and 1");
            }
        }
        if self.best_case_probability > self.commit_probability {
            anyhow::bail!(
                "configuration error in `best_case_probability`: must not exceed `commit_probability`"
            );
        }
        Ok(())
    }

    pub fn thresholds(&self) -> CategoryThresholds {
        CategoryThresholds {
            commit_permille: (self.commit_probability * 1000.0).round() as i64,
            best_case_permille: (self.best_case_probability * 1000.0).round() as i64,
        }
    }
}

impl shangji_platform::config::ServiceConfig for AnalyticsConfig {
    fn validate(&self) -> anyhow::Result<()> {
        AnalyticsConfig::validate(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        let c = AnalyticsConfig::default();
        assert!(c.validate().is_ok());
        assert_eq!(c.thresholds().commit_permille, 700);
        let err = AnalyticsConfig {
            commit_probability: 1.5,
            ..Default::default()
        }
        .validate()
        .expect_err("out of range");
        assert!(err.to_string().contains("commit_probability"), "{err}");
        let err = AnalyticsConfig {
            best_case_probability: 0.9,
            ..Default::default()
        }
        .validate()
        .expect_err("inverted");
        assert!(err.to_string().contains("best_case_probability"), "{err}");
    }
}
