//! `netboot serve` with `dhcp "full"` on loopback: an address and the boot file in one
//! exchange, the lease in `--state-dir`, kept across a restart; the refusal to run full
//! mode unbound to an interface; and silence towards a relay of an undeclared subnet.

use std::net::{Ipv4Addr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dhcproto::v4::{DhcpOption, Flags, Message, MessageType};
use dhcproto::{Decodable, Decoder, Encodable};
use netboot_test_support::fleet_dir::Fleet;
use netboot_test_support::ports::{free_tcp_port, free_udp_port};

const FLEET: &str = r#"
server {
    address "127.0.0.1"
    dhcp "full" {
        range "127.0.0.100" "127.0.0.110"
        lease-time 600
        dns "127.0.0.53"
    }
}
loaders { bios "loaders/undionly.kpxe"; }
profile "p" { exit }
default profile="p"
"#;

const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x00, 0x00, 0x42];

struct Server {
    child: Child,
    dhcp: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(fleet: &Fleet, state: &Path, interface: Option<&str>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_netboot"));
    cmd.arg("serve")
        .arg(fleet.path())
        .args(["--http-port", &free_tcp_port().to_string()])
        .args(["--tftp-port", &free_udp_port().to_string()])
        .args(["--pxe-port", &free_udp_port().to_string()])
        .arg("--state-dir")
        .arg(state)
        .arg("--no-watch")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    if let Some(i) = interface {
        cmd.args(["--interface", i]);
    }
    cmd
}

fn start(fleet: &Fleet, state: &Path) -> Server {
    let dhcp = free_udp_port();
    let child = serve(fleet, state, Some("lo"))
        .args(["--dhcp-port", &dhcp.to_string()])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Server { child, dhcp }
}

fn request(kind: MessageType, extra: &[DhcpOption]) -> Vec<u8> {
    let mut msg = Message::new_with_id(
        0xfeed_0001,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        &MAC,
    );
    msg.set_flags(Flags::default().set_broadcast());
    let opts = msg.opts_mut();
    opts.insert(DhcpOption::MessageType(kind));
    opts.insert(DhcpOption::ClassIdentifier(
        b"PXEClient:Arch:00000:UNDI:002001".to_vec(),
    ));
    opts.insert(DhcpOption::ClientSystemArchitecture(0u16.into()));
    for o in extra {
        opts.insert(o.clone());
    }
    msg.to_vec().unwrap()
}

/// Sends until an answer comes (the server may still be starting).
fn exchange(server: &Server, packet: &[u8]) -> Message {
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 1500];
    for _ in 0..50 {
        client.send_to(packet, ("127.0.0.1", server.dhcp)).unwrap();
        if let Ok((n, _)) = client.recv_from(&mut buf) {
            return Message::decode(&mut Decoder::new(&buf[..n])).unwrap();
        }
    }
    panic!("no DHCP answer from netboot serve on port {}", server.dhcp);
}

fn fname(msg: &Message) -> String {
    let raw = msg.fname().unwrap_or_default();
    String::from_utf8_lossy(raw.strip_suffix(&[0]).unwrap_or(raw)).into_owned()
}

#[test]
fn serve_leases_an_address_with_the_boot_file_and_keeps_it_across_a_restart() {
    let fleet = Fleet::new(FLEET);
    let state = tempfile::tempdir().unwrap();
    let server = start(&fleet, state.path());

    let offer = exchange(&server, &request(MessageType::Discover, &[]));
    assert_eq!(offer.opts().msg_type(), Some(MessageType::Offer));
    let ip = offer.yiaddr();
    assert_eq!(ip, Ipv4Addr::new(127, 0, 0, 100));
    assert_eq!(fname(&offer), "undionly.kpxe");
    assert_eq!(
        offer.opts().get(dhcproto::v4::OptionCode::SubnetMask),
        Some(&DhcpOption::SubnetMask(Ipv4Addr::new(255, 0, 0, 0))),
        "the mask comes from the interface"
    );

    let ack = exchange(
        &server,
        &request(
            MessageType::Request,
            &[
                DhcpOption::RequestedIpAddress(ip),
                DhcpOption::ServerIdentifier(Ipv4Addr::LOCALHOST),
            ],
        ),
    );
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(ack.yiaddr(), ip);
    let leases = std::fs::read_to_string(state.path().join("dhcp-leases.json")).unwrap();
    assert!(
        leases.contains("127.0.0.100") && leases.contains("52:54:00:00:00:42"),
        "{leases}"
    );
    drop(server);

    // A new server reads the lease back: another machine asking for that address is NAKed.
    let server = start(&fleet, state.path());
    let mut other = Message::decode(&mut Decoder::new(&request(
        MessageType::Request,
        &[DhcpOption::RequestedIpAddress(ip)],
    )))
    .unwrap();
    other.set_chaddr(&[0x52, 0x54, 0, 0, 0, 0x43]);
    let nak = exchange(&server, &other.to_vec().unwrap());
    assert_eq!(nak.opts().msg_type(), Some(MessageType::Nak));
    let offer = exchange(&server, &request(MessageType::Discover, &[]));
    assert_eq!(offer.yiaddr(), ip, "the same machine gets its address back");
}

