//! The proxy-DHCP socket loop on loopback: DISCOVER -> OFFER on the DHCP port and
//! REQUEST -> ACK on the PXE port, with a reload swapping the answer between them.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use dhcproto::v4::MessageType;
use netboot_manifest::ClientKind;
use netboot_runtime::dhcp::{DhcpConfig, DhcpServer};
use netboot_runtime::Snapshot;
use netboot_test_support::dhcp::*;
use tokio::net::UdpSocket;
use tokio::sync::watch;

fn snapshot(manifest: netboot_manifest::Manifest) -> Arc<Snapshot> {
    let dir = tempfile::tempdir().unwrap();
    Arc::new(Snapshot::from_compiled(manifest, &generated(), dir.path()))
}

async fn start(snap: Arc<Snapshot>) -> (watch::Sender<Arc<Snapshot>>, SocketAddr, SocketAddr) {
    let (tx, rx) = watch::channel(snap);
    let config = DhcpConfig {
        server_addr: SERVER.addr,
        http_port: SERVER.http_port,
        interface: None,
        dhcp_port: 0,
        pxe_port: 0,
    };
    let server = DhcpServer::bind(&config, rx).await.unwrap();
    let (dhcp, pxe) = server.local_addrs();
    tokio::spawn(server.run());
    let to_loopback = |a: SocketAddr| SocketAddr::from((Ipv4Addr::LOCALHOST, a.port()));
    (tx, to_loopback(dhcp), to_loopback(pxe))
}

async fn exchange(client: &UdpSocket, to: SocketAddr, packet: &[u8]) -> Vec<u8> {
    client.send_to(packet, to).await.unwrap();
    let mut buf = [0u8; 1500];
    let (n, from) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
        .await
        .expect("the server answers within 5 s")
        .unwrap();
    assert_eq!(from.port(), to.port(), "reply comes from the port asked");
    buf[..n].to_vec()
}

#[tokio::test]
async fn discover_offer_then_request_ack_over_loopback() {
    let (_tx, dhcp, pxe) = start(snapshot(manifest())).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();

    let vendor = "PXEClient:Arch:00007:UNDI:003000";
    let discover = Req::firmware(MessageType::Discover, UNKNOWN_MAC, vendor, 7);
    let offer = decode(&exchange(&client, dhcp, &discover.bytes()).await);
    assert_proxy_basics(&offer, 0x1234_5678, UNKNOWN_MAC, MessageType::Offer);
    assert_eq!(fname(&offer), "ipxe.efi");

    let mut request = Req::firmware(MessageType::Request, UNKNOWN_MAC, vendor, 7);
    request.msg.set_xid(0x0bad_cafe);
    let ack = decode(&exchange(&client, pxe, &request.bytes()).await);
    assert_proxy_basics(&ack, 0x0bad_cafe, UNKNOWN_MAC, MessageType::Ack);
    assert_eq!(fname(&ack), "ipxe.efi");
}

#[tokio::test]
async fn garbage_and_strangers_do_not_stall_the_loop_and_reloads_apply() {
    let (tx, dhcp, _pxe) = start(snapshot(manifest())).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();

    // None of these gets a reply; the valid DISCOVER after them still does.
    client.send_to(&[], dhcp).await.unwrap();
    client.send_to(&[1, 2, 3], dhcp).await.unwrap();
    client.send_to(&[0xff; 3000], dhcp).await.unwrap();
    let mut stranger = Req::new(MessageType::Discover, UNKNOWN_MAC);
    stranger.opt(dhcproto::v4::DhcpOption::ClassIdentifier(
        b"MSFT 5.0".to_vec(),
    ));
    client.send_to(&stranger.bytes(), dhcp).await.unwrap();

    let discover = Req::ipxe(MessageType::Discover, UNKNOWN_MAC);
    let offer = decode(&exchange(&client, dhcp, &discover.bytes()).await);
    assert_eq!(fname(&offer), "http://10.0.2.2:8080/boot.ipxe");

    // A reload takes effect for the next packet.
    let mut m = manifest();
    m.dhcp.get_mut(&ClientKind::Ipxe).unwrap().path = "hosts/52-54-00-12-34-56.ipxe".into();
    tx.send(snapshot(m)).unwrap();
    let offer = decode(&exchange(&client, dhcp, &discover.bytes()).await);
    assert_eq!(
        fname(&offer),
        "http://10.0.2.2:8080/hosts/52-54-00-12-34-56.ipxe"
    );
}

#[tokio::test]
async fn an_unspecified_server_address_is_refused_at_bind() {
    let (_tx, rx) = watch::channel(snapshot(manifest()));
    let config = DhcpConfig {
        server_addr: Ipv4Addr::UNSPECIFIED,
        http_port: 8080,
        interface: None,
        dhcp_port: 0,
        pxe_port: 0,
    };
    let err = DhcpServer::bind(&config, rx)
        .await
        .err()
        .expect("bind refuses 0.0.0.0");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("0.0.0.0"), "{err}");
}
