//! A whole [`Runtime`] stopped after serving: TFTP and DHCP run on threads of their own (a
//! runtime inside the runtime), so stopping must close their sockets as well as HTTP's, or a
//! restarted `netboot serve` (or the next test) finds its ports taken.

use std::net::{TcpListener, UdpSocket};
use std::time::Duration;

use dhcproto::v4::MessageType;
use netboot_runtime::Snapshot;
use netboot_test_support::dhcp::{generated, manifest, Req, KNOWN_MAC};
use netboot_test_support::whole_runtime::{boot_file, loopback, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_runtime_frees_its_dhcp_tftp_and_http_ports() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = Snapshot::from_compiled(manifest(), &generated(), dir.path());
    let runtime = start(snapshot, false).await;
    let bound = runtime.bound();
    let (port67, port4011) = bound.dhcp.unwrap();

    // Both UDP services answer before the stop.
    let discover = Req::firmware(
        MessageType::Discover,
        KNOWN_MAC,
        "PXEClient:Arch:00000:UNDI:002001",
        0,
    );
    assert_eq!(boot_file(&runtime, &discover).await, "undionly.kpxe");
    let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut buf = [0u8; 1500];
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