#[test]
fn full_mode_refuses_to_answer_on_every_interface() {
    let fleet = Fleet::new(FLEET);
    let state = tempfile::tempdir().unwrap();
    let out = serve(&fleet, state.path(), None)
        .args(["--dhcp-port", &free_udp_port().to_string()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("full DHCP") && err.contains("--interface"),
        "{err}"
    );
}

/// A relay whose subnet the fleet does not declare: no answer (so nothing leaves loopback),
/// no lease, and one warning per relay however often it forwards, while the server's own
/// clients are served as before.
#[test]
fn an_undeclared_relay_is_warned_about_once_and_never_leased_to() {
    let fleet = Fleet::new(&FLEET.replace(
        "dns \"127.0.0.53\"",
        "dns \"127.0.0.53\"\n        subnet \"10.78.0.0/24\" { range \"10.78.0.100\" \"10.78.0.199\"; }",
    ));
    let state = tempfile::tempdir().unwrap();
    let log_path = state.path().join("serve.log");
    let dhcp = free_udp_port();
    let child = serve(&fleet, &state.path().join("state"), Some("lo"))
        .args(["--dhcp-port", &dhcp.to_string()])
        .env("RUST_LOG", "debug")
        .env("NO_COLOR", "1")
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let server = Server { child, dhcp };
    // The server answers its own segment (this also waits until it is up).
    let offer = exchange(&server, &request(MessageType::Discover, &[]));
    assert_eq!(offer.yiaddr(), Ipv4Addr::new(127, 0, 0, 100));

    let relayed = |giaddr: Ipv4Addr| {
        let mut msg =
            Message::decode(&mut Decoder::new(&request(MessageType::Discover, &[]))).unwrap();
        msg.set_giaddr(giaddr).set_hops(1);
        msg.to_vec().unwrap()
    };
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let strangers = [Ipv4Addr::new(10, 99, 0, 1), Ipv4Addr::new(10, 98, 0, 1)];
    for _ in 0..3 {
        for giaddr in strangers {
            client
                .send_to(&relayed(giaddr), ("127.0.0.1", server.dhcp))
                .unwrap();
        }
    }
    // Each was decided before this one, which the server takes in order.
    let again = exchange(&server, &request(MessageType::Discover, &[]));
    assert_eq!(again.yiaddr(), Ipv4Addr::new(127, 0, 0, 100));
    drop(server);

    let log = std::fs::read_to_string(&log_path).unwrap();
    for giaddr in strangers {
        let warned = log
            .lines()
            .filter(|l| l.contains("WARN") && l.contains(&format!("giaddr={giaddr}")))
            .count();
        assert_eq!(warned, 1, "warnings for {giaddr}:\n{log}");
        let quiet = log
            .lines()
            .filter(|l| l.contains("DEBUG") && l.contains(&format!("giaddr={giaddr}")))
            .count();
        assert_eq!(quiet, 2, "the retries are logged at debug:\n{log}");
    }
    let leases =
        std::fs::read_to_string(state.path().join("state/dhcp-leases.json")).unwrap_or_default();
    assert!(!leases.contains("10.9"), "{leases}");
    assert!(
        !log.lines()
            .any(|l| l.contains("dhcp full answer") && l.contains("ip=10.")),
        "{log}"
    );
}
