//! Assignment's own settings section.
//!
//! The rules themselves (who covers what, capacities, who is active) are data, managed
//! through `UpsertRep`, so nothing about them is configured here. The section exists so
//! that settings can be added without changing how the binary is started.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AssignmentConfig {}

impl shangji_platform::config::ServiceConfig for AssignmentConfig {}
