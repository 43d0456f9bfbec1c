//! The server's effective settings, settled once: what the fleet's `server` block (or a frozen
//! manifest's) says, overridden by the command line, with the defaults for what neither says.
//!
//! `build`, `check`, `serve`, `doctor` and `explain` all need the same answer to "which port,
//! which address, which interface, which DHCP mode", and the compiler needs it before rendering
//! (`{{ server }}` names the address and HTTP port). Merging in one place keeps them from
//! drifting apart. It lives beside [`Server`], the lowest crate every one of them reaches.
//! Resolving an interface to its address is not here: that asks the operating system, which is
//! the runtime's job.

use std::net::Ipv4Addr;

use crate::{DhcpMode, Server};

/// HTTP port when neither the fleet nor the command line names one.
pub const DEFAULT_HTTP_PORT: u16 = 8080;
/// TFTP port when neither the fleet nor the command line names one.
pub const DEFAULT_TFTP_PORT: u16 = 69;
/// The DHCP server port, where PXE clients broadcast their DISCOVER.
pub const DHCP_PORT: u16 = 67;
/// The PXE boot server port, where UEFI firmware and iPXE send their REQUEST.
pub const PXE_PORT: u16 = 4011;

/// What a `server` block says; `None` where it is silent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerBlock {
    pub interface: Option<String>,
    pub address: Option<Ipv4Addr>,
    pub http_port: Option<u16>,
    pub tftp_port: Option<u16>,
    pub dhcp: Option<DhcpMode>,
}

impl From<&Server> for ServerBlock {
    /// A frozen manifest's block was settled when it was built: it says everything.
    fn from(s: &Server) -> ServerBlock {
        ServerBlock {
            interface: s.interface.clone(),
            address: s.address,
            http_port: Some(s.http_port),
            tftp_port: Some(s.tftp_port),
            dhcp: Some(s.dhcp.clone()),
        }
    }
}

/// Command-line overrides of the `server` block; each wins over what the block says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerOverrides {
    pub interface: Option<String>,
    pub address: Option<Ipv4Addr>,
    pub http_port: Option<u16>,
    pub tftp_port: Option<u16>,
    /// `--no-dhcp`: whatever the block's mode, run no DHCP.
    pub no_dhcp: bool,
}

/// The effective settings: each override, else the block's value, else the default. A block
/// that names no DHCP mode runs proxy-DHCP.
pub fn settle(block: &ServerBlock, overrides: &ServerOverrides) -> Server {
    Server {
        interface: overrides
            .interface
            .clone()
            .or_else(|| block.interface.clone()),
        address: overrides.address.or(block.address),
        http_port: overrides
            .http_port
            .or(block.http_port)
            .unwrap_or(DEFAULT_HTTP_PORT),
        tftp_port: overrides
            .tftp_port
            .or(block.tftp_port)
            .unwrap_or(DEFAULT_TFTP_PORT),
        dhcp: if overrides.no_dhcp {
            DhcpMode::Off
        } else {
            block.dhcp.clone().unwrap_or(DhcpMode::Proxy)
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_block_gets_the_defaults() {
        let s = settle(&ServerBlock::default(), &ServerOverrides::default());
        assert_eq!(
            s,
            Server {
                interface: None,
                address: None,
                http_port: 8080,
                tftp_port: 69,
                dhcp: DhcpMode::Proxy,
            }
        );
    }

    #[test]
    fn overrides_win_over_the_block_and_the_block_over_defaults() {
        let block = ServerBlock {
            interface: Some("eth0".into()),
            address: Some(Ipv4Addr::new(10, 0, 0, 1)),
            http_port: Some(81),
            tftp_port: None,
            dhcp: None,
        };
        let overrides = ServerOverrides {
            interface: Some("br0".into()),
            tftp_port: Some(1069),
            ..ServerOverrides::default()
        };
        let s = settle(&block, &overrides);
        assert_eq!(s.interface.as_deref(), Some("br0"));
        assert_eq!(s.address, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!((s.http_port, s.tftp_port), (81, 1069));
        assert_eq!(s.dhcp, DhcpMode::Proxy);
    }

    #[test]
    fn no_dhcp_turns_any_mode_off_and_a_settled_block_settles_to_itself() {
        let server = Server {
            interface: Some("eth0".into()),
            address: None,
            http_port: 8081,
            tftp_port: 6969,
            dhcp: DhcpMode::Proxy,
        };
        let block = ServerBlock::from(&server);
        assert_eq!(settle(&block, &ServerOverrides::default()), server);
        let off = ServerOverrides {
            no_dhcp: true,
            ..ServerOverrides::default()
        };
        assert_eq!(settle(&block, &off).dhcp, DhcpMode::Off);
    }
}
