//! `netboot reinstall HOST FLEET`: arguments, logging, and the exit code of the override.
//!
//! Exit codes: 0 done (or nothing to forget), 1 no such lifecycle host, a fleet with errors or
//! a damaged state file, 2 usage or I/O.

use std::path::PathBuf;
use std::process::ExitCode;

use netboot_ops::install_state::DEFAULT_STATE_DIR;
use netboot_ops::loaded::LoadError;
use netboot_ops::reinstall::{reinstall, ReinstallError, ReinstallOptions};

use netboot_ops::install_state::StateUrl;

use crate::logging::{self, LogFormat};

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["fleet", "manifest"]))]
pub struct ReinstallArgs {
    /// The host's name in the fleet.
    pub host: String,
    /// The fleet that names it.
    #[arg(value_name = "FLEET.kdl")]
    pub fleet: Option<PathBuf>,
    /// A frozen build (`manifest.json` from `netboot build`) instead of a fleet.
    #[arg(long, value_name = "MANIFEST.json")]
    pub manifest: Option<PathBuf>,
    /// The server's state directory, where `install-state.json` lives.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// The servers' state database (`netboot serve --state`), instead of the file.
    #[arg(long, value_name = "postgres://…")]
    pub state: Option<StateUrl>,
}

pub fn run(args: ReinstallArgs) -> ExitCode {
    // The override is logged like the server's own install events.
    logging::init(LogFormat::Text);
    let Some(fleet) = args.fleet.or(args.manifest) else {
        eprintln!("netboot reinstall: give a fleet or --manifest");
        return ExitCode::from(2);
    };
    let options = ReinstallOptions {
        host: args.host,
        fleet,
        state_dir: args.state_dir,
        state: args.state,
    };
    match reinstall(&options) {
        Ok(done) => {
            crate::stdout::emit(&done.text);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("netboot reinstall: {e}");
            ExitCode::from(match e {
                ReinstallError::Load(LoadError::Unreadable(_)) => 2,
                _ => 1,
            })
        }
    }
}
