//! The DHCP DISCOVER a boot client sends, built the way firmware lays it out, and a reader for
//! the offers that come back. `explain` feeds the DISCOVER to the real proxy-DHCP decision;
//! `doctor` puts one on the wire.

use std::net::Ipv4Addr;

use dhcproto::v4::{
    Architecture, DhcpOption, Flags, Message, MessageType, OptionCode, UnknownOption,
};
use dhcproto::{Decodable, Encodable};
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
    /// Reads a reply; `None` when the bytes are not a DHCP reply.
    pub fn parse(bytes: &[u8]) -> Option<Offer> {
        let msg = Message::decode(&mut dhcproto::Decoder::new(bytes)).ok()?;
        if msg.opcode() != dhcproto::v4::Opcode::BootReply {
            return None;
        }
        let opts = msg.opts();
        let text = |b: &[u8]| {
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
            let s = String::from_utf8_lossy(&b[..end]).into_owned();
            (!s.is_empty()).then_some(s)
        };
        let message_type = match opts.msg_type() {
            Some(t) => format!("{t:?}").to_uppercase(),
            None => "BOOTP".to_string(),
        };
        let server_id = match opts.get(OptionCode::ServerIdentifier) {
            Some(DhcpOption::ServerIdentifier(a)) => Some(*a),
            _ => None,
        };
        let boot_file = match opts.get(OptionCode::BootfileName) {
            Some(DhcpOption::BootfileName(b)) => text(b),
            _ => None,
        }
        .or_else(|| msg.fname().and_then(text));
        let server_name =
            msg.sname()
                .and_then(text)
                .or_else(|| match opts.get(OptionCode::TFTPServerName) {
                    Some(DhcpOption::TFTPServerName(b)) => text(b),
                    _ => None,
                });
        let vendor_class = match opts.get(OptionCode::ClassIdentifier) {
            Some(DhcpOption::ClassIdentifier(b)) => text(b),
            _ => None,
        };
        let vendor_options = match opts.get(OptionCode::VendorExtensions) {
            Some(DhcpOption::VendorExtensions(b)) => Some(
                b.iter()
                    .map(|x| format!("{x:02x}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            _ => None,
        };
        let mut chaddr = [0u8; 6];
        if let Some(src) = msg.chaddr().get(..6) {
            chaddr.copy_from_slice(src);
        }
        Some(Offer {
            message_type,
            xid: msg.xid(),
            chaddr: MacAddr(chaddr),
            yiaddr: msg.yiaddr(),
            siaddr: msg.siaddr(),
            server_id,
            server_name,
            boot_file,
            vendor_class,
            vendor_options,
            client_guid_echoed: opts.get(OptionCode::ClientMachineIdentifier).is_some(),
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
}
