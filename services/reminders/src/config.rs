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
    /// How often the webhook sender looks for deliveries to (re)try, in milliseconds.
    pub webhook_tick_ms: u64,
    /// Wait before the first retry of a failed delivery; each next retry waits twice as
    /// long (at most an hour).
    pub webhook_retry_base_ms: u64,
    /// Attempts per delivery before it is logged as failed.
    pub webhook_max_attempts: u32,
    /// How long one attempt may take (connect, send, answer), in milliseconds.
    pub webhook_timeout_ms: u64,
}

impl Default for RemindersConfig {
    fn default() -> Self {
        RemindersConfig {
            first_contact_hours: 24,
            tick_ms: 1000,
            batch: 500,
            webhook_tick_ms: 500,
            webhook_retry_base_ms: 5_000,
            webhook_max_attempts: 8,
            webhook_timeout_ms: 10_000,
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
        for (name, value) in [
            ("webhook_tick_ms", self.webhook_tick_ms),
            ("webhook_retry_base_ms", self.webhook_retry_base_ms),
            ("webhook_timeout_ms", self.webhook_timeout_ms),
            ("webhook_max_attempts", u64::from(self.webhook_max_attempts)),
        ] {
            if value == 0 {
                anyhow::bail!("configuration error in `{name}`: must be at least 1");
            }
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
        let err = RemindersConfig {
            webhook_max_attempts: 0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(err.to_string().contains("webhook_max_attempts"), "{err}");
    }
}
