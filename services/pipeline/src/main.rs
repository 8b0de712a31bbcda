//! The `shangji-pipeline` binary.

use std::process::ExitCode;

use shangji_pipeline::{PipelineConfig, SPEC};

fn main() -> ExitCode {
    shangji_platform::app::main(&SPEC, PipelineConfig::default(), |settings, config| {
        Box::pin(shangji_pipeline::start(settings, config))
    })
}
