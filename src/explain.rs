//! `netboot explain FLEET MAC`: arguments, and the exit code of the explanation.
//!
//! Exit codes: 0 the machine boots something (exiting to its disk counts), 1 it gets nothing
//! or its chain is broken, 2 usage or I/O error.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

use netboot_manifest::{ClientKind, MacAddr};
use netboot_ops::explain::{explain, ExplainOptions, Input};
use netboot_ops::loaded::LoadError;

use crate::report_format::Format;

#[derive(clap::Args)]
pub struct ExplainArgs {
    /// The fleet, then the machine's MAC address (with --manifest: the MAC only).
    #[arg(value_name = "FLEET.kdl", required = true)]
    pub first: String,
    #[arg(value_name = "MAC")]
    pub second: Option<String>,
    /// Explain a frozen build (`manifest.json` from `netboot build`) instead of a fleet.
    #[arg(long, value_name = "MANIFEST.json")]
    pub manifest: Option<PathBuf>,
    /// Firmware of the machine [default: the first kind the fleet serves].
    #[arg(long, value_enum)]
    pub arch: Option<Arch>,
    /// Address the server answers on [default: the fleet's `address`].
    #[arg(long, value_name = "IPV4")]
    pub address: Option<Ipv4Addr>,
    /// The server's state directory: show which of an install lifecycle's two profiles the
    /// machine gets now [default: name both, follow the `then` profile].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    Bios,
    EfiX64,
    EfiArm64,
    HttpX64,
    HttpArm64,
}

impl Arch {
    pub fn kind(self) -> ClientKind {
        match self {
            Arch::Bios => ClientKind::Bios,
            Arch::EfiX64 => ClientKind::EfiX64,
            Arch::EfiArm64 => ClientKind::EfiArm64,
            Arch::HttpX64 => ClientKind::HttpX64,
            Arch::HttpArm64 => ClientKind::HttpArm64,
        }
    }
}

pub fn run(args: ExplainArgs) -> ExitCode {
    let (input, mac_text) = match (args.manifest, args.second) {
        (Some(m), None) => (Input::Manifest(m), args.first),
        (None, Some(mac)) => (Input::Fleet(PathBuf::from(args.first)), mac),
        (Some(_), Some(_)) => return usage("with --manifest give only the MAC address"),
        (None, None) => return usage("give a fleet (or --manifest M) and a MAC address"),
    };
    let mac: MacAddr = match mac_text.parse() {
        Ok(m) => m,
        Err(e) => return usage(&e.to_string()),
    };
    let options = ExplainOptions {
        input,
        mac,
        arch: args.arch.map(Arch::kind),
        address: args.address,
        state_dir: args.state_dir,
        format: args.format.into(),
    };
    match explain(&options) {
        Ok(explained) => {
            crate::stdout::emit(&explained.text);
            ExitCode::from(u8::from(!explained.boots))
        }
        Err(e) => {
            eprintln!("netboot explain: {e}");
            ExitCode::from(match e {
                LoadError::Invalid(_) => 1,
                LoadError::Unreadable(_) => 2,
            })
        }
    }
}

fn usage(message: &str) -> ExitCode {
    eprintln!("netboot explain: {message}");
    ExitCode::from(2)
}
