//! `netboot build`: compile a fleet and write the output directory atomically.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct BuildArgs {
    /// The fleet description.
    pub fleet: PathBuf,
    /// Output directory.
    #[arg(short, long, default_value = "out")]
    pub output: PathBuf,
}

pub fn run(_args: BuildArgs) -> ExitCode {
    eprintln!("netboot build: not written yet");
    ExitCode::from(2)
}
