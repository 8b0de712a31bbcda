//! The command line: global options (who is calling, where the services listen) and one
//! subcommand per thing a newcomer wants to try.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

use crate::format::parse_duration;

#[derive(Debug, Parser)]
#[command(
    name = "shangji",
    version,
    about = "Shangji (商机) from the command line: submit and import leads, follow them to \
             opportunities, work the pipeline, and load-test the system.",
    after_help = "Identifiers go to stdout (one per line for `submit`), diagnostics to stderr; \
                  --json prints JSON instead of tables. Exit codes: 0 done, 1 the system \
                  refused or could not be reached, 2 unusable arguments or input file."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand understands; each falls back to an environment variable.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Tenant sent as `x-tenant-id` on every call.
    #[arg(long, global = true, env = "SHANGJI_TENANT", default_value = "demo")]
    pub tenant: String,
    /// Acting user sent as `x-user-id` on every call.
    #[arg(long, global = true, env = "SHANGJI_USER", default_value = "cli")]
    pub user: String,
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "SHANGJI_INTAKE_ENDPOINT",
        default_value = "http://127.0.0.1:50051"
    )]
    pub intake: String,
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "SHANGJI_DEDUP_ENDPOINT",
        default_value = "http://127.0.0.1:50052"
    )]
    pub dedup: String,
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "SHANGJI_ASSIGNMENT_ENDPOINT",
        default_value = "http://127.0.0.1:50053"
    )]
    pub assignment: String,
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "SHANGJI_PIPELINE_ENDPOINT",
        default_value = "http://127.0.0.1:50054"
    )]
    pub pipeline: String,
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "SHANGJI_REMINDERS_ENDPOINT",
        default_value = "http://127.0.0.1:50055"
    )]
    pub reminders: String,
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "SHANGJI_ANALYTICS_ENDPOINT",
        default_value = "http://127.0.0.1:50056"
    )]
    pub analytics: String,
    /// Print JSON instead of tables and lines.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Submit one lead; prints its id.
    Submit(SubmitArgs),
    /// Where a lead is now and every step it went through.
    Lead(LeadArgs),
    /// Submit every row of a CSV or xlsx file (English or Chinese headers) as a lead.
    Import(ImportArgs),
    /// Sales reps: add or update one, list them with their load.
    #[command(subcommand)]
    Reps(RepsCommand),
    /// List opportunities.
    Opportunities(OpportunitiesArgs),
    /// One opportunity with its activities and history.
    Opportunity(OpportunityArgs),
    /// Move an opportunity to another stage.
    Advance(AdvanceArgs),
    /// Log a follow-up (call, visit, ...) on an opportunity.
    Activity(ActivityArgs),
    /// Close an opportunity as won or lost.
    Close(CloseArgs),
    /// One customer and the leads attached to it.
    Customer(CustomerArgs),
    /// Which known customers a lead could be (read-only).
    Check(CheckArgs),
    /// Reminders due now or soon.
    Due(DueArgs),
    /// How opportunities move through the stages.
    Funnel(FunnelArgs),
    /// Load generator: submit many leads and measure acks and pipeline lag.
    Bench(BenchArgs),
}

