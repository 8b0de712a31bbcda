//! The reminders service's own settings (`SHANGJI_REMINDERS_<KEY>`).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct RemindersConfig {
    /// Hours after an opportunity opens by which its owner must have contacted the customer.
    pub first_contact_hours: u32,
    /// How often the timer looks for reminders that fell due, in milliseconds.
    pub tick_ms: u64,
    /// Reminders fired per timer round at most; a full round is followed by another at once.
    pub batch: u32,
}

impl Default for RemindersConfig {
    fn default() -> Self {
        RemindersConfig {
            first_contact_hours: 24,
            tick_ms: 1000,
            batch: 500,
        }
    }
}

impl RemindersConfig {
    /// Rejects settings the timer cannot work with, naming the setting.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.tick_ms == 0 {
            anyhow::bail!("configuration error in `tick_ms`: must be at least 1 (milliseconds)");
        }
        if self.batch == 0 {
            anyhow::bail!("configuration error in `batch`: must be at least 1");
        }
        Ok(())
    }
}

impl shangji_platform::config::ServiceConfig for RemindersConfig {
    fn validate(&self) -> anyhow::Result<()> {
        RemindersConfig::validate(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_a_day_a_second_and_five_hundred() {
        let c = RemindersConfig::default();
        assert_eq!((c.first_contact_hours, c.tick_ms, c.batch), (24, 1000, 500));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn zero_tick_or_batch_is_refused_by_name() {
        let err = RemindersConfig {
            tick_ms: 0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(err.to_string().contains("tick_ms"), "{err}");
        let err = RemindersConfig {
            batch: 0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(err.to_string().contains("batch"), "{err}");
    }
}
