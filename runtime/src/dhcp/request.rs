//! Reading a BOOTREQUEST's fixed header and options, refusing anything malformed.

use std::net::Ipv4Addr;

use netboot_manifest::MacAddr;

use super::header::Header;
use super::options::{OptionError, Options};

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
        let header = Header::read(packet).ok_or(MalformedRequest::Truncated(packet.len()))?;
        if header.op != BOOTREQUEST {
            return Err(MalformedRequest::NotRequest(header.op));
        }
        let (htype, hlen) = (header.htype, header.hlen);
        if htype != HTYPE_ETHERNET || hlen != 6 {
            return Err(MalformedRequest::Hardware { htype, hlen });
        }
        let hops = header.hops;
        if hops > MAX_HOPS {
            return Err(MalformedRequest::Hops(hops));
        }
        if !header.has_magic() {
            return Err(MalformedRequest::NoMagic);
        }
        let options = header.options()?;
        let message_type = match options.get(53) {
            Some([t]) => MessageType::from_byte(*t),
            _ => return Err(MalformedRequest::NoMessageType),
        };
        Ok(Request {
            xid: header.xid,
            flags: header.flags,
            hops,
            ciaddr: header.ciaddr,
            giaddr: header.giaddr,
            mac: header.chaddr,
            message_type,
            options,
        })
    }
}
