//! The dedup binary: configuration, telemetry, signals and the service.

use std::process::ExitCode;

fn main() -> ExitCode {
    shangji_platform::app::main(
        &shangji_dedup::SPEC,
        shangji_dedup::DedupConfig::default(),
        |settings, config| Box::pin(shangji_dedup::start(settings, config)),
    )
}
