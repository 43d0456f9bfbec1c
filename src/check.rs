//! `netboot check`: validate a fleet and report every problem at once.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The fleet description.
    pub fleet: PathBuf,
}

pub fn run(_args: CheckArgs) -> ExitCode {
    eprintln!("netboot check: not written yet");
    ExitCode::from(2)
}
