//! A whole [`Runtime`] stopped after serving: TFTP and DHCP run on threads of their own (a
//! runtime inside the runtime), so stopping must close their sockets as well as HTTP's, or a
//! restarted `netboot serve` (or the next test) finds its ports taken.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::time::Duration;

use dhcproto::v4::MessageType;
use netboot_runtime::server::{Runtime, ServeConfig};
use netboot_runtime::Snapshot;
use netboot_test_support::dhcp::{decode, fname, generated, manifest, opt_bytes, Req, KNOWN_MAC};

fn loopback(a: SocketAddr) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, a.port()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_runtime_frees_its_dhcp_tftp_and_http_ports() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = Snapshot::from_compiled(manifest(), &generated(), dir.path());
    let config = ServeConfig {
        address: Ipv4Addr::LOCALHOST,
        interface: None,
        http_port: 0,
        tftp_port: 0,
        dhcp: true,
        dhcp_port: 0,
        pxe_port: 0,
        status: false,
        install: None,
    };
    let runtime = Runtime::start(&config, snapshot).await.unwrap();
    let bound = runtime.bound();
    let (port67, port4011) = bound.dhcp.unwrap();

    // Both UDP services answer before the stop.
    let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let discover = Req::firmware(
        MessageType::Discover,
        KNOWN_MAC,
        "PXEClient:Arch:00000:UNDI:002001",
        0,
    );
    client
        .send_to(&discover.bytes(), loopback(port67))
        .await
        .unwrap();
    let mut buf = [0u8; 1500];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
        .await
        .expect("proxy-DHCP answers")
        .unwrap();
    let offer = decode(&buf[..n]);
    let file =
        opt_bytes(&offer, 67).map_or_else(|| fname(&offer), |f| String::from_utf8(f).unwrap());
    assert_eq!(file, "undionly.kpxe");
    client
        .send_to(b"\x00\x01undionly.kpxe\x00octet\x00", bound.tftp)
        .await
        .unwrap();
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
        .await
        .expect("TFTP answers")
        .unwrap();
    assert_eq!(&buf[..4], &[0, 3, 0, 1], "DATA block 1");
    assert_eq!(&buf[4..n], b"fake undionly");

    // The transfer above is still waiting for its ACK: stopping cuts it.
    assert_eq!(runtime.stop(Duration::ZERO).await, 1);

    for addr in [loopback(port67), loopback(port4011), bound.tftp] {
        UdpSocket::bind(addr).unwrap_or_else(|e| panic!("{addr} still taken after stop: {e}"));
    }
    TcpListener::bind(bound.http).expect("the HTTP port is free after stop");
}
