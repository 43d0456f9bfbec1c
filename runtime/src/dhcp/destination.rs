//! Where a reply goes, for the proxy and for full DHCP alike. Neither can unicast to a client
//! that has no address yet, so most replies are broadcast or go through the relay.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::request::Request;
use super::Port;

const SERVER_PORT: u16 = 67;
const CLIENT_PORT: u16 = 68;

/// Who sends a reply, which decides the rules for where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sender {
    /// The proxy, answering a request that arrived on this port.
    Proxy(Port),
    /// Full DHCP, on port 67; `nak` for a NAK.
    Full { nak: bool },
}

/// Picks the destination of the proxy's reply to `request`, which came from `source` on
/// `port`; the rules, shared with full DHCP, are listed at `route`.
pub fn destination(request: &Request, port: Port, source: SocketAddrV4) -> SocketAddrV4 {
    route(request, source, Sender::Proxy(port))
}

/// Where the reply to `request`, which came from `source`, goes. RFC 2131 4.1, without
/// unicasting to an address the client does not have yet (that needs an ARP entry a UDP
/// socket cannot add, so such replies are broadcast, which every client accepts). In order:
///
/// - relayed (giaddr set): to the relay's server port, which forwards it on the client's link;
/// - proxy on 4011: the client already has an address and listens on the port it sent from,
///   so the reply goes back to that address and port (as dnsmasq and the PXE spec's boot
///   server do);
/// - ciaddr set (renewing, INFORM, a client that has an address): to it on port 68; except a
///   full-mode NAK, since the client's address is the thing refused;
/// - from a real unicast source (a client that has an address, or a test client on
///   loopback): back to where it came from; in full mode not from port 68, where a client
///   without a ciaddr holds no address from us, whatever it sent from;
/// - otherwise broadcast on port 68.
pub(super) fn route(request: &Request, source: SocketAddrV4, sender: Sender) -> SocketAddrV4 {
    if !request.giaddr.is_unspecified() {
        return SocketAddrV4::new(request.giaddr, SERVER_PORT);
    }
    let unicast = |ip: Ipv4Addr| !ip.is_unspecified() && !ip.is_broadcast() && !ip.is_multicast();
    if sender == Sender::Proxy(Port::Pxe4011) {
        let ip = if unicast(request.ciaddr) {
            request.ciaddr
        } else {
            *source.ip()
        };
        if unicast(ip) && source.port() != 0 {
            return SocketAddrV4::new(ip, source.port());
        }
    }
    if unicast(request.ciaddr) && sender != (Sender::Full { nak: true }) {
        return SocketAddrV4::new(request.ciaddr, CLIENT_PORT);
    }
    let full = matches!(sender, Sender::Full { .. });
    if unicast(*source.ip()) && source.port() != 0 && !(full && source.port() == CLIENT_PORT) {
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

    #[test]
    fn full_mode_rules_differ_only_for_naks_and_port_68() {
        let none = [0, 0, 0, 0];
        let offer = Sender::Full { nak: false };
        let nak = Sender::Full { nak: true };
        let from_nowhere = at(none, 68);
        let renewing = request([10, 0, 0, 5], none);
        let fresh = request(none, none);
        // Relayed, NAK or not.
        let relayed = request([10, 0, 0, 5], [192, 0, 2, 1]);
        assert_eq!(route(&relayed, from_nowhere, nak), at([192, 0, 2, 1], 67));
        // ciaddr on port 68, except for a NAK: the address is what it refuses.
        let client = at([10, 0, 0, 5], 68);
        assert_eq!(route(&renewing, client, offer), at([10, 0, 0, 5], 68));
        assert_eq!(route(&renewing, from_nowhere, nak), at([255; 4], 68));
        // A unicast source on port 68 without ciaddr is broadcast to; the proxy answers it.
        assert_eq!(route(&fresh, client, offer), at([255; 4], 68));
        assert_eq!(route(&fresh, client, Sender::Proxy(Port::Dhcp67)), client);
        // A test client on loopback gets its reply back, NAK included.
        let test = at([127, 0, 0, 1], 40000);
        assert_eq!(route(&renewing, test, nak), test);
        assert_eq!(route(&fresh, test, offer), test);
        // The 4011 rule is the proxy's alone.
        let pxe = at([10, 0, 0, 9], 4011);
        assert_eq!(route(&fresh, pxe, offer), pxe);
        assert_eq!(route(&renewing, pxe, offer), at([10, 0, 0, 5], 68));
    }
}
