use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = shangji_cli::Cli::parse();
    ExitCode::from(shangji_cli::run(cli).await)
}
