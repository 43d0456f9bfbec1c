//! The packets a boot client sends, built the way firmware lays them out: the DISCOVER of each
//! client kind, and the REQUEST UEFI firmware sends to port 4011.
//!
//! `netboot explain` feeds them to the real proxy decision ([`super::answer`]) to show what a
//! machine would get; `netboot doctor` puts one DISCOVER on the wire to find every DHCP and
//! proxy-DHCP server on a segment.

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dhcp::{classify, MessageType as Type, Request};

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

    /// What real firmware sent (captured from QEMU, see `tests/fixtures/dhcp/README.md`) and
    /// what this builds for the same client read the same: kind, architecture, user class.
    #[test]
    fn built_packets_read_like_the_captured_firmware() {
        let captured: [(&[u8], ClientKind, u16, Type); 4] = [
            (
                include_bytes!("../../tests/fixtures/dhcp/ipxe-bios-discover.bin"),
                ClientKind::Ipxe,
                0,
                Type::Discover,
            ),
            (
                include_bytes!("../../tests/fixtures/dhcp/ipxe-efi-discover.bin"),
                ClientKind::Ipxe,
                7,
                Type::Discover,
            ),
            (
                include_bytes!("../../tests/fixtures/dhcp/ovmf-pxe-discover.bin"),
                ClientKind::EfiX64,
                0,
                Type::Discover,
            ),
            (
                include_bytes!("../../tests/fixtures/dhcp/ovmf-pxe-request-4011.bin"),
                ClientKind::EfiX64,
                0,
                Type::Request,
            ),
        ];
        for (bytes, kind, ipxe_arch, message_type) in captured {
            let real = Request::parse(bytes).unwrap();
            let built = match message_type {
                Type::Request => request_4011(kind, real.mac, real.xid),
                _ => discover(kind, real.mac, real.xid, ipxe_arch),
            };
            let built = Request::parse(&built).unwrap();
            assert_eq!(built.message_type, real.message_type);
            assert_eq!((built.mac, built.xid), (real.mac, real.xid));
            let (real_client, built_client) = (
                classify(&real.options).unwrap(),
                classify(&built.options).unwrap(),
            );
            assert_eq!(built_client.kind, real_client.kind, "{kind}");
            assert_eq!(built_client.arch, real_client.arch, "{kind}");
            assert_eq!(built.options.get(77), real.options.get(77), "user class");
        }
    }
}
