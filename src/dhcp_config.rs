//! `netboot dhcp-config FLEET --for SERVER`: arguments, and the exit code of the export.
//!
//! Exit codes: 0 the snippet is on stdout, 1 the fleet has errors or cannot be exported (no
//! server address, no loaders), 2 usage or I/O error.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

use netboot_compiler::ServerOverrides;
use netboot_ops::dhcp_config::{dhcp_config, DhcpConfigError, DhcpConfigOptions, Target};
use netboot_ops::loaded::LoadError;

use crate::overrides::port;

#[derive(clap::Args)]
pub struct DhcpConfigArgs {
    /// The fleet, or a frozen build's manifest.json.
    #[arg(value_name = "FLEET.kdl")]
    pub fleet: PathBuf,
    /// The DHCP server to write the snippet for.
    #[arg(long = "for", value_enum, value_name = "SERVER")]
    pub target: Server,
    /// Address clients fetch from [default: the fleet's `address`].
    #[arg(long, value_name = "IPV4")]
    pub address: Option<Ipv4Addr>,
    /// HTTP port [default: the fleet's `http-port`, else 8080].
    #[arg(long, value_parser = port())]
    pub http_port: Option<u16>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    /// dnsmasq (`conf-file=` or /etc/dnsmasq.d/).
    Dnsmasq,
    /// ISC dhcpd (dhcpd.conf).
    Isc,
    /// Kea kea-dhcp4 (client classes).
    Kea,
    /// MikroTik RouterOS 7.4+ (terminal commands).
    Routeros,
}

impl Server {
    fn target(self) -> Target {
        match self {
            Server::Dnsmasq => Target::Dnsmasq,
            Server::Isc => Target::Isc,
            Server::Kea => Target::Kea,
            Server::Routeros => Target::RouterOs,
        }
    }
}

pub fn run(args: DhcpConfigArgs) -> ExitCode {
    let options = DhcpConfigOptions {
        input: args.fleet,
        target: args.target.target(),
        overrides: ServerOverrides {
            address: args.address,
            http_port: args.http_port,
            ..ServerOverrides::default()
        },
    };
    match dhcp_config(&options) {
        Ok(text) => {
            crate::stdout::emit(&text);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("netboot dhcp-config: {e}");
            ExitCode::from(match e {
                DhcpConfigError::Load(LoadError::Unreadable(_)) => 2,
                _ => 1,
            })
        }
    }
}
