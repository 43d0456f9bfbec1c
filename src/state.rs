//! `netboot state [FLEET]`: arguments, and the exit code of the listing.
//!
//! Exit codes: 0 listed, 1 the fleet has errors or the state file is damaged, 2 usage or I/O.

use std::path::PathBuf;
use std::process::ExitCode;

use netboot_ops::install_state::DEFAULT_STATE_DIR;
use netboot_ops::loaded::LoadError;
use netboot_ops::state::{state, StateError, StateOptions};

use netboot_ops::install_state::StateUrl;

use crate::report_format::Format;

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("source").args(["fleet", "manifest"]))]
pub struct StateArgs {
    /// The fleet, to show what each machine boots next [default: the state file's records
    /// alone].
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
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

pub fn run(args: StateArgs) -> ExitCode {
    let options = StateOptions {
        fleet: args.fleet.or(args.manifest),
        state_dir: args.state_dir,
        state: args.state,
        format: args.format.into(),
    };
    match state(&options) {
        Ok(listed) => {
            crate::stdout::emit(&listed.text);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("netboot state: {e}");
            ExitCode::from(match e {
                StateError::Load(LoadError::Unreadable(_)) => 2,
                StateError::Load(LoadError::Invalid(_)) | StateError::State(_) => 1,
            })
        }
    }
}
