//! One module per group of subcommands; each takes parsed arguments, calls the services
//! and prints the result.

mod customers;
mod due;
mod funnel;
mod import;
mod leads;
mod opportunities;
mod reps;

use crate::cli::{Cli, Command, RepsCommand};
use crate::client::{Caller, Endpoints, Services};
use crate::error::{CliError, is_rejection};
use crate::output::Output;

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let output = Output {
        json: cli.global.json,
    };
    let global = cli.global;
    let services = || -> Result<Services, CliError> {
        let caller = Caller::new(&global.tenant, &global.user)?;
        Ok(Services::new(Endpoints::from(&global), caller))
    };
    match cli.command {
        Command::Submit(args) => leads::submit(&services()?, output, args).await,
        Command::Lead(args) => leads::show(&services()?, output, args).await,
        Command::Import(args) => import::run(&services()?, output, args).await,
        Command::Reps(RepsCommand::Add(args)) => reps::add(&services()?, output, args).await,
        Command::Reps(RepsCommand::List(args)) => reps::list(&services()?, output, args).await,
        Command::Opportunities(args) => opportunities::list(&services()?, output, args).await,
        Command::Opportunity(args) => opportunities::show(&services()?, output, args).await,
        Command::Advance(args) => opportunities::advance(&services()?, output, args).await,
        Command::Activity(args) => opportunities::log_activity(&services()?, output, args).await,
        Command::Close(args) => opportunities::close(&services()?, output, args).await,
        Command::Customer(args) => customers::show(&services()?, output, args).await,
        Command::Check(args) => customers::check(&services()?, output, args).await,
        Command::Due(args) => due::list(&services()?, output, args).await,
        Command::Funnel(args) => funnel::show(&services()?, output, args).await,
        // The bench makes its own tenant, so its numbers never mix with real data.
        Command::Bench(args) => {
            crate::bench::run(&args, Endpoints::from(&global), &global.user, output).await
        }
    }
}

/// The idempotency key to send: the one given, or a fresh UUID.
fn key_or_fresh(key: Option<String>) -> String {
    key.unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// After a failed mutating call that might have gone through, tells how to retry it
/// without doing it twice.
fn hint_retry(output: Output, key: &str, err: &CliError) {
    if let CliError::Rpc { status, .. } = err
        && !is_rejection(status.code())
    {
        output.note(&format!(
            "the call may or may not have taken effect; retry safely with --key {key}"
        ));
    }
}

/// Empty text means "not given" in the protos.
fn text_or_empty(value: Option<String>) -> String {
    value.unwrap_or_default()
}
