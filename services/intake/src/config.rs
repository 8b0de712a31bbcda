//! Intake's own settings (shared ones live in `shangji_platform::config`).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct IntakeConfig {
    /// The channel recorded for leads submitted through `SubmitLead`.
    pub grpc_channel_name: String,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        IntakeConfig {
            grpc_channel_name: "grpc".to_owned(),
        }
    }
}

impl shangji_platform::config::ServiceConfig for IntakeConfig {}
