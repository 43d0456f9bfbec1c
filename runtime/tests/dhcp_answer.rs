//! Proxy-DHCP decisions per client kind, from requests laid out like the firmware's.

use std::net::{Ipv4Addr, SocketAddrV4};

use dhcproto::v4::{DhcpOption, MessageType, OptionCode};
use netboot_manifest::ClientKind;
use netboot_runtime::dhcp::{answer, Decision, Ignored, NotOurs, Port, Reply};
use netboot_test_support::dhcp::*;

fn reply(req: &Req, port: Port, source: SocketAddrV4) -> Reply {
    match answer(&req.bytes(), port, source, &manifest(), &SERVER) {
        Decision::Reply(r) => r,
        Decision::Ignore(why) => panic!("expected a reply, got ignored: {why}"),
    }
}

fn ignored(bytes: &[u8], port: Port) -> Ignored {
    match answer(bytes, port, from_nowhere(), &manifest(), &SERVER) {
        Decision::Ignore(why) => why,
        Decision::Reply(r) => panic!("expected silence, got a reply for {}", r.file),
    }
}

#[test]
fn bios_discover_gets_undionly_over_tftp() {
    let req = Req::firmware(
        MessageType::Discover,
        UNKNOWN_MAC,
        "PXEClient:Arch:00000:UNDI:002001",
        0,
    );
    let r = reply(&req, Port::Dhcp67, from_nowhere());
    assert_eq!(r.kind, ClientKind::Bios);
    assert_eq!(r.destination, broadcast68());
    let m = decode(&r.bytes);
    assert_proxy_basics(&m, 0x1234_5678, UNKNOWN_MAC, MessageType::Offer);
    assert_eq!(m.siaddr(), SERVER.addr);
    assert_eq!(fname(&m), "undionly.kpxe");
    assert_eq!(opt_bytes(&m, 67).unwrap(), b"undionly.kpxe");
    assert_eq!(opt_bytes(&m, 66).unwrap(), b"10.0.2.2");
    assert_eq!(opt_bytes(&m, 60).unwrap(), b"PXEClient");
    assert_eq!(opt_bytes(&m, 97).unwrap(), guid());
    assert_eq!(
        opt_bytes(&m, 43).unwrap(),
        [6, 1, 8, 255],
        "skip boot server discovery"
    );
    assert!(m.flags().broadcast(), "broadcast flag echoed");
}

#[test]
fn uefi_pxe_discover_gets_an_offer_without_vendor_options_then_ack_on_4011() {
    let vendor = "PXEClient:Arch:00007:UNDI:003000";
    let req = Req::firmware(MessageType::Discover, UNKNOWN_MAC, vendor, 7);
    let r = reply(&req, Port::Dhcp67, from_nowhere());
    assert_eq!(r.kind, ClientKind::EfiX64);
    let m = decode(&r.bytes);
    assert_proxy_basics(&m, 0x1234_5678, UNKNOWN_MAC, MessageType::Offer);
    assert_eq!(m.siaddr(), SERVER.addr);
    assert_eq!(fname(&m), "ipxe.efi");
    assert_eq!(
        opt_bytes(&m, 43),
        None,
        "edk2 must take the BINL path to 4011"
    );

    // The firmware then has an address from the LAN's server and asks us directly.
    let client = Ipv4Addr::new(10, 0, 2, 15);
    let mut req = Req::firmware(MessageType::Request, UNKNOWN_MAC, vendor, 7);
    req.msg.set_ciaddr(client);
    let r = reply(&req, Port::Pxe4011, SocketAddrV4::new(client, 68));
    assert_eq!(r.destination, SocketAddrV4::new(client, 68));
    let m = decode(&r.bytes);
    assert_proxy_basics(&m, 0x1234_5678, UNKNOWN_MAC, MessageType::Ack);
    assert_eq!(m.ciaddr(), client);
    assert_eq!(m.siaddr(), SERVER.addr);
    assert_eq!(fname(&m), "ipxe.efi");
    assert_eq!(opt_bytes(&m, 67).unwrap(), b"ipxe.efi");
    assert_eq!(opt_bytes(&m, 97).unwrap(), guid());
}

