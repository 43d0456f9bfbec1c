//! `netboot check`: arguments, and the exit code of the check.
//!
//! Exit codes: 0 clean (warnings allowed unless `--deny-warnings`), 1 problems found,
//! 2 usage or I/O error (the fleet cannot be read).

use std::path::PathBuf;
use std::process::ExitCode;

use netboot_ops::check::{check, CheckOptions};

use crate::overrides::OverrideArgs;
use crate::report_format::Format;

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The fleet description.
    pub fleet: PathBuf,
    /// `human`: miette reports on stderr; `json`: one JSON object on stdout.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Treat warnings as errors (exit 1 when there are any).
    #[arg(long)]
    pub deny_warnings: bool,
    #[command(flatten)]
    pub overrides: OverrideArgs,
}

pub fn run(args: CheckArgs) -> ExitCode {
    let report = check(&CheckOptions {
        fleet: args.fleet,
        deny_warnings: args.deny_warnings,
        overrides: args.overrides.to_overrides(),
    });
    match report.render(args.format.into()) {
        (text, true) => print!("{text}"),
        (text, false) => eprint!("{text}"),
    }
    if report.unreadable {
        ExitCode::from(2)
    } else if report.failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
