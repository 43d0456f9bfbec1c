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

#[cfg(test)]
mod tests {
    use super::*;

    fn request(ciaddr: [u8; 4], giaddr: [u8; 4]) -> Request {
        let mut p = vec![0u8; 240];
        p[0] = 1;
        p[1] = 1;
        p[2] = 6;
        p[12..16].copy_from_slice(&ciaddr);
        p[24..28].copy_from_slice(&giaddr);
        p[236..240].copy_from_slice(&[99, 130, 83, 99]);
        p.extend_from_slice(&[53, 1, 1, 255]);
        Request::parse(&p).unwrap()
    }

    fn at(ip: [u8; 4], port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::from(ip), port)
    }

    #[test]
    fn each_rule_in_order() {
        let none = [0, 0, 0, 0];
        let from_nowhere = at(none, 68);
        // Relay first, whatever else is set.
        let relayed = request([10, 0, 0, 5], [192, 0, 2, 1]);
        assert_eq!(
            destination(&relayed, Port::Dhcp67, at([192, 0, 2, 1], 67)),
            at([192, 0, 2, 1], 67)
        );
        assert_eq!(
            destination(&relayed, Port::Pxe4011, from_nowhere),
            at([192, 0, 2, 1], 67)
        );
        // 4011: the client's address, on the port it sent from.
        let bound = request([10, 0, 0, 5], none);
        assert_eq!(
            destination(&bound, Port::Pxe4011, at([10, 0, 0, 5], 4011)),
            at([10, 0, 0, 5], 4011)
        );
        assert_eq!(
            destination(&bound, Port::Pxe4011, at([10, 0, 0, 5], 68)),
            at([10, 0, 0, 5], 68)
        );
        let unbound = request(none, none);
        assert_eq!(
            destination(&unbound, Port::Pxe4011, at([10, 0, 0, 9], 4011)),
            at([10, 0, 0, 9], 4011)
        );
        // 67: ciaddr on the client port, else a unicast source as it is, else broadcast.
        assert_eq!(
            destination(&bound, Port::Dhcp67, at([10, 0, 0, 5], 40000)),
            at([10, 0, 0, 5], 68)
        );
        assert_eq!(
            destination(&unbound, Port::Dhcp67, at([127, 0, 0, 1], 40000)),
            at([127, 0, 0, 1], 40000)
        );
        assert_eq!(
            destination(&unbound, Port::Dhcp67, from_nowhere),
            at([255; 4], 68)
        );
        assert_eq!(
            destination(&unbound, Port::Pxe4011, from_nowhere),
            at([255; 4], 68)
        );
        // A broadcast "ciaddr" is never used as an address.
        let silly = request([255; 4], none);
        assert_eq!(
            destination(&silly, Port::Dhcp67, from_nowhere),
            at([255; 4], 68)
        );
    }
}
