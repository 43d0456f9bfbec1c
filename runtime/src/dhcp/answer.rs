//! The decision: given one request's bytes and the manifest, what (if anything) to send back.
//!
//! Pure over its inputs, so every rule is a unit test and a fuzz target.

use std::net::{Ipv4Addr, SocketAddrV4};

use dhcproto::v4::{
    DhcpOption, DhcpOptions, Flags, HType, Message, MessageType as WireType, Opcode, OptionCode,
    UnknownOption,
};
use dhcproto::Encodable;
use netboot_manifest::{ClientKind, MacAddr, Manifest, Protocol};

use super::classify::{classify, Client, NotOurs, VendorClass};
use super::destination::destination;
use super::request::{MalformedRequest, MessageType, Request};
use super::Port;

/// What the server says about itself in replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerIdentity {
    /// Address clients fetch from: server identifier, next-server and HTTP URLs.
    pub addr: Ipv4Addr,
    pub http_port: u16,
}

/// The outcome for one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Stay silent; the reason is logged at debug level.
    Ignore(Ignored),
    Reply(Reply),
}

/// A reply to send, with what it says for the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub bytes: Vec<u8>,
    pub destination: SocketAddrV4,
    pub mac: MacAddr,
    pub kind: ClientKind,
    /// The boot file as the client sees it: a TFTP path or an HTTP URL.
    pub file: String,
}

/// Why a packet got no reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ignored {
    #[error("malformed: {0}")]
    Malformed(#[from] MalformedRequest),
    #[error("{message:?} on port {port} is not answered by a proxy")]
    MessageType { message: MessageType, port: u16 },
    #[error("{0}")]
    NotOurs(#[from] NotOurs),
    #[error("the manifest has no DHCP answer for client kind {0}")]
    NoAnswer(ClientKind),
    #[error("cannot encode the reply: {0}")]
    Encode(String),
}

/// Decides the answer to `request`, which arrived on `port` from `source`.
pub fn answer(
    request: &[u8],
    port: Port,
    source: SocketAddrV4,
    manifest: &Manifest,
    server: &ServerIdentity,
) -> Decision {
    match decide(request, port, source, manifest, server) {
        Ok(reply) => Decision::Reply(reply),
        Err(why) => Decision::Ignore(why),
    }
}

fn decide(
    packet: &[u8],
    port: Port,
    source: SocketAddrV4,
    manifest: &Manifest,
    server: &ServerIdentity,
) -> Result<Reply, Ignored> {
    let request = Request::parse(packet)?;
    // On 67 we only join the client's discovery; its REQUEST there belongs to the LAN's DHCP
    // server. On 4011 the client talks to us alone and wants the boot file confirmed.
    let reply_type = match (port, request.message_type) {
        (Port::Dhcp67, MessageType::Discover) => WireType::Offer,
        (Port::Pxe4011, MessageType::Request | MessageType::Inform) => WireType::Ack,
        (Port::Pxe4011, MessageType::Discover) => WireType::Offer,
        (port, message) => {
            return Err(Ignored::MessageType {
                message,
                port: port.number(),
            })
        }
    };
    let client = classify(&request.options)?;
    let (protocol, path) = boot_target(manifest, &client, request.mac)?;
    let file = match protocol {
        Protocol::Tftp => path.to_string(),
        Protocol::Http => http_url(server, path),
    };
    let bytes = encode(&request, reply_type, &client, protocol, &file, server)
        .map_err(|e| Ignored::Encode(e.to_string()))?;
    Ok(Reply {
        bytes,
        destination: destination(&request, port, source),
        mac: request.mac,
        kind: client.kind,
        file,
    })
}

/// The manifest's answer for this client: its kind's entry, except that an iPXE client the
/// fleet names by MAC gets its own host script.
pub(super) fn boot_target<'m>(
    manifest: &'m Manifest,
    client: &Client,
    mac: MacAddr,
) -> Result<(Protocol, &'m str), Ignored> {
    let entry = manifest
        .dhcp
        .get(&client.kind)
        .ok_or(Ignored::NoAnswer(client.kind))?;
    if client.kind == ClientKind::Ipxe {
        if let Some(host) = manifest.hosts.get(&mac) {
            return Ok((entry.protocol, host.script.as_str()));
        }
    }
    Ok((entry.protocol, entry.path.as_str()))
}

