//! `netboot check`: validate a fleet and report every problem at once.
//!
//! Exit codes: 0 clean (warnings allowed unless `--deny-warnings`), 1 problems found,
//! 2 usage or I/O error (the fleet cannot be read).

use std::path::PathBuf;
use std::process::ExitCode;

use netboot_compiler::{compile, Diagnostic, Severity};

use crate::build::OverrideArgs;
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
    let (diagnostics, io) = match compile(&args.fleet, &args.overrides.to_overrides()) {
        Ok(c) => (c.warnings, false),
        Err(f) => (f.diagnostics().to_vec(), f.is_io()),
    };
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    let failed = errors > 0 || (args.deny_warnings && warnings > 0);
    match args.format {
        Format::Human => print_human(&diagnostics, errors, warnings),
        Format::Json => print_json(&args, &diagnostics, errors, warnings, failed),
    }
    if io {
        ExitCode::from(2)
    } else if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn print_human(diagnostics: &[Diagnostic], errors: usize, warnings: usize) {
    for d in diagnostics {
        eprint!("{}", d.render());
    }
    if errors == 0 && warnings == 0 {
        eprintln!("fleet is valid");
    } else {
        eprintln!("{errors} error(s), {warnings} warning(s)");
    }
}

fn print_json(
    args: &CheckArgs,
    diagnostics: &[Diagnostic],
    errors: usize,
    warnings: usize,
    failed: bool,
) {
    let records: Vec<_> = diagnostics.iter().map(Diagnostic::to_record).collect();
    let out = serde_json::json!({
        "fleet": args.fleet.display().to_string(),
        "ok": !failed,
        "errors": errors,
        "warnings": warnings,
        "diagnostics": records,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&out).expect("JSON values always serialise")
    );
}
