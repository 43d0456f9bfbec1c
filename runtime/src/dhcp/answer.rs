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
    let (protocol, file) = boot_file(manifest, &client, request.mac, server)?;
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

/// The manifest's answer for this client ([`Manifest::boot_target`], the rule the exported
/// router configurations follow too), as the client will see it: a TFTP path or an HTTP URL.
pub(super) fn boot_file(
    manifest: &Manifest,
    client: &Client,
    mac: MacAddr,
    server: &ServerIdentity,
) -> Result<(Protocol, String), Ignored> {
    let target = manifest
        .boot_target(client.kind, Some(mac))
        .ok_or(Ignored::NoAnswer(client.kind))?;
    Ok((target.protocol, target.file(server.addr, server.http_port)))
}
