//! Reading a BOOTREQUEST's fixed header and options, refusing anything malformed.

use std::net::Ipv4Addr;

use netboot_manifest::MacAddr;

use super::options::{OptionError, Options};

/// Fixed BOOTP header (236 bytes) plus the 4-byte magic cookie.
pub const HEADER_LEN: usize = 240;
const MAGIC: [u8; 4] = [99, 130, 83, 99];
const BOOTREQUEST: u8 = 1;
const HTYPE_ETHERNET: u8 = 1;
/// RFC 1542 says relays drop packets past 16 hops; a higher count means a relay loop.
const MAX_HOPS: u8 = 16;

/// DHCP message types (option 53) the proxy cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    Discover,
    Request,
    Inform,
    /// Anything else (decline, release, a server's own messages...), by number.
    Other(u8),
}

impl MessageType {
    fn from_byte(b: u8) -> MessageType {
        match b {
            1 => MessageType::Discover,
            3 => MessageType::Request,
            8 => MessageType::Inform,
            n => MessageType::Other(n),
        }
    }
}

/// Why a packet is not a BOOTREQUEST we can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedRequest {
    #[error("packet is {0} bytes, shorter than the 240-byte BOOTP header")]
    Truncated(usize),
    #[error("op is {0}, not BOOTREQUEST (1)")]
    NotRequest(u8),
    #[error("hardware type {htype} with address length {hlen}: only Ethernet (1, 6) is served")]
    Hardware { htype: u8, hlen: u8 },
    #[error("{0} relay hops: a relay loop")]
    Hops(u8),
    #[error("no DHCP magic cookie (a plain BOOTP packet)")]
    NoMagic,
    #[error("bad options: {0}")]
    Options(#[from] OptionError),
    #[error("no DHCP message type (option 53)")]
    NoMessageType,
}

/// The parts of a request a proxy answer depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub xid: u32,
    pub flags: u16,
    pub hops: u8,
    pub ciaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    pub mac: MacAddr,
    pub message_type: MessageType,
    pub options: Options,
}

impl Request {
    /// Parses `packet`, rejecting every shape real firmware would not send.
    pub fn parse(packet: &[u8]) -> Result<Request, MalformedRequest> {
        if packet.len() < HEADER_LEN {
            return Err(MalformedRequest::Truncated(packet.len()));
        }
        if packet[0] != BOOTREQUEST {
            return Err(MalformedRequest::NotRequest(packet[0]));
        }
        let (htype, hlen) = (packet[1], packet[2]);
        if htype != HTYPE_ETHERNET || hlen != 6 {
            return Err(MalformedRequest::Hardware { htype, hlen });
        }
        let hops = packet[3];
        if hops > MAX_HOPS {
            return Err(MalformedRequest::Hops(hops));
        }
        if packet[236..240] != MAGIC {
            return Err(MalformedRequest::NoMagic);
        }
        let u32_at =
            |i: usize| u32::from_be_bytes([packet[i], packet[i + 1], packet[i + 2], packet[i + 3]]);
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&packet[28..34]);
        let options = Options::parse(&packet[HEADER_LEN..], &packet[108..236], &packet[44..108])?;
        let message_type = match options.get(53) {
            Some([t]) => MessageType::from_byte(*t),
            _ => return Err(MalformedRequest::NoMessageType),
        };
        Ok(Request {
            xid: u32_at(4),
            flags: u16::from_be_bytes([packet[10], packet[11]]),
            hops,
            ciaddr: Ipv4Addr::from(u32_at(12)),
            giaddr: Ipv4Addr::from(u32_at(24)),
            mac: MacAddr(mac),
            message_type,
            options,
        })
    }
}
