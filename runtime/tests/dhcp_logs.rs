//! The proxy-DHCP log lines: one "dhcp answer" at info level per reply with the fields an
//! operator reads a boot by, and a debug line with the reason for each ignored packet.

use std::net::Ipv4Addr;
use std::sync::Arc;

use dhcproto::v4::MessageType;
use netboot_runtime::dhcp::{DhcpConfig, DhcpServer};
use netboot_runtime::Snapshot;
use netboot_test_support::dhcp::*;
use netboot_test_support::log_events::Events;
use tokio::net::UdpSocket;

#[tokio::test]
async fn answers_and_ignored_packets_are_logged_with_their_fields() {
    let events = Events::install();
    let dir = tempfile::tempdir().unwrap();
    let snapshot = Arc::new(Snapshot::from_compiled(
        manifest(),
        &generated(),
        dir.path(),
    ));
    let (_tx, rx) = tokio::sync::watch::channel(snapshot);
    let config = DhcpConfig {
        server_addr: SERVER.addr,
        http_port: SERVER.http_port,
        interface: None,
        dhcp_port: 0,
        pxe_port: 0,
    };
    let server = DhcpServer::bind(&config, rx).await.unwrap();
    let dhcp_port = server.local_addrs().0.port();
    tokio::spawn(server.run());
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let to = (Ipv4Addr::LOCALHOST, dhcp_port);

    client.send_to(&[1, 1, 6], to).await.unwrap();
    let ignored = events.wait_for_async("dhcp packet ignored", &[]).await;
    assert_eq!(ignored["level"], "DEBUG");
    assert_eq!(ignored["target"], "netboot::dhcp");
    assert_eq!(ignored["port"], "67");
    assert!(
        ignored["reason"].contains("shorter than the 240-byte"),
        "{ignored:?}"
    );

    let discover = Req::ipxe(MessageType::Discover, KNOWN_MAC);
    client.send_to(&discover.bytes(), to).await.unwrap();
    let answer = events.wait_for_async("dhcp answer", &[]).await;
    assert_eq!(answer["level"], "INFO");
    assert_eq!(answer["target"], "netboot::dhcp");
    assert_eq!(answer["mac"], "52:54:00:12:34:56");
    assert_eq!(answer["ip"], "127.0.0.1");
    assert_eq!(answer["kind"], "ipxe");
    assert_eq!(
        answer["file"],
        "http://10.0.2.2:8080/hosts/52-54-00-12-34-56.ipxe"
    );
    assert_eq!(answer["port"], "67");
    assert_eq!(answer["to"], client.local_addr().unwrap().to_string());
}
