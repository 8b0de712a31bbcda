//! shangji-reminders: Timers that make sure every opportunity has a next step.

use std::process::ExitCode;

use shangji_reminders::{RemindersConfig, SPEC};

fn main() -> ExitCode {
    shangji_platform::app::main(&SPEC, RemindersConfig::default(), |settings, config| {
        Box::pin(shangji_reminders::start(settings, config))
    })
}
