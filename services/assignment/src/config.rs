//! Assignment's own settings section.
//!
//! The rules themselves (teams, reps, rules, capacities, recycling policy) are data,
//! managed through the API; only the recycling timer's pace is configured here.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AssignmentConfig {
    /// How often the recycling timer looks for opportunities due to return to the pool.
    pub recycle_tick_ms: u64,
    /// Opportunities recycled per round at most.
    pub recycle_batch: u32,
}

impl Default for AssignmentConfig {
    fn default() -> Self {
        AssignmentConfig {
            recycle_tick_ms: 60_000,
            recycle_batch: 500,
        }
    }
}

impl shangji_platform::config::ServiceConfig for AssignmentConfig {}
