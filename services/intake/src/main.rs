fn main() -> std::process::ExitCode {
    shangji_platform::app::main(
        &shangji_intake::SPEC,
        shangji_intake::IntakeConfig::default(),
        |settings, config| Box::pin(shangji_intake::start(settings, config)),
    )
}
