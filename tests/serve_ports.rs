//! Who may listen where: a second `netboot serve` on the same interface and DHCP ports refuses
//! to start and names the first (two proxies answering every DISCOVER is a silent mess), a
//! co-located DHCP server bound to one address still leaves the ports usable, and port 0 is
//! refused on the command line (it would end up in every URL as `:0`).

use std::net::{Ipv4Addr, UdpSocket};
use std::process::Command;
use std::time::Duration;

use dhcproto::v4::{DhcpOption, Flags, Message, MessageType};
use dhcproto::{Decodable, Decoder, Encodable};
use netboot_test_support::fleet_dir::Fleet;
use netboot_test_support::ports::{free_tcp_port, free_udp_port};
use netboot_test_support::served::{exits_within, Served};

const FLEET: &str = r#"
loaders { bios "loaders/undionly.kpxe" }
profile "p" { exit }
default profile="p"
"#;

fn pxe_discover() -> Vec<u8> {
    let mac = [0x52, 0x54, 0x00, 0x00, 0x00, 0x67];
    let unspecified = Ipv4Addr::UNSPECIFIED;
    let mut msg = Message::new_with_id(
        0x0067_0001,
        unspecified,
        unspecified,
        unspecified,
        unspecified,
        &mac,
    );
    msg.set_flags(Flags::default().set_broadcast());
    let opts = msg.opts_mut();
    opts.insert(DhcpOption::MessageType(MessageType::Discover));
    opts.insert(DhcpOption::ClassIdentifier(
        b"PXEClient:Arch:00000:UNDI:002001".to_vec(),
    ));
    opts.insert(DhcpOption::ClientSystemArchitecture(0u16.into()));
    msg.to_vec().unwrap()
}

/// The proxy's answer to a BIOS PXE DISCOVER on loopback, retried while the server starts.
fn offer(dhcp_port: u16) -> Option<Message> {
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 1500];
    for _ in 0..20 {
        client
            .send_to(&pxe_discover(), ("127.0.0.1", dhcp_port))
            .unwrap();
        if let Ok((n, _)) = client.recv_from(&mut buf) {
            return Message::decode(&mut Decoder::new(&buf[..n])).ok();
        }
    }
    None
}

fn serve(fleet: &Fleet) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_netboot"));
    cmd.arg("serve")
        .arg(fleet.path())
        .args(["--address", "127.0.0.1"]);
    cmd
}

#[test]
fn a_second_server_on_the_same_interface_refuses_and_names_the_first() {
    let fleet = Fleet::new(FLEET);
    let (dhcp, pxe) = (free_udp_port().to_string(), free_udp_port().to_string());
    let ports = [
        "--interface",
        "lo",
        "--dhcp-port",
        &dhcp,
        "--pxe-port",
        &pxe,
        "--no-watch",
    ];
    let first = Served::fleet_with_dhcp(&fleet, &ports);

    // Other HTTP and TFTP ports: only DHCP is shared, so only DHCP can be what refuses.
    let second = exits_within(
        serve(&fleet)
            .args(ports)
            .args(["--http-port", &free_tcp_port().to_string()])
            .args(["--tftp-port", &free_udp_port().to_string()]),
        Duration::from_secs(10),
    );
    let Some((status, log)) = second else {
        panic!(
            "the second server kept running next to the first (pid {})",
            first.pid()
        );
    };
    assert!(!status.success(), "{log}");
    let pid = first.pid().to_string();
    assert!(
        log.contains(&format!("pid {pid}"))
            && log.contains(&format!("port {dhcp}"))
            && log.contains("lo"),
        "the refusal names the first server, the port and the interface:\n{log}"
    );
    assert!(
        log.contains("netboot serve"),
        "and its command line:\n{log}"
    );

    let answer = offer(dhcp.parse().unwrap()).expect("the first server still answers");
    assert_eq!(answer.opts().msg_type(), Some(MessageType::Offer));
}

#[test]
fn a_server_on_every_interface_refuses_beside_one_on_an_interface() {
    let fleet = Fleet::new(FLEET);
    let (dhcp, pxe) = (free_udp_port().to_string(), free_udp_port().to_string());
    let ports = ["--dhcp-port", &dhcp, "--pxe-port", &pxe, "--no-watch"];
    let first = Served::fleet_with_dhcp(&fleet, &[&ports[..], &["--interface", "lo"]].concat());

    // Unbound, it would answer on `lo` too.
    let second = exits_within(
        serve(&fleet)
            .args(ports)
            .args(["--http-port", &free_tcp_port().to_string()])
            .args(["--tftp-port", &free_udp_port().to_string()]),
        Duration::from_secs(10),
    );
    let Some((status, log)) = second else {
        panic!(
            "the unbound server kept running next to the first (pid {})",
            first.pid()
        );
    };
    assert!(!status.success(), "{log}");
    assert!(
        log.contains(&format!("pid {}", first.pid()))
            && log.contains(&format!("port {dhcp} of lo")),
        "{log}"
    );
}

#[test]
fn a_dhcp_server_bound_to_one_address_does_not_keep_netboot_off_the_port() {
    // What SO_REUSEADDR on the DHCP sockets is for: another DHCP server on the same machine
    // that binds its own address (with reuse, as ISC dhcpd and Kea do) must not stop the proxy.
    use socket2::{Domain, Protocol, Socket, Type};
    let dhcp = free_udp_port();
    let other = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    other.set_reuse_address(true).unwrap();
    other
        .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], dhcp)).into())
        .unwrap();

    let fleet = Fleet::new(FLEET);
    let (dhcp, pxe) = (dhcp.to_string(), free_udp_port().to_string());
    let server = Served::fleet_with_dhcp(
        &fleet,
        &["--dhcp-port", &dhcp, "--pxe-port", &pxe, "--no-watch"],
    );
    assert!(server.log().contains("serving"), "{}", server.log());
}

#[test]
fn port_zero_is_refused_on_the_command_line() {
    let fleet = Fleet::new(FLEET);
    for flag in ["--http-port", "--tftp-port"] {
        let result = exits_within(
            serve(&fleet).args(["--no-dhcp", "--no-watch", flag, "0"]),
            Duration::from_secs(10),
        );
        let Some((status, log)) = result else {
            panic!("`serve {flag} 0` started serving");
        };
        assert_eq!(status.code(), Some(2), "a usage error:\n{log}");
        assert!(
            log.contains(&format!("invalid value '0' for '{flag} <PORT>'")) && log.contains("1.."),
            "{log}"
        );
    }
}
