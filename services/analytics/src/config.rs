//! The analytics service's own settings (`SHANGJI_ANALYTICS_<KEY>`). It has none yet;
//! the section exists so that adding one is not a change of shape.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct AnalyticsConfig {}

impl shangji_platform::config::ServiceConfig for AnalyticsConfig {}
