//! The BOOTP fixed header (RFC 951, RFC 2131) cut into its fields at their fixed offsets: the
//! one place both requests ([`super::Request`]) and replies ([`super::Offer`]) are read from.
//!
//! Nothing here trusts a length field: the header has a fixed size, and the options after it
//! go to the strict [`Options`] parser.

use std::net::Ipv4Addr;

use netboot_manifest::MacAddr;

use super::options::{OptionError, Options};

/// Fixed BOOTP header (236 bytes) plus the 4-byte magic cookie.
pub const HEADER_LEN: usize = 240;
const MAGIC: [u8; 4] = [99, 130, 83, 99];

/// A packet's fixed header, borrowed from its bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header<'a> {
    pub op: u8,
    pub htype: u8,
    pub hlen: u8,
    pub hops: u8,
    pub xid: u32,
    pub flags: u16,
    pub ciaddr: Ipv4Addr,
    pub yiaddr: Ipv4Addr,
    pub siaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    /// The first six bytes of `chaddr`: an Ethernet address, the only kind served.
    pub chaddr: MacAddr,
    pub sname: &'a [u8],
    pub file: &'a [u8],
    magic: &'a [u8],
    options: &'a [u8],
}

impl<'a> Header<'a> {
    /// The header of `packet`, or `None` when it is shorter than [`HEADER_LEN`].
    pub fn read(packet: &'a [u8]) -> Option<Header<'a>> {
        if packet.len() < HEADER_LEN {
            return None;
        }
        let u32_at =
            |i: usize| u32::from_be_bytes([packet[i], packet[i + 1], packet[i + 2], packet[i + 3]]);
        let mut chaddr = [0u8; 6];
        chaddr.copy_from_slice(&packet[28..34]);
        Some(Header {
            op: packet[0],
            htype: packet[1],
            hlen: packet[2],
            hops: packet[3],
            xid: u32_at(4),
            flags: u16::from_be_bytes([packet[10], packet[11]]),
            ciaddr: Ipv4Addr::from(u32_at(12)),
            yiaddr: Ipv4Addr::from(u32_at(16)),
            siaddr: Ipv4Addr::from(u32_at(20)),
            giaddr: Ipv4Addr::from(u32_at(24)),
            chaddr: MacAddr(chaddr),
            sname: &packet[44..108],
            file: &packet[108..236],
            magic: &packet[236..HEADER_LEN],
            options: &packet[HEADER_LEN..],
        })
    }

    /// Whether the DHCP magic cookie follows the header (else it is plain BOOTP).
    pub fn has_magic(&self) -> bool {
        self.magic == MAGIC
    }

    /// The options area, with `file` and `sname` read too when option 52 overloads them.
    pub fn options(&self) -> Result<Options, OptionError> {
        Options::parse(self.options, self.file, self.sname)
    }
}
