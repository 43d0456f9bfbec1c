//! A whole [`Runtime`] (proxy-DHCP, TFTP, HTTP) on 127.0.0.1 with ephemeral ports, and the
//! DHCP exchange a machine's firmware or iPXE makes with it.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use netboot_runtime::server::{Runtime, ServeConfig};
use netboot_runtime::Snapshot;
use tokio::net::UdpSocket;

use crate::dhcp::{decode, fname, opt_bytes, Req};

/// Starts `snapshot` with every service on an ephemeral loopback port; `status` turns on the
/// status page.
pub async fn start(snapshot: Snapshot, status: bool) -> Runtime {
    let config = ServeConfig {
        address: Ipv4Addr::LOCALHOST,
        interface: None,
        http_port: 0,
        tftp_port: 0,
        dhcp: true,
        dhcp_port: 0,
        pxe_port: 0,
        status,
        install: None,
    };
    Runtime::start(&config, snapshot).await.unwrap()
}

/// `a` on 127.0.0.1: a service bound to the wildcard address is reached there.
pub fn loopback(a: SocketAddr) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, a.port()))
}

/// Sends `request` to port 67 and returns the boot file of the answer (option 67 or `file`).
pub async fn boot_file(runtime: &Runtime, request: &Req) -> String {
    let (port67, _) = runtime.bound().dhcp.expect("proxy-DHCP runs");
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client
        .send_to(&request.bytes(), loopback(port67))
        .await
        .unwrap();
    let mut buf = [0u8; 1500];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
        .await
        .expect("proxy-DHCP answers")
        .unwrap();
    let reply = decode(&buf[..n]);
    // Long boot files (iPXE's script URL) travel in option 67 only.
    match opt_bytes(&reply, 67) {
        Some(file) => String::from_utf8(file).unwrap(),
        None => fname(&reply),
    }
}
