//! `netboot serve`: run proxy-DHCP, TFTP and HTTP from a fleet or a frozen manifest.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ServeArgs {}

pub fn run(_args: ServeArgs) -> ExitCode {
    eprintln!("netboot serve: not written yet");
    ExitCode::from(2)
}
