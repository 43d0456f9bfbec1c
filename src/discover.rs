//! The DHCP DISCOVER a boot client sends, built the way firmware lays it out, and a reader for
//! the offers that come back. `explain` feeds the DISCOVER to the real proxy-DHCP decision;
//! `doctor` puts one on the wire.

use std::net::Ipv4Addr;

use dhcproto::v4::{
    Architecture, DhcpOption, Flags, Message, MessageType, OptionCode, UnknownOption,
};
use dhcproto::Encodable;
use netboot_manifest::{ClientKind, MacAddr};

/// A DISCOVER from firmware of `kind` (or from iPXE for [`ClientKind::Ipxe`], which then
/// announces `ipxe_arch`).
pub fn discover(kind: ClientKind, mac: MacAddr, xid: u32, ipxe_arch: u16) -> Vec<u8> {
    message(MessageType::Discover, kind, mac, xid, ipxe_arch)
}

/// The REQUEST that UEFI firmware sends to a proxy's port 4011 after an offer without PXE
/// options.
pub fn request_4011(kind: ClientKind, mac: MacAddr, xid: u32) -> Vec<u8> {
    message(MessageType::Request, kind, mac, xid, 0)
}

fn message(
    message: MessageType,
    kind: ClientKind,
    mac: MacAddr,
    xid: u32,
    ipxe_arch: u16,
) -> Vec<u8> {
    let (vendor, arch) = match kind {
        ClientKind::Bios => ("PXEClient:Arch:00000:UNDI:002001", 0),
        ClientKind::EfiX64 => ("PXEClient:Arch:00007:UNDI:003016", 7),
        ClientKind::EfiArm64 => ("PXEClient:Arch:00011:UNDI:003016", 11),
        ClientKind::HttpX64 => ("HTTPClient:Arch:00016:UNDI:003001", 16),
        ClientKind::HttpArm64 => ("HTTPClient:Arch:00019:UNDI:003001", 19),
        ClientKind::Ipxe => ("", ipxe_arch),
    };
    let vendor = if kind == ClientKind::Ipxe {
        format!("PXEClient:Arch:{ipxe_arch:05}:UNDI:002001")
    } else {
        vendor.to_string()
    };
    let mut msg = Message::new_with_id(
        xid,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        &mac.0,
    );
    msg.set_flags(Flags::default().set_broadcast());
    let opts = msg.opts_mut();
    opts.insert(DhcpOption::MessageType(message));
    opts.insert(DhcpOption::ClassIdentifier(vendor.into_bytes()));
    opts.insert(DhcpOption::ClientSystemArchitecture(Architecture::from(
        arch,
    )));
    // Network interface identifier (94): UNDI 2.1, as PXE ROMs send.
    opts.insert(DhcpOption::Unknown(UnknownOption::new(
        OptionCode::from(94u8),
        vec![1, 2, 1],
    )));
    if kind == ClientKind::Ipxe {
        opts.insert(DhcpOption::UserClass(b"iPXE".to_vec()));
        opts.insert(DhcpOption::Unknown(UnknownOption::new(
            OptionCode::from(175u8),
            vec![177, 5, 1, 0x1a, 0xf4, 0x10, 0x00],
        )));
    }
    msg.to_vec()
        .expect("a DISCOVER with short options always encodes")
}

/// What a DHCP reply says, in the terms an operator reads.
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
    ///
    /// Replies come from whatever answers on the segment, so this never trusts a length field:
    /// the header is read at fixed offsets and the options with the runtime's strict parser
    /// (dhcproto's decoder asserts on some malformed options).
    pub fn parse(bytes: &[u8]) -> Option<Offer> {
        const MAGIC: [u8; 4] = [99, 130, 83, 99];
        if bytes.len() < 240 || bytes[0] != 2 || bytes[236..240] != MAGIC {
            return None;
        }
        let (sname, file) = (&bytes[44..108], &bytes[108..236]);
        let opts = netboot_runtime::dhcp::Options::parse(&bytes[240..], file, sname).ok()?;
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
        let mut chaddr = [0u8; 6];
        chaddr.copy_from_slice(&bytes[28..34]);
        Some(Offer {
            message_type,
            xid: u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            chaddr: MacAddr(chaddr),
            yiaddr: ipv4(&bytes[16..20])?,
            siaddr: ipv4(&bytes[20..24])?,
            server_id: opts.get(54).and_then(ipv4),
            server_name: (overload & 2 == 0)
                .then(|| text(sname))
                .flatten()
                .or_else(|| opts.get(66).and_then(text)),
            boot_file: opts
                .get(67)
                .and_then(text)
                .or_else(|| (overload & 1 == 0).then(|| text(file)).flatten()),
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

/// Writes a report to stdout; a closed pipe (`| head`) is not an error worth a panic.
pub fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

#[cfg(test)]
mod tests {
    use super::*;
    use netboot_runtime::dhcp::{classify, Request};

    #[test]
    fn each_kind_is_classified_as_itself() {
        let mac: MacAddr = "52:54:00:00:00:01".parse().unwrap();
        for kind in ClientKind::ALL {
            let bytes = discover(kind, mac, 7, 7);
            let req = Request::parse(&bytes).unwrap();
            assert_eq!(req.mac, mac);
            assert_eq!(classify(&req.options).unwrap().kind, kind);
        }
    }

    #[test]
    fn a_request_is_not_an_offer() {
        let mac: MacAddr = "52:54:00:00:00:01".parse().unwrap();
        assert_eq!(Offer::parse(&discover(ClientKind::Bios, mac, 1, 0)), None);
        assert_eq!(Offer::parse(b"short"), None);
    }

    #[test]
    fn mutated_replies_never_panic() {
        use dhcproto::v4::Message;
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
