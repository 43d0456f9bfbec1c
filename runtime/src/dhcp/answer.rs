//! The decision: given one request's bytes and the manifest, what (if anything) to send back.
//!
//! Pure over its inputs, so every rule is a unit test and a fuzz target.

use std::net::{Ipv4Addr, SocketAddrV4};

use dhcproto::v4::MessageType as WireType;
use netboot_manifest::{ClientKind, MacAddr, Manifest, Protocol};

use super::classify::{classify, Client, NotOurs};
use super::destination::Sender;
use super::outgoing::{build, Boot, Outgoing};
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
    // Boot information only: a proxy never gives an address, and echoes the client's own.
    let out = Outgoing {
        request: &request,
        message: reply_type,
        server: server.addr,
        ciaddr: request.ciaddr,
        yiaddr: Ipv4Addr::UNSPECIFIED,
        refused: None,
        network: None,
        boot: Some(Boot {
            client: &client,
            protocol,
            file: &file,
        }),
        sender: Sender::Proxy(port),
    };
    let built = build(&out, source).map_err(|e| Ignored::Encode(e.to_string()))?;
    Ok(Reply {
        bytes: built.bytes,
        destination: built.destination,
        mac: request.mac,
        kind: client.kind,
        file,
    })
}

/// The manifest's answer for this client: its kind's loader (the Secure Boot chain's for a
/// machine the fleet says boots through it), except that an iPXE client the fleet names by
/// MAC gets its own host script.
pub(super) fn boot_target<'m>(
    manifest: &'m Manifest,
    client: &Client,
    mac: MacAddr,
) -> Result<(Protocol, &'m str), Ignored> {
    let entry = manifest
        .loader(client.kind, mac)
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
