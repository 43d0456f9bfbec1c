//! `netboot try`: one VM on the private network, its console on this terminal.

use std::path::PathBuf;
use std::process::ExitCode;

use netboot_lab::Firmware;
use netboot_manifest::MacAddr;
use netboot_ops::boot_test::{try_one, TryOptions};

use crate::boot_test::{firmware, AccelArg};
use crate::logging::{self, LogFormat};

#[derive(clap::Args)]
pub struct TryArgs {
    /// The fleet (or a frozen build's manifest.json) to boot.
    pub fleet: PathBuf,
    /// The VM's MAC, as a host of the fleet has it [default: a machine the fleet does not
    /// name, which gets its default].
    #[arg(long, value_name = "MAC")]
    pub mac: Option<MacAddr>,
    /// bios, uefi or uefi-http.
    #[arg(long, value_name = "NAME", default_value = "bios", value_parser = firmware)]
    pub firmware: Firmware,
    #[arg(long, value_enum, default_value_t = AccelArg::Auto)]
    pub accel: AccelArg,
    /// Take the unprivileged path (a user namespace) even as root.
    #[arg(long, hide = true)]
    pub userns: bool,
}

pub fn run(args: TryArgs) -> ExitCode {
    logging::init(LogFormat::Text);
    eprintln!("netboot try: the VM's console follows; Ctrl-A X ends it and removes everything");
    let options = TryOptions {
        fleet: args.fleet,
        mac: args.mac,
        firmware: args.firmware,
        accel: args.accel.choice(),
        user_namespace: args.userns,
    };
    match try_one(&options) {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("netboot try: QEMU ended with {status}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("netboot try: {e}");
            ExitCode::from(2)
        }
    }
}
