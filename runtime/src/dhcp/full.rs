//! Full-DHCP mode: the decision for one packet on port 67 when netboot is the segment's only
//! DHCP server (an isolated lab with no router).
//!
//! Unlike the proxy it hands out addresses, to every client that asks (PXE or not), and it
//! answers the whole RFC 2131 exchange: DISCOVER, REQUEST (selecting, init-reboot, renewing,
//! rebinding), RELEASE, DECLINE and INFORM. A client that is a PXE, HTTP-boot or iPXE client
//! also gets the same boot answer the proxy would give, in the same OFFER and ACK. Port 4011
//! stays with the proxy's [`answer`](super::answer), which full mode runs unchanged.
//!
//! Relayed requests (giaddr set) are served from the range of the relayed subnet holding the
//! giaddr, with that subnet's mask and router, and answered through the relay; a giaddr on
//! the server's own subnet is the server's own segment; any other giaddr gets no answer,
//! never an address of the wrong subnet.
//!
//! Pure over its inputs: the lease tables and the time are passed in.

use std::net::{Ipv4Addr, SocketAddrV4};

use dhcproto::v4::MessageType as WireType;
use netboot_manifest::{ClientKind, MacAddr, Manifest, Protocol, RelayedSubnet};

use super::answer::{boot_file, ServerIdentity};
use super::classify::{classify, Client};
use super::destination::Sender;
use super::lease::{Exhausted, Refusal};
use super::lease_ranges::{LeaseRanges, RangeId};
use super::outgoing::{self, build, Network, Outgoing};
use super::request::{MalformedRequest, MessageType, Request};

const REQUESTED_IP: u8 = 50;
const SERVER_ID: u8 = 54;
const DECLINE: u8 = 4;
const RELEASE: u8 = 7;

/// What full mode tells every client besides its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullConfig {
    pub server: ServerIdentity,
    /// The subnet mask of the server's address on its interface.
    pub netmask: Ipv4Addr,
    /// Default gateway (option 3); isolated labs usually have none.
    pub router: Option<Ipv4Addr>,
    /// DNS servers (option 6), in order.
    pub dns: Vec<Ipv4Addr>,
    pub lease_secs: u32,
    /// Subnets behind relays, in the order of their lease tables in [`LeaseRanges`].
    pub relayed: Vec<RelayedSubnet>,
}

impl FullConfig {
    /// The range a request relayed by `giaddr` (unspecified: not relayed) is served from:
    /// the server's own when the relay is on the server's own subnet.
    pub fn range_of(&self, giaddr: Ipv4Addr) -> Option<RangeId> {
        let mask = u32::from(self.netmask);
        if giaddr.is_unspecified() || u32::from(giaddr) & mask == u32::from(self.server.addr) & mask
        {
            return Some(RangeId::Own);
        }
        self.relayed
            .iter()
            .position(|s| s.contains(giaddr))
            .map(RangeId::Relayed)
    }

    /// Mask and router for clients of `range`, relayed by `giaddr`.
    fn network_of(&self, range: RangeId, giaddr: Ipv4Addr) -> (Ipv4Addr, Option<Ipv4Addr>) {
        match range {
            RangeId::Relayed(i) => match self.relayed.get(i) {
                // A relay is the gateway of its clients' link, unless the fleet names another.
                Some(s) => (s.netmask(), Some(s.router.unwrap_or(giaddr))),
                None => (self.netmask, self.router),
            },
            RangeId::Own => (self.netmask, self.router),
        }
    }
}

/// The outcome for one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FullDecision {
    Reply(FullReply),
    /// No reply; the reason is logged (RELEASE and DECLINE are answered by silence).
    Silent(Silence),
}

/// A reply to send, with what it says for the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullReply {
    pub bytes: Vec<u8>,
    pub destination: SocketAddrV4,
    pub mac: MacAddr,
    /// OFFER, ACK or NAK.
    pub message: WireType,
    /// The address given (0.0.0.0 for a NAK or an INFORM's ACK).
    pub ip: Ipv4Addr,
    /// The boot file and client kind, for boot clients the manifest answers.
    pub boot: Option<(ClientKind, String)>,
    /// Why a NAK was sent.
    pub refused: Option<Refusal>,
}

