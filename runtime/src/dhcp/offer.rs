//! Reading a DHCP server's reply (an OFFER or ACK, from netboot or from anyone else on the
//! segment) in the terms an operator reads: what address, which boot file, from whom.
//!
//! Replies come from whatever answers on the segment, so the reader is as strict as the one for
//! requests: the fixed header at its offsets ([`Header`]) and the options with the runtime's own
//! parser (dhcproto's decoder asserts on some malformed options).

use std::net::Ipv4Addr;

use netboot_manifest::MacAddr;

use super::header::Header;

const BOOTREPLY: u8 = 2;

/// What a DHCP reply says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Offer {
    pub message_type: String,
    pub xid: u32,
    pub chaddr: MacAddr,
    /// The address offered: 0.0.0.0 from a proxy.
    pub yiaddr: Ipv4Addr,
    /// next-server.
    pub siaddr: Ipv4Addr,
    /// Option 54.
    pub server_id: Option<Ipv4Addr>,
    /// The `sname` header field, or option 66.
    pub server_name: Option<String>,
    /// Option 67, or the `file` header field.
    pub boot_file: Option<String>,
    /// Option 60 as sent back.
    pub vendor_class: Option<String>,
    /// Option 43, hex.
    pub vendor_options: Option<String>,
    /// Option 97 echoed.
    pub client_guid_echoed: bool,
}

