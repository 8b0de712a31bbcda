//! shangji-analytics: Read models over the events: funnel and more.

use std::process::ExitCode;

use shangji_analytics::{AnalyticsConfig, SPEC};

fn main() -> ExitCode {
    shangji_platform::app::main(&SPEC, AnalyticsConfig::default(), |settings, config| {
        Box::pin(shangji_analytics::start(settings, config))
    })
}