#[test]
fn boot_server_discovery_gets_its_boot_item_echoed() {
    let client = Ipv4Addr::new(10, 0, 2, 15);
    let mut req = Req::firmware(
        MessageType::Request,
        UNKNOWN_MAC,
        "PXEClient:Arch:00007:UNDI:003000",
        7,
    );
    req.msg.set_ciaddr(client);
    req.opt(DhcpOption::VendorExtensions(vec![
        71, 4, 0x80, 0x00, 0, 0, 255,
    ]));
    let r = reply(&req, Port::Pxe4011, SocketAddrV4::new(client, 4011));
    assert_eq!(
        r.destination,
        SocketAddrV4::new(client, 4011),
        "back to the asking port"
    );
    let m = decode(&r.bytes);
    assert_eq!(opt_bytes(&m, 43).unwrap(), [71, 4, 0x80, 0, 0, 0, 255]);
}

#[test]
fn arm64_pxe_gets_its_own_loader() {
    let req = Req::firmware(
        MessageType::Discover,
        UNKNOWN_MAC,
        "PXEClient:Arch:00011:UNDI:003000",
        11,
    );
    let r = reply(&req, Port::Dhcp67, from_nowhere());
    assert_eq!(r.kind, ClientKind::EfiArm64);
    assert_eq!(fname(&decode(&r.bytes)), "arm64/ipxe.efi");
}

#[test]
fn http_boot_gets_a_url_and_httpclient_back() {
    for (arch, vendor, kind, url) in [
        (
            16,
            "HTTPClient:Arch:00016:UNDI:003001",
            ClientKind::HttpX64,
            "http://10.0.2.2:8080/ipxe.efi",
        ),
        (
            19,
            "HTTPClient:Arch:00019:UNDI:003001",
            ClientKind::HttpArm64,
            "http://10.0.2.2:8080/arm64/ipxe.efi",
        ),
    ] {
        let req = Req::firmware(MessageType::Discover, UNKNOWN_MAC, vendor, arch);
        let r = reply(&req, Port::Dhcp67, from_nowhere());
        assert_eq!(r.kind, kind);
        assert_eq!(r.file, url);
        let m = decode(&r.bytes);
        assert_proxy_basics(&m, 0x1234_5678, UNKNOWN_MAC, MessageType::Offer);
        assert_eq!(opt_bytes(&m, 60).unwrap(), b"HTTPClient");
        assert_eq!(fname(&m), url);
        assert_eq!(opt_bytes(&m, 67).unwrap(), url.as_bytes());
        assert_eq!(opt_bytes(&m, 43), None);
        assert_eq!(opt_bytes(&m, 66), None, "no TFTP server for an HTTP answer");
        assert_eq!(
            m.siaddr(),
            SERVER.addr,
            "iPXE wants next-server to take the offer whole"
        );
    }
}

#[test]
fn ipxe_gets_the_entry_script_or_its_host_script() {
    let r = reply(
        &Req::ipxe(MessageType::Discover, UNKNOWN_MAC),
        Port::Dhcp67,
        from_nowhere(),
    );
    assert_eq!(r.kind, ClientKind::Ipxe);
    assert_eq!(r.file, "http://10.0.2.2:8080/boot.ipxe");
    let m = decode(&r.bytes);
    assert_eq!(opt_bytes(&m, 60).unwrap(), b"PXEClient");
    assert_eq!(opt_bytes(&m, 43).unwrap(), [6, 1, 8, 255]);

    let r = reply(
        &Req::ipxe(MessageType::Discover, KNOWN_MAC),
        Port::Dhcp67,
        from_nowhere(),
    );
    assert_eq!(r.file, "http://10.0.2.2:8080/hosts/52-54-00-12-34-56.ipxe");
    assert_eq!(fname(&decode(&r.bytes)), r.file);
}

