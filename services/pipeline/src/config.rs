//! The pipeline's own settings (next to the shared ones, e.g.
//! `SHANGJI_PIPELINE_DEFAULT_CURRENCY`).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct PipelineConfig {
    /// ISO 4217 code given to opportunities opened from leads (budgets carry no
    /// reliable currency of their own).
    pub default_currency: String,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            default_currency: "CNY".to_owned(),
        }
    }
}

impl PipelineConfig {
    /// Refuses settings the service cannot work with, naming the setting.
    pub fn validate(&self) -> anyhow::Result<()> {
        let c = &self.default_currency;
        if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
            anyhow::bail!(
                "configuration error in `default_currency`: `{c}` must be a three-letter ISO 4217 code such as CNY"
            );
        }
        Ok(())
    }
}

impl shangji_platform::config::ServiceConfig for PipelineConfig {
    fn validate(&self) -> anyhow::Result<()> {
        PipelineConfig::validate(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_defaults_to_cny_and_must_be_iso() {
        assert_eq!(PipelineConfig::default().default_currency, "CNY");
        assert!(PipelineConfig::default().validate().is_ok());
        let bad = PipelineConfig {
            default_currency: "yuan".into(),
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("default_currency")
        );
    }
}
