//! The socket loop: receive, ask [`answer`](super::answer) (or [`decide_full`] on port 67 in
//! full mode) against the current snapshot, and send what it decided through one path.

use std::collections::BTreeSet;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use netboot_manifest::MacAddr;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::watch;

use super::answer::{answer, Decision, ServerIdentity};
use super::full::{decide_full, FullDecision};
use super::full_setup::FullDhcp;
use super::port_claim::{self, PortClaim};
use super::Port;
use crate::status::{Event, Events};
use crate::Snapshot;

/// Where and as whom proxy-DHCP listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpConfig {
    /// Address put into replies (server identifier, next-server, HTTP URLs).
    pub server_addr: Ipv4Addr,
    pub http_port: u16,
    /// Bind to this interface only (SO_BINDTODEVICE), so broadcasts leave through the boot LAN.
    pub interface: Option<String>,
    /// 67 in production; tests use unprivileged ports.
    pub dhcp_port: u16,
    /// 4011 in production.
    pub pxe_port: u16,
}

/// A bound proxy-DHCP server; [`DhcpServer::run`] serves until the future is dropped.
pub struct DhcpServer {
    dhcp: UdpSocket,
    pxe: UdpSocket,
    identity: ServerIdentity,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    /// Full-DHCP mode: port 67 hands out addresses (port 4011 stays proxy).
    full: Option<Mutex<FullDhcp>>,
    /// Where answers to boot clients are reported for the status page (off unless set).
    events: Events,
    /// This process's claims on both ports, so no other netboot answers beside it.
    claims: [PortClaim; 2],
    /// Relays whose subnet full DHCP does not serve, already warned about: a relay forwards
    /// every retry of every client, and one warning per relay says all there is to say.
    unknown_relays: Mutex<BTreeSet<Ipv4Addr>>,
}

/// Log target of every proxy-DHCP event, so operators can filter on `netboot::dhcp`.
const LOG: &str = "netboot::dhcp";

/// Larger than any DHCP packet firmware sends (an Ethernet frame); a datagram that fills it
/// was cut short by the kernel and is dropped as truncated.
const RECV_BUFFER: usize = 4096;