/// Why a packet got no reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Silence {
    #[error("malformed: {0}")]
    Malformed(#[from] MalformedRequest),
    #[error("the client chose the offer of another DHCP server, {server}: two DHCP servers answer on this segment")]
    OtherServer { server: Ipv4Addr },
    #[error("a REQUEST that names no address (no option 50 and no ciaddr)")]
    NoAddress,
    #[error("{0}")]
    Exhausted(#[from] Exhausted),
    #[error("released {0}")]
    Released(Ipv4Addr),
    #[error("{ip} declined (in use by another host): quarantined")]
    Declined { ip: Ipv4Addr },
    #[error("a {kind} for {ip}, which this client does not hold")]
    NotHeld { kind: &'static str, ip: Ipv4Addr },
    #[error("message type {0} is not one a client sends to a server")]
    MessageType(u8),
    #[error("cannot encode the reply: {0}")]
    Encode(String),
    #[error("relayed by {giaddr}, which is in no `subnet` of the fleet's full DHCP: no range to lease from")]
    UnknownRelay { giaddr: Ipv4Addr },
}

/// Decides the answer to `packet`, which arrived on port 67 from `source`, at `now` (seconds
/// since the Unix epoch), updating `leases`.
pub fn decide_full(
    packet: &[u8],
    source: SocketAddrV4,
    manifest: &Manifest,
    config: &FullConfig,
    leases: &mut LeaseRanges,
    now: u64,
) -> FullDecision {
    match decide(packet, source, manifest, config, leases, now) {
        Ok(reply) => FullDecision::Reply(reply),
        Err(why) => FullDecision::Silent(why),
    }
}

fn decide(
    packet: &[u8],
    source: SocketAddrV4,
    manifest: &Manifest,
    config: &FullConfig,
    leases: &mut LeaseRanges,
    now: u64,
) -> Result<FullReply, Silence> {
    let request = Request::parse(packet)?;
    let giaddr = request.giaddr;
    let unknown = Silence::UnknownRelay { giaddr };
    let range = config.range_of(giaddr).ok_or(unknown.clone())?;
    let leases = leases.get_mut(range).ok_or(unknown)?;
    let network = config.network_of(range, giaddr);
    let mac = request.mac;
    let requested = ipv4_option(&request, REQUESTED_IP);
    let ours = config.server.addr;
    match request.message_type {
        MessageType::Discover => {
            let ip = leases.offer(mac, requested, now)?;
            reply(
                &request,
                source,
                manifest,
                config,
                network,
                Answer::Offer(ip),
            )
        }
        MessageType::Request => {
            let ip = match ipv4_option(&request, SERVER_ID) {
                // SELECTING: the client names the server whose offer it took.
                Some(server) if server != ours => {
                    leases.withdraw_offer(mac);
                    return Err(Silence::OtherServer { server });
                }
                Some(_) => requested.or(unicast(request.ciaddr)),
                // INIT-REBOOT names its old address in option 50; RENEWING and REBINDING
                // carry it in ciaddr.
                None => requested.or(unicast(request.ciaddr)),
            }
            .ok_or(Silence::NoAddress)?;
            let answer = match leases.bind(mac, ip, now) {
                Ok(lease) => Answer::Ack(lease.ip),
                Err(refusal) => Answer::Nak(refusal),
            };
            reply(&request, source, manifest, config, network, answer)
        }
        MessageType::Inform => reply(&request, source, manifest, config, network, Answer::Inform),
        MessageType::Other(DECLINE) => {
            let ip = requested.ok_or(Silence::NoAddress)?;
            if ipv4_option(&request, SERVER_ID).is_some_and(|s| s != ours) {
                return Err(Silence::OtherServer {
                    server: ipv4_option(&request, SERVER_ID).unwrap_or(ours),
                });
            }
            if leases.decline(mac, ip, now) {
                Err(Silence::Declined { ip })
            } else {
                Err(Silence::NotHeld {
                    kind: "DECLINE",
                    ip,
                })
            }
        }
        MessageType::Other(RELEASE) => {
            let ip = unicast(request.ciaddr).ok_or(Silence::NoAddress)?;
            if leases.release(mac, ip, now) {
                Err(Silence::Released(ip))
            } else {
                Err(Silence::NotHeld {
                    kind: "RELEASE",
                    ip,
                })
            }
        }
        MessageType::Other(n) => Err(Silence::MessageType(n)),
    }
}

enum Answer {
    Offer(Ipv4Addr),
    Ack(Ipv4Addr),
    Nak(Refusal),
    Inform,
}

/// What a boot client is told to fetch, as the proxy would tell it.
struct Boot {
    client: Client,
    protocol: Protocol,
    file: String,
}

fn boot(request: &Request, manifest: &Manifest, server: &ServerIdentity) -> Option<Boot> {
    let client = classify(&request.options).ok()?;
    let (protocol, file) = boot_file(manifest, &client, request.mac, server).ok()?;
    Some(Boot {
        client,
        protocol,
        file,
    })
}

fn reply(
    request: &Request,
    source: SocketAddrV4,
    manifest: &Manifest,
    config: &FullConfig,
    (netmask, router): (Ipv4Addr, Option<Ipv4Addr>),
    answer: Answer,
) -> Result<FullReply, Silence> {
    let (message, ip, refused) = match answer {
        Answer::Offer(ip) => (WireType::Offer, ip, None),
        Answer::Ack(ip) => (WireType::Ack, ip, None),
        Answer::Inform => (WireType::Ack, Ipv4Addr::UNSPECIFIED, None),
        Answer::Nak(why) => (WireType::Nak, Ipv4Addr::UNSPECIFIED, Some(why)),
    };
    let boot = match message {
        WireType::Nak => None,
        _ => boot(request, manifest, &config.server),
    };
    let inform = matches!(request.message_type, MessageType::Inform);
    let nak = message == WireType::Nak;
    let out = Outgoing {
        request,
        message,
        server: config.server.addr,
        // Only an INFORM's client holds the address it asks from.
        ciaddr: if inform {
            request.ciaddr
        } else {
            Ipv4Addr::UNSPECIFIED
        },
        yiaddr: ip,
        refused: refused.as_ref(),
        network: (!nak).then(|| Network {
            netmask,
            router,
            dns: &config.dns,
            lease_secs: (!inform).then_some(config.lease_secs),
        }),
        boot: boot.as_ref().map(|b| outgoing::Boot {
            client: &b.client,
            protocol: b.protocol,
            file: &b.file,
        }),
        sender: Sender::Full { nak },
    };
    let built = build(&out, source).map_err(|e| Silence::Encode(e.to_string()))?;
    Ok(FullReply {
        bytes: built.bytes,
        destination: built.destination,
        mac: request.mac,
        message,
        ip,
        boot: boot.map(|b| (b.client.kind, b.file)),
        refused,
    })
}

fn unicast(ip: Ipv4Addr) -> Option<Ipv4Addr> {
    (!ip.is_unspecified() && !ip.is_broadcast() && !ip.is_multicast()).then_some(ip)
}

fn ipv4_option(request: &Request, code: u8) -> Option<Ipv4Addr> {
    match request.options.get(code)? {
        [a, b, c, d] => Some(Ipv4Addr::new(*a, *b, *c, *d)),
        _ => None,
    }
}
