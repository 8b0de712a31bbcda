fn main() -> std::process::ExitCode {
    shangji_platform::app::main(
        &shangji_assignment::SPEC,
        shangji_assignment::AssignmentConfig::default(),
        |settings, config| Box::pin(shangji_assignment::start(settings, config)),
    )
}
