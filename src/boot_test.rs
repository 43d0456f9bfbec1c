//! `netboot test`: arguments, the report on stdout, and the exit code.
//!
//! Exit codes: 0 every machine booted, 1 some did not, 2 the test could not run (a missing
//! package, no private network, a fleet with errors).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use netboot_lab::{Accel, Firmware};
use netboot_ops::boot_test::{render, test, TestFormat, TestOptions};

use crate::logging::{self, LogFormat};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Human,
    Json,
    Junit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AccelArg {
    /// KVM when /dev/kvm is usable, else TCG.
    Auto,
    Kvm,
    Tcg,
}

impl AccelArg {
    pub fn choice(self) -> Option<Accel> {
        match self {
            AccelArg::Auto => None,
            AccelArg::Kvm => Some(Accel::Kvm),
            AccelArg::Tcg => Some(Accel::Tcg),
        }
    }
}

/// A firmware name on the command line: bios, uefi, uefi-http, uefi-secure-boot.
pub fn firmware(name: &str) -> Result<Firmware, String> {
    Firmware::parse(name).ok_or_else(|| {
        format!("unknown firmware `{name}` (expected bios, uefi, uefi-http or uefi-secure-boot)")
    })
}

#[derive(clap::Args)]
pub struct TestArgs {
    /// The fleet (or a frozen build's manifest.json) to boot.
    pub fleet: PathBuf,
    /// Boot only this machine (a host's name or MAC, or `default` for an unknown machine);
    /// repeat for several. Default: every host and the unknown machine.
    #[arg(long, value_name = "NAME|MAC")]
    pub machine: Vec<String>,
    /// Firmware to boot each machine with: bios (SeaBIOS + iPXE), uefi (OVMF's PXE),
    /// uefi-http (OVMF's HTTP Boot), uefi-secure-boot (OVMF enforcing Secure Boot with
    /// Microsoft's keys; machines the fleet boots through iPXE are skipped under it).
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_value = "bios,uefi", value_parser = firmware)]
    pub firmware: Vec<Firmware>,
    /// Seconds each VM may take [default: 180 BIOS, 300 UEFI, 420 Secure Boot; 180 more for
    /// an installer that must fetch its answer file].
    #[arg(long, value_name = "S")]
    pub timeout: Option<u64>,
    /// Write the result (result.txt, result.json, junit.xml), each VM's serial log and a PNG
    /// of its screen into DIR.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = FormatArg::Human)]
    pub format: FormatArg,
    /// A text every VM's serial console must show before its boot counts.
    #[arg(long, value_name = "TEXT")]
    pub expect_console: Option<String>,
    #[arg(long, value_enum, default_value_t = AccelArg::Auto)]
    pub accel: AccelArg,
    /// Seconds without a request after the last file before a machine counts as booted.
    #[arg(long, value_name = "S", default_value_t = 20)]
    pub quiet: u64,
    /// VMs at once [default: the number of cores].
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Take the unprivileged path (a user namespace) even as root.
    #[arg(long, hide = true)]
    pub userns: bool,
    /// Log every server line and VM start on stderr (default: warnings only, since several
    /// VMs' lines interleave; the report has each machine's own lines).
    #[arg(short, long)]
    pub verbose: bool,
}

pub fn run(args: TestArgs) -> ExitCode {
    logging::init_at(LogFormat::Text, if args.verbose { "info" } else { "warn" });
    let format = match args.format {
        FormatArg::Human => TestFormat::Human,
        FormatArg::Json => TestFormat::Json,
        FormatArg::Junit => TestFormat::Junit,
    };
    let options = TestOptions {
        fleet: args.fleet,
        machines: args.machine,
        firmware: args.firmware,
        timeout: args.timeout.map(Duration::from_secs),
        report: args.report,
        expect_console: args.expect_console,
        accel: args.accel.choice(),
        user_namespace: args.userns,
        quiet: Duration::from_secs(args.quiet),
        jobs: args.jobs,
    };
    match test(&options) {
        Ok(run) => {
            crate::stdout::emit(&render(&run, format));
            if run.all_passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("netboot test: {e}");
            ExitCode::from(2)
        }
    }
}
