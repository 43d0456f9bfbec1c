//! `netboot diff OLD NEW`: arguments, and the exit code of the comparison.
//!
//! Exit codes as diff(1): 0 no differences, 1 differences, 2 usage or I/O error (or a side
//! that does not compile).

use std::process::ExitCode;

use netboot_ops::diff::{diff, DiffOptions};

use crate::report_format::Format;

#[derive(clap::Args)]
pub struct DiffArgs {
    /// The fleet before: a fleet.kdl, a manifest.json, or git:REV:path/to/fleet.kdl.
    pub old: String,
    /// The fleet after, in the same forms.
    pub new: String,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

pub fn run(args: DiffArgs) -> ExitCode {
    let options = DiffOptions {
        old: args.old,
        new: args.new,
        format: args.format.into(),
    };
    match diff(&options) {
        Ok(diffed) => {
            crate::stdout::emit(&diffed.text);
            ExitCode::from(u8::from(diffed.changed))
        }
        Err(e) => {
            eprintln!("netboot diff: {e}");
            ExitCode::from(2)
        }
    }
}
