//! `netboot init [DIR]`: arguments, and the exit code.
//!
//! Exit codes: 0 written (and valid, or only missing the loaders), 2 usage or I/O error.

use std::path::PathBuf;
use std::process::ExitCode;

use netboot_ops::console::Console;
use netboot_ops::init::{init, InitOptions};

#[derive(clap::Args)]
pub struct InitArgs {
    /// Directory for fleet.kdl and README.md (created if missing).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Overwrite an existing fleet.kdl.
    #[arg(long)]
    pub force: bool,
    /// Look for loaders under this directory instead of `/` (tests).
    #[arg(long, hide = true, default_value = "/")]
    pub loader_root: PathBuf,
}

pub fn run(args: InitArgs) -> ExitCode {
    let options = InitOptions {
        dir: args.dir,
        force: args.force,
        loader_root: args.loader_root,
    };
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    match init(&options, &mut Console::new(&mut out, &mut err)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("netboot init: {e}");
            ExitCode::from(2)
        }
    }
}
