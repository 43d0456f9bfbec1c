//! Where a reply goes. A proxy never hands out an address, so it usually cannot unicast to the
//! client (which has no address yet) and must broadcast or go through the relay.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::request::Request;
use super::Port;

const SERVER_PORT: u16 = 67;
const CLIENT_PORT: u16 = 68;

/// Picks the destination of the reply to `request`, which came from `source` on `port`.
///
/// - relayed (giaddr set): to the relay's server port, which forwards it on the client's link;
/// - on 4011 the client already has an address and listens on the port it sent from, so the
///   reply goes back to that address and port (as dnsmasq and the PXE spec's boot server do);
/// - ciaddr set: to the client's address on port 68;
/// - from a real unicast source (a client that has an address, or a test client on loopback):
///   back to where it came from;
/// - otherwise broadcast on port 68.
pub fn destination(request: &Request, port: Port, source: SocketAddrV4) -> SocketAddrV4 {
    if !request.giaddr.is_unspecified() {
        return SocketAddrV4::new(request.giaddr, SERVER_PORT);
    }
    let unicast = |ip: Ipv4Addr| !ip.is_unspecified() && !ip.is_broadcast() && !ip.is_multicast();
    if port == Port::Pxe4011 {
        let ip = if unicast(request.ciaddr) {
            request.ciaddr
        } else {
            *source.ip()
        };
        if unicast(ip) && source.port() != 0 {
            return SocketAddrV4::new(ip, source.port());
        }
    }
    if unicast(request.ciaddr) {
        return SocketAddrV4::new(request.ciaddr, CLIENT_PORT);
    }
    if unicast(*source.ip()) && source.port() != 0 {
        return source;
    }
    SocketAddrV4::new(Ipv4Addr::BROADCAST, CLIENT_PORT)
}