#[test]
fn ipxe_proxy_request_on_4011_is_acked() {
    let client = Ipv4Addr::new(10, 0, 2, 15);
    let mut req = Req::ipxe(MessageType::Request, KNOWN_MAC);
    req.msg.set_ciaddr(client);
    let r = reply(&req, Port::Pxe4011, SocketAddrV4::new(client, 68));
    let m = decode(&r.bytes);
    assert_proxy_basics(&m, 0x1234_5678, KNOWN_MAC, MessageType::Ack);
    assert_eq!(
        fname(&m),
        "http://10.0.2.2:8080/hosts/52-54-00-12-34-56.ipxe"
    );
    // iPXE drops a ProxyDHCP ACK without next-server and boot file ("Nothing to boot").
    assert_eq!(m.siaddr(), SERVER.addr);
    assert_eq!(r.destination, SocketAddrV4::new(client, 68));
}

#[test]
fn relayed_discover_goes_back_through_the_relay_with_its_agent_info() {
    let relay = Ipv4Addr::new(192, 0, 2, 1);
    let mut req = Req::firmware(
        MessageType::Discover,
        UNKNOWN_MAC,
        "PXEClient:Arch:00000:UNDI:002001",
        0,
    );
    req.msg.set_giaddr(relay).set_hops(1);
    // Agent circuit id, as the relay adds it.
    let agent = vec![1, 4, b'p', b'o', b'r', b't'];
    req.opt(DhcpOption::Unknown(dhcproto::v4::UnknownOption::new(
        OptionCode::RelayAgentInformation,
        agent.clone(),
    )));
    let r = reply(&req, Port::Dhcp67, SocketAddrV4::new(relay, 67));
    assert_eq!(r.destination, SocketAddrV4::new(relay, 67));
    let m = decode(&r.bytes);
    assert_eq!(m.giaddr(), relay);
    assert_eq!(m.yiaddr(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(opt_bytes(&m, 82).unwrap(), agent);
}

#[test]
fn loopback_test_client_is_answered_where_it_is() {
    let source = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 40068);
    let req = Req::ipxe(MessageType::Discover, UNKNOWN_MAC);
    assert_eq!(reply(&req, Port::Dhcp67, source).destination, source);
}

#[test]
fn only_discover_on_67_and_request_on_4011() {
    let vendor = "PXEClient:Arch:00007:UNDI:003000";
    let req = Req::firmware(MessageType::Request, UNKNOWN_MAC, vendor, 7);
    assert!(matches!(
        ignored(&req.bytes(), Port::Dhcp67),
        Ignored::MessageType { port: 67, .. }
    ));
    for t in [
        MessageType::Decline,
        MessageType::Release,
        MessageType::Offer,
    ] {
        let req = Req::firmware(t, UNKNOWN_MAC, vendor, 7);
        assert!(matches!(
            ignored(&req.bytes(), Port::Pxe4011),
            Ignored::MessageType { .. }
        ));
    }
}

#[test]
fn ordinary_dhcp_clients_are_never_answered() {
    let mut plain = Req::new(MessageType::Discover, UNKNOWN_MAC);
    plain.opt(DhcpOption::Hostname("laptop".into()));
    assert_eq!(
        ignored(&plain.bytes(), Port::Dhcp67),
        Ignored::NotOurs(NotOurs::NoVendorClass)
    );
    let mut windows = Req::new(MessageType::Discover, UNKNOWN_MAC);
    windows.opt(DhcpOption::ClassIdentifier(b"MSFT 5.0".to_vec()));
    assert!(matches!(
        ignored(&windows.bytes(), Port::Dhcp67),
        Ignored::NotOurs(NotOurs::OtherVendorClass(_))
    ));
}

#[test]
fn a_kind_missing_from_the_manifest_is_not_answered() {
    let mut m = manifest();
    m.dhcp.remove(&ClientKind::Bios);
    let req = Req::firmware(
        MessageType::Discover,
        UNKNOWN_MAC,
        "PXEClient:Arch:00000:UNDI:002001",
        0,
    );
    let got = answer(&req.bytes(), Port::Dhcp67, from_nowhere(), &m, &SERVER);
    assert_eq!(got, Decision::Ignore(Ignored::NoAnswer(ClientKind::Bios)));
}

#[test]
fn awkward_paths_are_percent_encoded_in_urls() {
    let mut m = manifest();
    m.dhcp.get_mut(&ClientKind::Ipxe).unwrap().path = "menus/main menu#1.ipxe".into();
    let req = Req::ipxe(MessageType::Discover, UNKNOWN_MAC);
    let Decision::Reply(r) = answer(&req.bytes(), Port::Dhcp67, from_nowhere(), &m, &SERVER) else {
        panic!("expected a reply");
    };
    assert_eq!(r.file, "http://10.0.2.2:8080/menus/main%20menu%231.ipxe");
}

#[test]
fn a_boot_file_too_long_for_the_file_field_travels_in_option_67_only() {
    let mut m = manifest();
    let long = format!("{}/script.ipxe", "d".repeat(120));
    m.dhcp.get_mut(&ClientKind::Ipxe).unwrap().path = long.clone();
    let req = Req::ipxe(MessageType::Discover, UNKNOWN_MAC);
    let Decision::Reply(r) = answer(&req.bytes(), Port::Dhcp67, from_nowhere(), &m, &SERVER) else {
        panic!("expected a reply");
    };
    let msg = decode(&r.bytes);
    assert_eq!(fname(&msg), "", "a cut-off name would boot the wrong file");
    assert_eq!(
        opt_bytes(&msg, 67).unwrap(),
        format!("http://10.0.2.2:8080/{long}").as_bytes()
    );
}

#[test]
fn a_secure_boot_machine_gets_shim_in_the_file_field_and_others_keep_ipxe() {
    let mut m = manifest();
    m.secure_boot = Some(netboot_manifest::SecureBoot {
        dhcp: [(
            ClientKind::EfiX64,
            netboot_manifest::BootAnswer {
                protocol: netboot_manifest::Protocol::Tftp,
                path: "sb/shimx64.efi".into(),
            },
        )]
        .into(),
        default: false,
    });
    m.hosts
        .get_mut(&netboot_manifest::MacAddr(KNOWN_MAC))
        .unwrap()
        .secure_boot = true;
    let vendor = "PXEClient:Arch:00007:UNDI:003000";
    let boot_file = |m: &netboot_manifest::Manifest, mac| {
        let req = Req::firmware(MessageType::Request, mac, vendor, 7);
        let Decision::Reply(r) = answer(&req.bytes(), Port::Pxe4011, from_nowhere(), m, &SERVER)
        else {
            panic!("expected a reply");
        };
        // shim takes the directory it loads GRUB from out of the BOOTP `file` field.
        (fname(&decode(&r.bytes)), r.file)
    };
    let sb = ("sb/shimx64.efi".to_string(), "sb/shimx64.efi".to_string());
    let ipxe = ("ipxe.efi".to_string(), "ipxe.efi".to_string());
    assert_eq!(boot_file(&m, KNOWN_MAC), sb);
    assert_eq!(boot_file(&m, UNKNOWN_MAC), ipxe);
    m.secure_boot.as_mut().unwrap().default = true;
    assert_eq!(boot_file(&m, UNKNOWN_MAC), sb, "the fleet's default");
    // A machine already in iPXE is not a Secure Boot boot: it keeps its script.
    let req = Req::ipxe(MessageType::Discover, KNOWN_MAC);
    let Decision::Reply(r) = answer(&req.bytes(), Port::Dhcp67, from_nowhere(), &m, &SERVER) else {
        panic!("expected a reply");
    };
    assert!(
        r.file.ends_with("hosts/52-54-00-12-34-56.ipxe"),
        "{}",
        r.file
    );
}