impl Offer {
    /// Reads a reply strictly from its bytes; `None` when they are not a DHCP/BOOTP reply.
    pub fn parse(bytes: &[u8]) -> Option<Offer> {
        let header = Header::read(bytes)?;
        if header.op != BOOTREPLY || !header.has_magic() {
            return None;
        }
        let opts = header.options().ok()?;
        let text = |b: &[u8]| {
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
            let s = String::from_utf8_lossy(&b[..end]).into_owned();
            (!s.is_empty()).then_some(s)
        };
        let ipv4 = |b: &[u8]| <[u8; 4]>::try_from(b).ok().map(Ipv4Addr::from);
        // Option 52: the file (1) and sname (2) fields carry options instead of names.
        let overload = opts.get(52).and_then(|o| o.first().copied()).unwrap_or(0);
        let message_type = match opts.get(53) {
            Some([t]) => match t {
                1 => "DISCOVER",
                2 => "OFFER",
                3 => "REQUEST",
                4 => "DECLINE",
                5 => "ACK",
                6 => "NAK",
                7 => "RELEASE",
                8 => "INFORM",
                _ => "UNKNOWN",
            },
            _ => "BOOTP",
        }
        .to_string();
        Some(Offer {
            message_type,
            xid: header.xid,
            chaddr: header.chaddr,
            yiaddr: header.yiaddr,
            siaddr: header.siaddr,
            server_id: opts.get(54).and_then(ipv4),
            server_name: (overload & 2 == 0)
                .then(|| text(header.sname))
                .flatten()
                .or_else(|| opts.get(66).and_then(text)),
            boot_file: opts
                .get(67)
                .and_then(text)
                .or_else(|| (overload & 1 == 0).then(|| text(header.file)).flatten()),
            vendor_class: opts.get(60).and_then(text),
            vendor_options: opts.get(43).map(|b| {
                b.iter()
                    .map(|x| format!("{x:02x}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            }),
            client_guid_echoed: opts.get(97).is_some(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::net::SocketAddrV4;

    use dhcproto::v4::{DhcpOption, Message, MessageType};
    use dhcproto::Encodable;
    use netboot_manifest::{BootAnswer, ClientKind, DhcpMode, Manifest, Protocol};

    use super::*;
    use crate::dhcp::{answer, discover, Decision, Port, ServerIdentity};

    const SERVER: ServerIdentity = ServerIdentity {
        addr: Ipv4Addr::new(10, 0, 2, 2),
        http_port: 8080,
    };

    /// A manifest answering BIOS firmware with a loader and iPXE with a script.
    fn manifest() -> Manifest {
        let mut m = Manifest::serving(BTreeMap::new(), ".");
        m.server.dhcp = DhcpMode::Proxy;
        let answer = |protocol, path: &str| BootAnswer {
            protocol,
            path: path.to_string(),
        };
        m.dhcp
            .insert(ClientKind::Bios, answer(Protocol::Tftp, "undionly.kpxe"));
        m.dhcp
            .insert(ClientKind::EfiX64, answer(Protocol::Tftp, "ipxe.efi"));
        m.dhcp
            .insert(ClientKind::Ipxe, answer(Protocol::Http, "boot.ipxe"));
        m
    }

    fn reply_to(request: &[u8], port: Port) -> Vec<u8> {
        let from = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68);
        match answer(request, port, from, &manifest(), &SERVER) {
            Decision::Reply(r) => r.bytes,
            Decision::Ignore(why) => panic!("ignored: {why}"),
        }
    }

    /// The proxy's replies to what real firmware sent (see `tests/fixtures/dhcp/README.md`),
    /// read back field by field.
    #[test]
    fn reads_the_proxys_replies_to_captured_firmware() {
        let ipxe = include_bytes!("../../tests/fixtures/dhcp/ipxe-bios-discover.bin");
        let offer = Offer::parse(&reply_to(ipxe, Port::Dhcp67)).unwrap();
        assert_eq!(offer.message_type, "OFFER");
        assert_eq!(offer.chaddr.to_string(), "52:54:00:12:34:56");
        assert_eq!(
            offer.xid,
            u32::from_be_bytes([ipxe[4], ipxe[5], ipxe[6], ipxe[7]])
        );
        assert_eq!(offer.yiaddr, Ipv4Addr::UNSPECIFIED);
        assert_eq!(offer.siaddr, SERVER.addr);
        assert_eq!(offer.server_id, Some(SERVER.addr));
        assert_eq!(
            offer.boot_file.as_deref(),
            Some("http://10.0.2.2:8080/boot.ipxe")
        );
        assert_eq!(offer.vendor_class.as_deref(), Some("PXEClient"));
        assert_eq!(offer.vendor_options.as_deref(), Some("06 01 08 ff"));
        assert!(offer.client_guid_echoed);

        let request = include_bytes!("../../tests/fixtures/dhcp/ovmf-pxe-request-4011.bin");
        let ack = Offer::parse(&reply_to(request, Port::Pxe4011)).unwrap();
        assert_eq!(ack.message_type, "ACK");
        assert_eq!(ack.boot_file.as_deref(), Some("ipxe.efi"));
    }

    #[test]
    fn a_request_is_not_an_offer() {
        let mac: MacAddr = "52:54:00:00:00:01".parse().unwrap();
        assert_eq!(Offer::parse(&discover(ClientKind::Bios, mac, 1, 0)), None);
        assert_eq!(Offer::parse(b"short"), None);
        let captured = include_bytes!("../../tests/fixtures/dhcp/ovmf-pxe-discover.bin");
        assert_eq!(Offer::parse(captured), None);
    }

    #[test]
    fn mutated_replies_never_panic() {
        let mac: MacAddr = "52:54:00:00:00:01".parse().unwrap();
        let mut reply = Message::new_with_id(
            9,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::new(10, 0, 0, 5),
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::UNSPECIFIED,
            &mac.0,
        );
        reply.set_opcode(dhcproto::v4::Opcode::BootReply);
        let opts = reply.opts_mut();
        opts.insert(DhcpOption::MessageType(MessageType::Offer));
        opts.insert(DhcpOption::ServerIdentifier(Ipv4Addr::new(10, 0, 0, 1)));
        opts.insert(DhcpOption::BootfileName(b"pxelinux.0".to_vec()));
        opts.insert(DhcpOption::ClassIdentifier(b"PXEClient".to_vec()));
        let valid = reply.to_vec().unwrap();
        let offer = Offer::parse(&valid).unwrap();
        assert_eq!(offer.message_type, "OFFER");
        assert_eq!(offer.boot_file.as_deref(), Some("pxelinux.0"));
        assert_eq!(offer.yiaddr, Ipv4Addr::new(10, 0, 0, 5));
        assert_eq!(offer.chaddr, mac);

        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let mut v = valid.clone();
            for _ in 0..(next() % 4 + 1) {
                let at = (next() as usize) % v.len();
                v[at] = next() as u8;
            }
            // Mostly mutate the options area and the hlen byte, where lengths live.
            let at = 240 + (next() as usize) % (v.len() - 240);
            v[at] = next() as u8;
            v[2] = next() as u8;
            let keep = v.len() - (next() as usize) % 16;
            v.truncate(keep);
            let _ = Offer::parse(&v);
        }
    }
}
