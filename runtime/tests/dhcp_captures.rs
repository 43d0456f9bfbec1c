//! Proxy-DHCP replies to packets captured from QEMU's real firmware (see
//! `tests/fixtures/dhcp/README.md`), with every field a client reads asserted.

use std::net::SocketAddrV4;

use dhcproto::v4::{Message, MessageType};
use netboot_manifest::ClientKind;
use netboot_runtime::dhcp::{answer, classify, Decision, Ignored, Port, Request};
use netboot_test_support::dhcp::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn reply_to(
    name: &str,
    port: Port,
    source: SocketAddrV4,
) -> (Request, netboot_runtime::dhcp::Reply, Message) {
    let bytes = fixture(name);
    let request = Request::parse(&bytes).expect("captured packet parses");
    match answer(&bytes, port, source, &manifest(), &SERVER) {
        Decision::Reply(r) => {
            let m = decode(&r.bytes);
            (request, r, m)
        }
        Decision::Ignore(why) => panic!("{name}: ignored: {why}"),
    }
}

/// What the firmware sends as option 97: type 0 and QEMU's all-zero UUID.
const ZERO_GUID: [u8; 17] = [0; 17];

#[test]
fn seabios_ipxe_rom_discover() {
    // iPXE in the NIC ROM under SeaBIOS; its MAC is the manifest's host `web1`.
    let (req, r, m) = reply_to("ipxe-bios-discover.bin", Port::Dhcp67, from_nowhere());
    let client = classify(&req.options).unwrap();
    assert_eq!((client.kind, client.arch), (ClientKind::Ipxe, Some(0)));
    assert_eq!(req.mac.0, KNOWN_MAC);
    assert_eq!(r.kind, ClientKind::Ipxe);
    assert_eq!(
        r.destination,
        broadcast68(),
        "no address yet, no broadcast flag: broadcast anyway"
    );
    assert_proxy_basics(&m, req.xid, KNOWN_MAC, MessageType::Offer);
    assert_eq!(m.siaddr(), SERVER.addr);
    let url = "http://10.0.2.2:8080/hosts/52-54-00-12-34-56.ipxe";
    assert_eq!(fname(&m), url);
    assert_eq!(opt_bytes(&m, 67).unwrap(), url.as_bytes());
    assert_eq!(opt_bytes(&m, 60).unwrap(), b"PXEClient");
    assert_eq!(opt_bytes(&m, 43).unwrap(), [6, 1, 8, 255]);
    assert_eq!(opt_bytes(&m, 97).unwrap(), ZERO_GUID);
    assert_eq!(opt_bytes(&m, 66), None);
    assert!(!m.flags().broadcast(), "flags echoed as sent");
}

#[test]
fn ovmf_ipxe_rom_discover() {
    // iPXE for x64 UEFI (the NIC's default ROM under OVMF), a MAC the fleet does not name.
    let (req, r, m) = reply_to("ipxe-efi-discover.bin", Port::Dhcp67, from_nowhere());
    assert_eq!(classify(&req.options).unwrap().arch, Some(7));
    assert_eq!(r.kind, ClientKind::Ipxe);
    assert_proxy_basics(&m, req.xid, req.mac.0, MessageType::Offer);
    assert_eq!(fname(&m), "http://10.0.2.2:8080/boot.ipxe");
    assert_eq!(r.destination, broadcast68());
}

#[test]
fn ovmf_pxe_discover() {
    let (req, r, m) = reply_to("ovmf-pxe-discover.bin", Port::Dhcp67, from_nowhere());
    let client = classify(&req.options).unwrap();
    assert_eq!((client.kind, client.arch), (ClientKind::EfiX64, Some(7)));
    assert_eq!(r.kind, ClientKind::EfiX64);
    assert_eq!(r.destination, broadcast68());
    assert_proxy_basics(&m, req.xid, req.mac.0, MessageType::Offer);
    assert!(m.flags().broadcast(), "OVMF asks for a broadcast reply");
    assert_eq!(m.siaddr(), SERVER.addr);
    assert_eq!(fname(&m), "ipxe.efi");
    assert_eq!(opt_bytes(&m, 67).unwrap(), b"ipxe.efi");
    assert_eq!(opt_bytes(&m, 66).unwrap(), b"10.0.2.2");
    assert_eq!(opt_bytes(&m, 60).unwrap(), b"PXEClient");
    assert_eq!(opt_bytes(&m, 97).unwrap(), ZERO_GUID);
    assert_eq!(
        opt_bytes(&m, 43),
        None,
        "no vendor options: OVMF confirms on 4011"
    );
}

#[test]
fn ovmf_pxe_request_on_4011() {
    // Captured on the lab bridge: OVMF got 10.77.0.112 from the LAN's dnsmasq and asks our
    // port 4011 from its own port 4011.
    let bytes = fixture("ovmf-pxe-request-4011.bin");
    let ciaddr = Request::parse(&bytes).unwrap().ciaddr;
    assert_eq!(
        ciaddr.octets()[..3],
        [10, 77, 0],
        "an address from the lab's dnsmasq"
    );
    let client = SocketAddrV4::new(ciaddr, 4011);
    let (_, r, m) = reply_to("ovmf-pxe-request-4011.bin", Port::Pxe4011, client);
    let req = Request::parse(&bytes).unwrap();
    assert_eq!(r.kind, ClientKind::EfiX64);
    assert_eq!(r.destination, client, "back to the port OVMF listens on");
    assert_proxy_basics(&m, req.xid, req.mac.0, MessageType::Ack);
    assert_eq!(m.ciaddr(), *client.ip());
    assert_eq!(m.siaddr(), SERVER.addr);
    assert_eq!(fname(&m), "ipxe.efi");
    assert_eq!(opt_bytes(&m, 67).unwrap(), b"ipxe.efi");
    assert_eq!(opt_bytes(&m, 66).unwrap(), b"10.0.2.2");
    assert_eq!(opt_bytes(&m, 60).unwrap(), b"PXEClient");
    assert_eq!(opt_bytes(&m, 97).unwrap(), ZERO_GUID);
}

#[test]
fn the_4011_request_sent_to_port_67_is_left_to_the_lan_server() {
    let bytes = fixture("ovmf-pxe-request-4011.bin");
    let got = answer(&bytes, Port::Dhcp67, from_nowhere(), &manifest(), &SERVER);
    assert!(matches!(
        got,
        Decision::Ignore(Ignored::MessageType { port: 67, .. })
    ));
}

#[test]
fn every_truncation_of_every_capture_is_ignored() {
    for name in [
        "ipxe-bios-discover.bin",
        "ipxe-efi-discover.bin",
        "ovmf-pxe-discover.bin",
        "ovmf-pxe-request-4011.bin",
    ] {
        let bytes = fixture(name);
        for len in 0..bytes.len() {
            let got = answer(
                &bytes[..len],
                Port::Pxe4011,
                from_nowhere(),
                &manifest(),
                &SERVER,
            );
            assert!(
                matches!(got, Decision::Ignore(Ignored::Malformed(_))),
                "{name} cut to {len} bytes was not refused as malformed: {got:?}"
            );
        }
    }
}