pub(super) fn http_url(server: &ServerIdentity, path: &str) -> String {
    let mut url = format!("http://{}:{}/", server.addr, server.http_port);
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

/// PXE vendor option 6 (discovery control) = 8: skip boot server discovery and boot the file
/// named here. The trailing 255 ends the encapsulated options.
const SKIP_DISCOVERY: [u8; 4] = [6, 1, 8, 255];
/// PXE vendor option 71: the boot item a client asks a boot server for.
const BOOT_ITEM: u8 = 71;

fn encode(
    request: &Request,
    reply_type: WireType,
    client: &Client,
    protocol: Protocol,
    file: &str,
    server: &ServerIdentity,
) -> Result<Vec<u8>, dhcproto::error::EncodeError> {
    let mut msg = Message::default();
    msg.set_opcode(Opcode::BootReply)
        .set_htype(HType::Eth)
        .set_chaddr(&request.mac.0)
        .set_xid(request.xid)
        .set_secs(0)
        .set_flags(Flags::from(request.flags))
        .set_ciaddr(request.ciaddr)
        .set_yiaddr(Ipv4Addr::UNSPECIFIED)
        .set_giaddr(request.giaddr);

    let mut opts = DhcpOptions::new();
    opts.insert(DhcpOption::MessageType(reply_type));
    opts.insert(DhcpOption::ServerIdentifier(server.addr));
    opts.insert(DhcpOption::ClassIdentifier(
        client.class.as_bytes().to_vec(),
    ));
    if let Some(guid) = request.options.get(97) {
        if guid.len() <= 255 {
            opts.insert(DhcpOption::ClientMachineIdentifier(guid.to_vec()));
        }
    }
    if let Some(vendor) = vendor_options(request, client) {
        opts.insert(DhcpOption::VendorExtensions(vendor));
    }
    // next-server is set even for HTTP answers: iPXE treats a proxy offer or ACK without
    // siaddr and a boot file as having no PXE options; it ignores such an ACK on 4011 and
    // ends with "Nothing to boot" (seen with the SeaBIOS iPXE ROM). With both, it boots from
    // the offer at once, without the 4011 round trip.
    msg.set_siaddr(server.addr);
    if protocol == Protocol::Tftp {
        msg.set_sname_str(server.addr.to_string());
        opts.insert(DhcpOption::TFTPServerName(
            server.addr.to_string().into_bytes(),
        ));
    }
    // The file field holds 128 bytes with its NUL; a longer name travels in option 67 only.
    if file.len() < 128 {
        msg.set_fname_str(file);
    }
    opts.insert(DhcpOption::BootfileName(file.as_bytes().to_vec()));
    echo_relay_information(request, &mut opts);
    msg.set_opts(opts);
    msg.to_vec()
}

/// RFC 3046: a relay's agent information (option 82) goes back to it unchanged.
pub(super) fn echo_relay_information(request: &Request, opts: &mut DhcpOptions) {
    if request.giaddr.is_unspecified() {
        return;
    }
    if let Some(info) = request.options.get(82).filter(|info| info.len() <= 255) {
        opts.insert(DhcpOption::Unknown(UnknownOption::new(
            OptionCode::RelayAgentInformation,
            info.to_vec(),
        )));
    }
}

/// Option 43 for the reply, or `None` to leave it out.
///
/// PXEClient firmware that is not UEFI (BIOS ROMs, iPXE) is told to skip boot server discovery.
/// UEFI PXE firmware gets no option 43 in the OFFER: edk2 then treats us as a "BINL" proxy and
/// asks again on 4011, which is the path every UEFI firmware handles (some ignore an offer that
/// tells them to skip discovery). A client that asked for a boot item gets it echoed, as a PXE
/// boot server must.
pub(super) fn vendor_options(request: &Request, client: &Client) -> Option<Vec<u8>> {
    if client.class != VendorClass::PxeClient {
        return None;
    }
    if let Some(item) = requested_boot_item(request) {
        let mut v = vec![BOOT_ITEM, 4];
        v.extend_from_slice(&item);
        v.push(255);
        return Some(v);
    }
    match client.kind {
        ClientKind::EfiX64 | ClientKind::EfiArm64 => None,
        _ => Some(SKIP_DISCOVERY.to_vec()),
    }
}

/// The 4-byte boot item (type, layer) in the request's option 43, if any.
fn requested_boot_item(request: &Request) -> Option<[u8; 4]> {
    let vendor = request.options.get(43)?;
    let mut at = 0;
    while at + 1 < vendor.len() {
        let (code, len) = (vendor[at], usize::from(vendor[at + 1]));
        if code == 255 {
            return None;
        }
        if code == 0 {
            at += 1;
            continue;
        }
        let value = vendor.get(at + 2..at + 2 + len)?;
        if code == BOOT_ITEM {
            return value.try_into().ok();
        }
        at += 2 + len;
    }
    None
}
