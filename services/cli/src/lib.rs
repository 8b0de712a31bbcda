//! `shangji`, the command-line client: a two-minute tour of the system for newcomers
//! (submit a lead, follow it to its opportunity, work the pipeline, see the funnel) and
//! the load generator (`shangji bench`).
//!
//! It talks to the six services only through their gRPC contracts, stamping every call
//! with the tenant and user (`x-tenant-id`, `x-user-id`).

pub mod bench;
pub mod cli;
pub mod client;
mod commands;
pub mod csv_import;
pub mod error;
pub mod format;
mod json;
mod output;

pub use cli::Cli;
pub use error::CliError;

/// Runs a parsed command line; on failure prints the error (as JSON with `--json`) to
/// stderr and returns the exit code.
pub async fn run(cli: Cli) -> u8 {
    let json = cli.global.json;
    match commands::run(cli).await {
        Ok(()) => 0,
        Err(err) => {
            let out = output::Output { json };
            if json {
                out.note(&err.to_json().to_string());
            } else {
                out.note(&err.render_text());
            }
            err.exit_code()
        }
    }
}