impl DhcpServer {
    /// Binds both ports on 0.0.0.0 (DHCP clients without an address reach us only by
    /// broadcast, which a socket bound to a unicast address would not receive).
    pub async fn bind(
        config: &DhcpConfig,
        snapshots: watch::Receiver<Arc<Snapshot>>,
    ) -> io::Result<DhcpServer> {
        if config.server_addr.is_unspecified() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "proxy-DHCP needs the server's own address to tell clients where to fetch from, got 0.0.0.0",
            ));
        }
        let interface = config.interface.as_deref();
        // Claimed before binding: reuse would let the bind succeed next to another netboot.
        let claims = [
            port_claim::claim(config.dhcp_port, interface)?,
            port_claim::claim(config.pxe_port, interface)?,
        ];
        Ok(DhcpServer {
            claims,
            dhcp: bind_udp(config.dhcp_port, interface)?,
            pxe: bind_udp(config.pxe_port, interface)?,
            identity: ServerIdentity {
                addr: config.server_addr,
                http_port: config.http_port,
            },
            snapshots,
            full: None,
            events: Events::default(),
            unknown_relays: Mutex::default(),
        })
    }

    /// Reports every answer to a boot client to `events`.
    pub fn with_events(mut self, events: Events) -> DhcpServer {
        self.events = events;
        self
    }

    /// Binds like [`DhcpServer::bind`], but answers port 67 as the segment's only DHCP
    /// server, handing out addresses from `full`'s range (see [`super::full`]).
    pub async fn bind_full(
        config: &DhcpConfig,
        full: FullDhcp,
        snapshots: watch::Receiver<Arc<Snapshot>>,
    ) -> io::Result<DhcpServer> {
        let mut server = DhcpServer::bind(config, snapshots).await?;
        let mut full = full;
        // The HTTP port may have been settled after `full` was made (port 0 in tests).
        full.config.server = server.identity;
        server.full = Some(Mutex::new(full));
        Ok(server)
    }

    /// The bound (DHCP, PXE) addresses; useful when the config asked for port 0.
    pub fn local_addrs(&self) -> (SocketAddr, SocketAddr) {
        let addr = |s: &UdpSocket| {
            s.local_addr()
                .unwrap_or_else(|_| SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))
        };
        (addr(&self.dhcp), addr(&self.pxe))
    }

    /// Serves forever; cancel by dropping or aborting the task running it.
    pub async fn run(self) {
        let mut dhcp_buf = vec![0u8; RECV_BUFFER];
        let mut pxe_buf = vec![0u8; RECV_BUFFER];
        loop {
            let (port, socket, received) = tokio::select! {
                r = self.dhcp.recv_from(&mut dhcp_buf) => (Port::Dhcp67, &self.dhcp, r.map(|(n, a)| (&dhcp_buf[..n], a))),
                r = self.pxe.recv_from(&mut pxe_buf) => (Port::Pxe4011, &self.pxe, r.map(|(n, a)| (&pxe_buf[..n], a))),
                // Never finish: they answer other servers' "who is there?" in passing.
                () = self.claims[0].answer_probes() => continue,
                () = self.claims[1].answer_probes() => continue,
            };
            match received {
                Ok((packet, source)) => self.handle(port, socket, packet, source).await,
                Err(e) => {
                    // Transient (e.g. ICMP errors surfacing); pause so a persistent error
                    // cannot spin the loop.
                    tracing::warn!(target: LOG, port = port.number(), error = %e, "dhcp receive failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    async fn handle(&self, port: Port, socket: &UdpSocket, packet: &[u8], source: SocketAddr) {
        let SocketAddr::V4(source) = source else {
            return;
        };
        if packet.len() >= RECV_BUFFER {
            tracing::debug!(target: LOG, %source, port = port.number(), reason = "larger than any DHCP packet", "dhcp packet ignored");
            return;
        }
        let snapshot = Arc::clone(&self.snapshots.borrow());
        if let (Port::Dhcp67, Some(full)) = (port, &self.full) {
            return self
                .handle_full(full, socket, packet, source, &snapshot)
                .await;
        }
        match answer(packet, port, source, snapshot.manifest(), &self.identity) {
            Decision::Ignore(reason) => {
                tracing::debug!(target: LOG, %source, port = port.number(), %reason, "dhcp packet ignored");
            }
            Decision::Reply(reply) => {
                let event = Event::dhcp(reply.mac, *source.ip(), reply.kind, &reply.file);
                let outbound = Outbound {
                    bytes: &reply.bytes,
                    destination: reply.destination,
                    mac: reply.mac,
                    event: Some(event),
                };
                if self.send(socket, outbound).await {
                    tracing::info!(
                        target: LOG,
                        mac = %reply.mac,
                        ip = %source.ip(),
                        kind = %reply.kind,
                        file = %reply.file,
                        port = port.number(),
                        to = %reply.destination,
                        "dhcp answer"
                    );
                }
            }
        }
    }
}

impl DhcpServer {
    async fn handle_full(
        &self,
        full: &Mutex<FullDhcp>,
        socket: &UdpSocket,
        packet: &[u8],
        source: SocketAddrV4,
        snapshot: &Arc<Snapshot>,
    ) {
        let decision = {
            let mut guard = full.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let FullDhcp { config, leases } = &mut *guard;
            // Owned: a shared lease store decides on its database connection's thread.
            let (packet, snapshot, config) =
                (packet.to_vec(), Arc::clone(snapshot), config.clone());
            leases.decide(move |table, now| {
                decide_full(&packet, source, snapshot.manifest(), &config, table, now)
            })
        };
        // Never an answer the lease store did not keep: the client asks again.
        let decision = match decision {
            Ok(decision) => decision,
            Err(e) => {
                tracing::error!(target: LOG, %source, error = %e, "dhcp packet not answered: the leases cannot be read or written");
                return;
            }
        };
        match decision {
            FullDecision::Silent(reason @ super::full::Silence::OtherServer { .. }) => {
                tracing::warn!(target: LOG, %source, %reason, "dhcp request for another server");
            }
            FullDecision::Silent(reason @ super::full::Silence::UnknownRelay { giaddr }) => {
                let first = (self.unknown_relays.lock())
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .insert(giaddr);
                if first {
                    tracing::warn!(target: LOG, %source, %giaddr, %reason, "dhcp relayed request not answered: declare the relay's subnet in `dhcp \"full\"` (further requests from this relay are logged at debug)");
                } else {
                    tracing::debug!(target: LOG, %source, %giaddr, %reason, "dhcp packet not answered");
                }
            }
            FullDecision::Silent(reason) => {
                tracing::debug!(target: LOG, %source, %reason, "dhcp packet not answered");
            }
            FullDecision::Reply(reply) => {
                let outbound = Outbound {
                    bytes: &reply.bytes,
                    destination: reply.destination,
                    mac: reply.mac,
                    // Only a boot answer is a step of a machine's boot.
                    event: (reply.boot.as_ref())
                        .map(|(kind, file)| Event::dhcp(reply.mac, reply.ip, *kind, file)),
                };
                if !self.send(socket, outbound).await {
                    return;
                }
                let message = format!("{:?}", reply.message).to_uppercase();
                let (kind, file) = reply
                    .boot
                    .as_ref()
                    .map_or(("-".to_string(), "-"), |(k, f)| (k.to_string(), f.as_str()));
                let refused = reply.refused.as_ref().map(ToString::to_string);
                tracing::info!(
                    target: LOG,
                    mac = %reply.mac,
                    message = %message,
                    ip = %reply.ip,
                    kind = %kind,
                    file = %file,
                    refused = refused.as_deref().unwrap_or("-"),
                    to = %reply.destination,
                    "dhcp full answer"
                );
            }
        }
    }
}

/// A reply on its way out, proxy or full: the bytes and destination its decision settled, and
/// what the status page hears once it left.
struct Outbound<'a> {
    bytes: &'a [u8],
    destination: SocketAddrV4,
    mac: MacAddr,
    event: Option<Event>,
}

impl DhcpServer {
    /// The one way a reply leaves, for both modes: sent where its decision said, reported to
    /// the status page once it is out, and a failure logged alike. True when it was sent; the
    /// caller then logs the answer with its own fields.
    async fn send(&self, socket: &UdpSocket, out: Outbound<'_>) -> bool {
        // Stamped before it leaves: the client's next step (on another thread) can be recorded
        // before this one is, and the status page orders a machine's steps by when they began.
        let at = SystemTime::now();
        match socket
            .send_to(out.bytes, SocketAddr::V4(out.destination))
            .await
        {
            Ok(_) => {
                if let Some(event) = out.event {
                    self.events.record_at(event, at);
                }
                true
            }
            Err(e) => {
                tracing::warn!(
                    target: LOG,
                    mac = %out.mac,
                    to = %out.destination,
                    error = %e,
                    "dhcp answer could not be sent"
                );
                false
            }
        }
    }
}

fn bind_udp(port: u16, interface: Option<&str>) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    // Reuse lets the server restart at once and share 67 with a co-located DHCP server bound
    // to a specific address; the port claim (see `port_claim`) keeps a second netboot off.
    socket.set_reuse_address(true)?;
    socket.set_broadcast(true)?;
    if let Some(name) = interface {
        socket.bind_device(Some(name.as_bytes())).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot bind DHCP socket to interface `{name}`: {e}"),
            )
        })?;
    }
    socket.set_nonblocking(true)?;
    crate::receive_buffer::enlarge(&socket, crate::receive_buffer::LISTENER_BYTES);
    let addr = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port);
    socket
        .bind(&addr.into())
        .map_err(|e| io::Error::new(e.kind(), format!("cannot bind DHCP socket to {addr}: {e}")))?;
    UdpSocket::from_std(socket.into())
}