/// A `key=value` pair for custom fields.
fn parse_key_value(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}`: expected key=value"))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(format!("`{text}`: the key before `=` is empty"));
    }
    Ok((key.to_owned(), value.to_owned()))
}

fn parse_duration_arg(text: &str) -> Result<Duration, String> {
    parse_duration(text)
}

/// The fields of a lead, as free text; the services decide what is valid.
#[derive(Debug, Clone, Default, Args)]
pub struct LeadFields {
    /// Contact name (联系人).
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub phone: Option<String>,
    #[arg(long)]
    pub email: Option<String>,
    #[arg(long)]
    pub company: Option<String>,
    /// The contact's job title.
    #[arg(long)]
    pub title: Option<String>,
    #[arg(long)]
    pub region: Option<String>,
    #[arg(long)]
    pub industry: Option<String>,
    /// Channel the lead came from (web form, trade show, ...).
    #[arg(long)]
    pub source: Option<String>,
    /// What the customer needs.
    #[arg(long)]
    pub need: Option<String>,
    /// Budget as the customer said it, e.g. "50万".
    #[arg(long)]
    pub budget: Option<String>,
    /// When the customer wants to buy.
    #[arg(long)]
    pub timeline: Option<String>,
    /// A custom field; repeat for more.
    #[arg(long = "field", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub fields: Vec<(String, String)>,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    pub lead: LeadFields,
    /// Idempotency key; retrying with the same key creates nothing new. Default: a fresh UUID.
    #[arg(long, value_name = "IDEMPOTENCY_KEY")]
    pub key: Option<String>,
}

#[derive(Debug, Args)]
pub struct LeadArgs {
    pub lead_id: String,
    /// Poll every 200 ms until the lead has an opportunity, for at most this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub wait: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// CSV (UTF-8, with or without BOM, or GBK) or .xlsx file with a header row.
    pub file: PathBuf,
    /// Only validate the rows and report them; no lead is submitted.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum RepsCommand {
    /// Create or replace a rep.
    Add(RepAddArgs),
    /// List reps with their open and total assigned leads.
    List(RepListArgs),
}

#[derive(Debug, Args)]
pub struct RepAddArgs {
    #[arg(long)]
    pub id: String,
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub team: String,
    /// Regions covered, comma separated; none covers every region.
    #[arg(long, value_delimiter = ',')]
    pub regions: Vec<String>,
    /// Industries covered, comma separated; none covers every industry.
    #[arg(long, value_delimiter = ',')]
    pub industries: Vec<String>,
    /// Open opportunities at most; 0 means no limit.
    #[arg(long, default_value_t = 0)]
    pub capacity: u32,
    /// The rep takes no new leads.
    #[arg(long)]
    pub inactive: bool,
}

#[derive(Debug, Args)]
pub struct RepListArgs {
    #[arg(long)]
    pub team: Option<String>,
    /// Only reps that take new leads.
    #[arg(long)]
    pub active_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFilter {
    Open,
    Won,
    Lost,
}

#[derive(Debug, Args)]
pub struct OpportunitiesArgs {
    /// Only this rep's opportunities.
    #[arg(long)]
    pub owner: Option<String>,
    #[arg(long)]
    pub stage: Option<String>,
    /// Only this customer's opportunities.
    #[arg(long)]
    pub customer: Option<String>,
    #[arg(long, value_enum)]
    pub status: Option<StatusFilter>,
    /// At most this many rows.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
}

#[derive(Debug, Args)]
pub struct OpportunityArgs {
    pub opportunity_id: String,
}

#[derive(Debug, Args)]
pub struct AdvanceArgs {
    pub opportunity_id: String,
    /// A stage of the opportunity's pipeline (use `close` for won or lost).
    pub stage: String,
    /// New amount, for example the quoted value.
    #[arg(long)]
    pub amount: Option<f64>,
    #[arg(long)]
    pub note: Option<String>,
    /// Idempotency key. Default: a fresh UUID.
    #[arg(long)]
    pub key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ActivityKind {
    Call,
    Visit,
    Email,
    Meeting,
    Wechat,
    Note,
}

impl ActivityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityKind::Call => "call",
            ActivityKind::Visit => "visit",
            ActivityKind::Email => "email",
            ActivityKind::Meeting => "meeting",
            ActivityKind::Wechat => "wechat",
            ActivityKind::Note => "note",
        }
    }
}

#[derive(Debug, Args)]
pub struct ActivityArgs {
    pub opportunity_id: String,
    #[arg(long, value_enum)]
    pub kind: ActivityKind,
    #[arg(long)]
    pub summary: String,
    #[arg(long)]
    pub next_step: Option<String>,
    /// Plan the next follow-up this far from now: 2d, 4h, 30m, 1h30m.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub follow_up_in: Option<Duration>,
    /// Idempotency key. Default: a fresh UUID.
    #[arg(long)]
    pub key: Option<String>,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("outcome").required(true).args(["won", "lost"])))]
pub struct CloseArgs {
    pub opportunity_id: String,
    /// The deal was won.
    #[arg(long)]
    pub won: bool,
    /// The deal was lost (needs --reason).
    #[arg(long, requires = "reason")]
    pub lost: bool,
    /// Final amount of a won deal.
    #[arg(long, conflicts_with = "lost")]
    pub amount: Option<f64>,
    /// Why the deal was lost.
    #[arg(long, conflicts_with = "won")]
    pub reason: Option<String>,
    #[arg(long)]
    pub note: Option<String>,
    /// Idempotency key. Default: a fresh UUID.
    #[arg(long)]
    pub key: Option<String>,
}

#[derive(Debug, Args)]
pub struct CustomerArgs {
    pub customer_id: String,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[arg(long)]
    pub phone: Option<String>,
    #[arg(long)]
    pub email: Option<String>,
    /// Contact name.
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub company: Option<String>,
    /// At most this many matches.
    #[arg(long, default_value_t = 10)]
    pub limit: u32,
}

#[derive(Debug, Args)]
pub struct DueArgs {
    /// Only this rep's reminders.
    #[arg(long)]
    pub owner: Option<String>,
    /// Also list reminders falling due within this horizon: 2d, 4h, 30m.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub within: Option<Duration>,
    /// At most this many reminders.
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
}

#[derive(Debug, Args)]
pub struct FunnelArgs {
    /// Only this rep's opportunities.
    #[arg(long)]
    pub owner: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Leads to submit.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub leads: u64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency: u32,
    /// Reps created first, so every lead finds an owner.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub reps: u32,
    /// Seconds the whole run may take, until every lead has its opportunity.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
    /// HTTP/2 connections the workers share.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub connections: u32,
    /// Offer leads at this steady rate (leads/s) instead of as fast as the workers can:
    /// lead i is due at i/rate seconds, and its latency counts from when it was due, so
    /// falling behind shows up in the percentiles. `--concurrency` caps requests in flight.
    #[arg(long, value_parser = positive_rate)]
    pub rate: Option<f64>,
}

/// A finite rate above zero, in leads per second.
fn positive_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!(
            "`{text}` is not a rate: give leads per second above 0, e.g. 1500"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("shangji").chain(args.iter().copied()))
    }

    #[test]
    fn a_bench_rate_must_be_positive() {
        let Command::Bench(args) = parse(&["bench", "--rate", "1500"]).unwrap().command else {
            panic!("not bench");
        };
        assert_eq!(args.rate, Some(1500.0));
        for bad in ["0", "-3", "fast", "inf"] {
            let err = parse(&["bench", &format!("--rate={bad}")]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ValueValidation, "{bad}");
        }
    }

    #[test]
    fn the_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_lists_every_subcommand() {
        let err = parse(&["--help"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DisplayHelp);
        let help = err.to_string();
        for name in [
            "submit",
            "lead",
            "import",
            "reps",
            "opportunities",
            "opportunity",
            "advance",
            "activity",
            "close",
            "customer",
            "check",
            "due",
            "funnel",
            "bench",
        ] {
            assert!(help.contains(name), "help lacks {name}:\n{help}");
        }
        assert!(help.contains("--tenant"));
        assert!(help.contains("SHANGJI_INTAKE_ENDPOINT"));
    }

    #[test]
    fn global_options_go_before_or_after_the_subcommand() {
        let cli = parse(&["--tenant", "acme", "funnel", "--user", "wang", "--json"]).unwrap();
        assert_eq!(cli.global.tenant, "acme");
        assert_eq!(cli.global.user, "wang");
        assert!(cli.global.json);
        let cli = parse(&["funnel", "--pipeline", "http://10.0.0.1:9000"]).unwrap();
        assert_eq!(cli.global.pipeline, "http://10.0.0.1:9000");
    }

    #[test]
    fn defaults_apply_when_the_environment_is_silent() {
        let cli = parse(&["funnel"]).unwrap();
        if std::env::var_os("SHANGJI_TENANT").is_none() {
            assert_eq!(cli.global.tenant, "demo");
        }
        if std::env::var_os("SHANGJI_ANALYTICS_ENDPOINT").is_none() {
            assert_eq!(cli.global.analytics, "http://127.0.0.1:50056");
        }
        assert!(!cli.global.json);
    }

    #[test]
    fn submit_takes_lead_fields_custom_fields_and_a_key() {
        let cli = parse(&[
            "submit",
            "--name",
            "王先生",
            "--phone",
            "13800138000",
            "--field",
            "微信=wang01",
            "--field",
            "expo=Canton Fair=2025",
            "--key",
            "crm-42",
        ])
        .unwrap();
        let Command::Submit(args) = cli.command else {
            panic!("expected submit");
        };
        assert_eq!(args.lead.name.as_deref(), Some("王先生"));
        assert_eq!(args.lead.phone.as_deref(), Some("13800138000"));
        assert_eq!(
            args.lead.fields,
            vec![
                ("微信".to_owned(), "wang01".to_owned()),
                ("expo".to_owned(), "Canton Fair=2025".to_owned())
            ]
        );
        assert_eq!(args.key.as_deref(), Some("crm-42"));
    }

    #[test]
    fn custom_fields_need_a_key() {
        assert!(parse(&["submit", "--field", "novalue"]).is_err());
        assert!(parse(&["submit", "--field", "=x"]).is_err());
    }

    #[test]
    fn activity_parses_the_follow_up_duration() {
        let cli = parse(&[
            "activity",
            "opp-1",
            "--kind",
            "call",
            "--summary",
            "聊了预算",
            "--follow-up-in",
            "2d",
        ])
        .unwrap();
        let Command::Activity(args) = cli.command else {
            panic!("expected activity");
        };
        assert_eq!(args.kind, ActivityKind::Call);
        assert_eq!(args.follow_up_in, Some(Duration::from_secs(2 * 86_400)));
        let err = parse(&[
            "activity",
            "opp-1",
            "--kind",
            "call",
            "--summary",
            "x",
            "--follow-up-in",
            "2",
        ])
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueValidation);
        assert!(parse(&["activity", "opp-1", "--kind", "fax", "--summary", "x"]).is_err());
    }

    #[test]
    fn close_needs_exactly_one_outcome_and_a_reason_when_lost() {
        assert!(parse(&["close", "opp-1", "--won", "--amount", "500000"]).is_ok());
        assert!(
            parse(&[
                "close", "opp-1", "--lost", "--reason", "price", "--note", "x"
            ])
            .is_ok()
        );
        let err = parse(&["close", "opp-1"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MissingRequiredArgument);
        let err = parse(&["close", "opp-1", "--won", "--lost", "--reason", "x"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ArgumentConflict);
        let err = parse(&["close", "opp-1", "--lost"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MissingRequiredArgument);
        assert!(parse(&["close", "opp-1", "--won", "--reason", "x"]).is_err());
        assert!(parse(&["close", "opp-1", "--lost", "--reason", "x", "--amount", "1"]).is_err());
    }

    #[test]
    fn reps_add_splits_regions_and_industries() {
        let cli = parse(&[
            "reps",
            "add",
            "--id",
            "r1",
            "--name",
            "李雷",
            "--team",
            "east",
            "--regions",
            "上海,杭州",
            "--industries",
            "制造",
            "--capacity",
            "30",
            "--inactive",
        ])
        .unwrap();
        let Command::Reps(RepsCommand::Add(args)) = cli.command else {
            panic!("expected reps add");
        };
        assert_eq!(args.regions, vec!["上海", "杭州"]);
        assert_eq!(args.industries, vec!["制造"]);
        assert_eq!(args.capacity, 30);
        assert!(args.inactive);
    }

    #[test]
    fn opportunities_filter_by_status_and_limit() {
        let cli = parse(&["opportunities", "--status", "won", "--limit", "5"]).unwrap();
        let Command::Opportunities(args) = cli.command else {
            panic!("expected opportunities");
        };
        assert_eq!(args.status, Some(StatusFilter::Won));
        assert_eq!(args.limit, 5);
        assert!(parse(&["opportunities", "--status", "stalled"]).is_err());
        assert!(parse(&["opportunities", "--limit", "0"]).is_err());
    }

    #[test]
    fn bench_has_sensible_defaults() {
        let cli = parse(&["bench"]).unwrap();
        let Command::Bench(args) = cli.command else {
            panic!("expected bench");
        };
        assert_eq!(args.leads, 10_000);
        assert_eq!(args.concurrency, 64);
        assert_eq!(args.reps, 20);
        assert_eq!(args.timeout, 120);
        assert!(parse(&["bench", "--leads", "0"]).is_err());
    }

    #[test]
    fn due_within_takes_a_duration() {
        let cli = parse(&["due", "--within", "48h", "--owner", "r1"]).unwrap();
        let Command::Due(args) = cli.command else {
            panic!("expected due");
        };
        assert_eq!(args.within, Some(Duration::from_secs(48 * 3_600)));
        assert_eq!(args.owner.as_deref(), Some("r1"));
    }

    #[test]
    fn lead_wait_is_in_seconds() {
        let cli = parse(&["lead", "lead-1", "--wait", "10"]).unwrap();
        let Command::Lead(args) = cli.command else {
            panic!("expected lead");
        };
        assert_eq!(args.wait, Some(10));
        assert!(parse(&["lead"]).is_err());
    }
}
