//! `netboot doctor`: arguments, and the exit code of the checks.
//!
//! Exit codes: 0 no problem, 1 a problem found, 2 usage error or the checks could not run.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

use netboot_ops::console::Console;
use netboot_ops::doctor::{doctor, DoctorOptions, Verdict};

use crate::report_format::Format;

#[derive(clap::Args)]
pub struct DoctorArgs {
    /// The interface on the boot network [default: the fleet's `interface`].
    #[arg(long, value_name = "IF")]
    pub interface: Option<String>,
    /// The address netboot will advertise [default: the fleet's `address`]; must be on IF.
    #[arg(long, value_name = "IPV4")]
    pub address: Option<Ipv4Addr>,
    /// Take the interface, address and ports from this fleet's `server` block.
    #[arg(long, value_name = "FLEET.kdl")]
    pub fleet: Option<PathBuf>,
    /// How long to listen for answers to the DISCOVER.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub listen_seconds: u64,
    /// HTTP port to check [default: the fleet's, or 8080].
    #[arg(long, value_name = "PORT", value_parser = crate::overrides::port())]
    pub http_port: Option<u16>,
    /// TFTP port to check [default: the fleet's, or 69].
    #[arg(long, value_name = "PORT", value_parser = crate::overrides::port())]
    pub tftp_port: Option<u16>,
    /// netboot will not run proxy-DHCP here (`serve --no-dhcp`): skip ports 67 and 4011.
    #[arg(long)]
    pub no_dhcp: bool,
    /// Check the interface and ports only; send nothing on the network.
    #[arg(long)]
    pub no_discover: bool,
    /// The LAN's DHCP server hands out the boot answers (`netboot dhcp-config`): send one
    /// DISCOVER per client kind and check each answer against --fleet.
    #[arg(long, requires = "fleet")]
    pub router: bool,
    /// `human`: one line per check as it runs; `json`: one object at the end.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

pub fn run(args: DoctorArgs) -> ExitCode {
    let options = DoctorOptions {
        interface: args.interface,
        address: args.address,
        fleet: args.fleet,
        listen_seconds: args.listen_seconds,
        http_port: args.http_port,
        tftp_port: args.tftp_port,
        no_dhcp: args.no_dhcp,
        no_discover: args.no_discover,
        router: args.router,
        format: args.format.into(),
    };
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    match doctor(&options, &mut Console::new(&mut out, &mut err)) {
        Ok(Verdict::Ready) => ExitCode::SUCCESS,
        Ok(Verdict::Problems) => ExitCode::from(1),
        Ok(Verdict::CouldNotProbe) => ExitCode::from(2),
        Err(e) => {
            eprintln!("netboot doctor: {e}");
            ExitCode::from(2)
        }
    }
}
