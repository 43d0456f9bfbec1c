//! Reading a DHCP reply off the wire below UDP: an AF_PACKET (cooked) datagram is an IPv4
//! packet whose link-layer source comes alongside, so the responder's MAC and IP are both
//! known. `netboot doctor` listens this way for every server on a segment.

use std::net::Ipv4Addr;

/// The UDP payload of an IPv4 datagram from port 67 to port 68, with its source address.
pub fn dhcp_reply(packet: &[u8]) -> Option<(Ipv4Addr, &[u8])> {
    let first = *packet.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let header = usize::from(first & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([*packet.get(2)?, *packet.get(3)?]));
    if header < 20 || total < header + 8 || packet.len() < total || packet[9] != 17 {
        return None;
    }
    // A fragment's payload is not a whole UDP datagram.
    let frag = u16::from_be_bytes([packet[6], packet[7]]);
    if frag & 0x3fff != 0 {
        return None;
    }
    let src = Ipv4Addr::new(packet[12], packet[13], packet[14], packet[15]);
    let udp = &packet[header..total];
    let sport = u16::from_be_bytes([udp[0], udp[1]]);
    let dport = u16::from_be_bytes([udp[2], udp[3]]);
    let len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    if sport != 67 || dport != 68 || len < 8 || len > udp.len() {
        return None;
    }
    Some((src, &udp[8..len]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let total = 20 + 8 + payload.len();
        let mut p = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0x40,
            0,
            64,
            17,
            0,
            0,
        ];
        p.extend_from_slice(&[10, 0, 0, 1, 255, 255, 255, 255]);
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn takes_the_payload_of_a_reply_to_the_client_port() {
        let p = packet(67, 68, b"hello");
        assert_eq!(
            dhcp_reply(&p),
            Some((Ipv4Addr::new(10, 0, 0, 1), &b"hello"[..]))
        );
    }

    #[test]
    fn other_ports_short_and_fragmented_packets_are_not_replies() {
        assert_eq!(dhcp_reply(&packet(68, 67, b"x")), None);
        assert_eq!(dhcp_reply(&packet(53, 68, b"x")), None);
        let p = packet(67, 68, b"hello");
        assert_eq!(dhcp_reply(&p[..20]), None);
        assert_eq!(dhcp_reply(&[]), None);
        let mut frag = p.clone();
        frag[6] = 0x20; // more fragments
        assert_eq!(dhcp_reply(&frag), None);
        let mut v6 = p;
        v6[0] = 0x65;
        assert_eq!(dhcp_reply(&v6), None);
    }

    #[test]
    fn random_bytes_never_panic() {
        // Deterministic noise, plus mutations of a valid reply.
        let mut rng = netboot_test_support::rng::XorShift::new(0x9e37_79b9_7f4a_7c15);
        let mut next = move || rng.next_u64();
        let valid = packet(67, 68, &[2u8; 300]);
        for round in 0..20_000 {
            let len = (next() % 400) as usize;
            let mut buf: Vec<u8> = if round % 2 == 0 {
                (0..len).map(|_| next() as u8).collect()
            } else {
                let mut v = valid.clone();
                let at = (next() as usize) % v.len();
                v[at] = next() as u8;
                v.truncate(len.max(1).min(v.len()));
                v
            };
            if let Some((_, body)) = dhcp_reply(&buf) {
                let _ = crate::dhcp::Offer::parse(body);
            }
            buf.clear();
        }
    }
}
