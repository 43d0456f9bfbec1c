//! Two `netboot serve` of one fleet, as two servers of one segment run them (README, "Running
//! more than one server"): each names itself as next-server and URL host, and otherwise
//! answers byte for byte as the other does, so a firmware that takes the first offer boots the
//! same way whichever answered. On loopback: 127.0.0.1 and 127.0.0.2, the same HTTP and TFTP
//! ports (each binds its own address), DHCP on ports of their own.

use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dhcproto::v4::MessageType;
use netboot_test_support::dhcp::Req;
use netboot_test_support::fleet_dir::Fleet;
use netboot_test_support::ports::{free_tcp_port, free_udp_port};

const FLEET: &str = r#"
loaders { bios "loaders/undionly.kpxe"; }
artifact "kernel" path="files/kernel"
artifact "initrd" path="files/initrd"
profile "p" { kernel "kernel"; initrd "initrd"; cmdline "console=ttyS0"; }
host "a" mac="52:54:00:00:00:42" profile="p"
default profile="p"
"#;

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

fn start(fleet: &Fleet, address: &str, http: u16, tftp: u16) -> Server {
    let dhcp = free_udp_port();
    let child = Command::new(env!("CARGO_BIN_EXE_netboot"))
        .arg("serve")
        .arg(fleet.path())
        .args(["--address", address])
        .args(["--http-port", &http.to_string()])
        .args(["--tftp-port", &tftp.to_string()])
        .args(["--dhcp-port", &dhcp.to_string()])
        .args(["--pxe-port", &free_udp_port().to_string()])
        .arg("--no-watch")
        .arg("--no-status")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Server { child, dhcp }
}

/// A PXE DISCOVER of a BIOS firmware, and the same machine once it runs iPXE.
fn discover(ipxe: bool) -> Vec<u8> {
    let mac = [0x52, 0x54, 0x00, 0x00, 0x00, 0x42];
    let req = if ipxe {
        Req::ipxe(MessageType::Discover, mac)
    } else {
        Req::firmware(
            MessageType::Discover,
            mac,
            "PXEClient:Arch:00000:UNDI:002001",
            0,
        )
    };
    req.bytes()
}

/// Sends until an answer comes (the server may still be starting); the reply's bytes.
fn exchange(server: &Server, packet: &[u8]) -> Vec<u8> {
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 1500];
    for _ in 0..50 {
        client.send_to(packet, ("127.0.0.1", server.dhcp)).unwrap();
        if let Ok((n, _)) = client.recv_from(&mut buf) {
            return buf[..n].to_vec();
        }
    }
    panic!("no DHCP answer from netboot serve on port {}", server.dhcp);
}

/// `bytes` with every occurrence of `from` replaced by `to` (same length).
fn replace(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = bytes.to_vec();
    let mut i = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            i += from.len();
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn two_runtimes_answer_alike_but_for_their_own_address() {
    let fleet = Fleet::new(FLEET);
    let (http, tftp) = (free_tcp_port(), free_udp_port());
    let a = start(&fleet, "127.0.0.1", http, tftp);
    let b = start(&fleet, "127.0.0.2", http, tftp);
    for ipxe in [false, true] {
        let packet = discover(ipxe);
        let from_a = exchange(&a, &packet);
        let from_b = exchange(&b, &packet);
        assert_ne!(from_a, from_b, "each runtime names itself");
        // Where A says 127.0.0.1 (next-server, option 54, a script URL), B says 127.0.0.2,
        // and nothing else differs.
        let a_as_b = replace(&from_a, &[127, 0, 0, 1], &[127, 0, 0, 2]);
        let a_as_b = replace(&a_as_b, b"127.0.0.1", b"127.0.0.2");
        assert_eq!(
            a_as_b, from_b,
            "the answers (iPXE: {ipxe}) differ in more than the server's address"
        );
        let text = String::from_utf8_lossy(&from_b);
        if ipxe {
            assert!(
                text.contains(&format!("http://127.0.0.2:{http}/")),
                "B names itself in the script URL"
            );
        } else {
            assert!(text.contains("undionly.kpxe"));
            assert_eq!(&from_b[20..24], &[127, 0, 0, 2], "B's next-server is B");
        }
    }
}
