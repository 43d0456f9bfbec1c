//! `--address`, `--interface` and `--http-port` over the fleet's `server` block, as `build`
//! and `check` take them.

use std::net::Ipv4Addr;

use netboot_compiler::ServerOverrides;

/// Settings that override the fleet's `server` block (shared by build and check).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct OverrideArgs {
    /// Address clients fetch from (what `{{ server }}` renders to, with the HTTP port).
    #[arg(long)]
    pub address: Option<Ipv4Addr>,
    /// Interface proxy-DHCP listens on.
    #[arg(long)]
    pub interface: Option<String>,
    /// HTTP port (1–65535, as in the fleet: port 0 would be written into every URL).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub http_port: Option<u16>,
}

impl OverrideArgs {
    pub fn to_overrides(&self) -> ServerOverrides {
        ServerOverrides {
            interface: self.interface.clone(),
            address: self.address,
            http_port: self.http_port,
            ..ServerOverrides::default()
        }
    }
}
