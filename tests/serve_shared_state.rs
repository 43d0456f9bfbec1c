//! Two `netboot serve` processes on loopback sharing one PostgreSQL (`--state postgres://…`,
//! a throwaway cluster from test-support): a storm of 200 full-DHCP clients split across both
//! gets 200 distinct addresses, every one committed; an install reported through one server
//! is what the other serves next, and a forged or replayed report changes nothing; the
//! database going down gives the `then` profile, never the installer; a database that is
//! down at start-up stops `serve` with its URL, password redacted.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use dhcproto::v4::{DhcpOption, Message, MessageType};
use dhcproto::{Decodable, Decoder};
use netboot_test_support::dhcp::Req;
use netboot_test_support::fleet_dir::Fleet;
use netboot_test_support::lifecycle::{done_path, FLEET, WEB1, WEB2};
use netboot_test_support::ports::{free_tcp_port, free_udp_port};
use netboot_test_support::postgres::Postgres;
use netboot_test_support::served::{exits_within, Served};

const DHCP_FLEET: &str = r#"
server {
    address "127.0.0.1"
    dhcp "full" {
        range "127.0.1.1" "127.0.1.254"
        lease-time 600
    }
}
loaders { bios "loaders/undionly.kpxe"; }
profile "p" { exit }
default profile="p"
"#;

const CLIENTS: u16 = 200;

/// A full-DHCP server on its own DHCP port, leasing from the shared database (its own
/// `--state-dir` holds nothing then).
fn dhcp_server(fleet: &Fleet, url: &str, state_dir: &Path) -> (Served, u16) {
    let dhcp = free_udp_port();
    let state_dir = state_dir.to_str().unwrap();
    let (dhcp_port, pxe_port) = (dhcp.to_string(), free_udp_port().to_string());
    let flags = [
        "--interface",
        "lo",
        "--dhcp-port",
        &dhcp_port,
        "--pxe-port",
        &pxe_port,
        "--state",
        url,
        "--state-dir",
        state_dir,
        "--no-watch",
    ];
    (Served::fleet_with_dhcp(fleet, &flags), dhcp)
}

fn packet(n: u16, kind: MessageType, extra: &[DhcpOption]) -> Vec<u8> {
    let [hi, lo] = n.to_be_bytes();
    let mut r = Req::firmware(
        kind,
        [0x02, 0, 0, 0, hi, lo],
        "PXEClient:Arch:00000:UNDI:002001",
        0,
    );
    r.msg.set_xid(0x5eed_0000 | u32::from(n));
    for o in extra {
        r.opt(o.clone());
    }
    r.bytes()
}

/// Sends `packet` until an answer of `want` comes, as a client retransmits. Anything else
/// (a late OFFER answering a retransmitted DISCOVER) is passed over, as clients do.
fn exchange(client: &UdpSocket, port: u16, packet: &[u8], want: MessageType) -> Message {
    let mut buf = [0u8; 1500];
    for _ in 0..20 {
        client.send_to(packet, ("127.0.0.1", port)).unwrap();
        while let Ok((n, _)) = client.recv_from(&mut buf) {
            let msg = Message::decode(&mut Decoder::new(&buf[..n])).unwrap();
            match msg.opts().msg_type() {
                Some(t) if t == want => return msg,
                Some(MessageType::Offer) => continue,
                other => panic!("{other:?} instead of {want:?}: {msg:?}"),
            }
        }
    }
    panic!("no {want:?} from the server on port {port}");
}

/// DISCOVER, OFFER, REQUEST, ACK: the address the client holds.
fn lease(n: u16, port: u16) -> Ipv4Addr {
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let offer = exchange(
        &client,
        port,
        &packet(n, MessageType::Discover, &[]),
        MessageType::Offer,
    );
    let request = packet(
        n,
        MessageType::Request,
        &[
            DhcpOption::RequestedIpAddress(offer.yiaddr()),
            DhcpOption::ServerIdentifier(Ipv4Addr::LOCALHOST),
        ],
    );
    let ack = exchange(&client, port, &request, MessageType::Ack);
    assert_eq!(ack.yiaddr(), offer.yiaddr(), "client {n}");
    ack.yiaddr()
}

#[test]
fn two_servers_on_one_database_lease_200_clients_200_distinct_addresses() {
    let Some(pg) =
        Postgres::start("two_servers_on_one_database_lease_200_clients_200_distinct_addresses")
    else {
        return;
    };
    let fleet = Fleet::new(DHCP_FLEET);
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let (a, a_port) = dhcp_server(&fleet, &pg.url(), dirs[0].path());
    let (b, b_port) = dhcp_server(&fleet, &pg.url(), dirs[1].path());
    let start = Arc::new(Barrier::new(usize::from(CLIENTS)));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let start = Arc::clone(&start);
            let port = if n % 2 == 0 { a_port } else { b_port };
            std::thread::spawn(move || {
                start.wait();
                (n, lease(n, port))
            })
        })
        .collect();
    let leased: BTreeMap<u16, Ipv4Addr> = clients
        .into_iter()
        .map(|c| c.join().expect("a client got no lease"))
        .collect();
    let distinct: BTreeSet<&Ipv4Addr> = leased.values().collect();
    assert_eq!(distinct.len(), usize::from(CLIENTS), "{leased:?}");
    assert_eq!(
        pg.psql(
            "SELECT count(*), count(DISTINCT address), count(DISTINCT mac), \
             count(*) FILTER (WHERE state = 'bound') FROM netboot_lease"
        ),
        "200|200|200|200"
    );
    // Each address the database holds is the one its client was told.
    let held = pg.psql("SELECT mac, host(address) FROM netboot_lease ORDER BY mac");
    for (row, (n, ip)) in held.lines().zip(&leased) {
        let [hi, lo] = n.to_be_bytes();
        assert_eq!(row, format!("02:00:00:00:{hi:02x}:{lo:02x}|{ip}"));
    }
    for (server, dir) in [(&a, &dirs[0]), (&b, &dirs[1])] {
        assert!(
            server.log().contains("dhcp full answer"),
            "{}",
            server.log()
        );
        assert!(!dir.path().join("dhcp-leases.json").exists());
    }
}

fn netboot(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_netboot"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "netboot {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn an_install_reported_through_one_server_is_what_the_other_serves_next() {
    let Some(mut pg) =
        Postgres::start("an_install_reported_through_one_server_is_what_the_other_serves_next")
    else {
        return;
    };
    let url = pg.url();
    let fleet = Fleet::new(&format!("server {{ address \"127.0.0.1\"; }}\n{FLEET}"));
    let a = Served::fleet_with(&fleet, &["--state", &url]);
    let b = Served::fleet_with(&fleet, &["--state", &url]);
    let rows = || pg.psql("SELECT mac, host, generation, reported_at FROM netboot_install");

    let done = done_path(&a.http_text(WEB1));
    assert!(b.http_text(WEB1).contains("kernel"), "both install web1");
    // Forged: web2's own token for web1, and a made-up one. Nothing is written.
    let web2_done = done_path(&b.http_text(WEB2));
    assert_eq!(b.http_status(&web2_done.replace("web2", "web1")), 403);
    let forged = format!("install-done/web1/1/{}", "0".repeat(32));
    assert_eq!(a.http_status(&forged), 403);
    assert_eq!(rows(), "");

    // Reported through A: B boots web1 from disk on its next request; web2 still installs.
    assert_eq!(a.http_status(&done), 200);
    assert!(b.http_text(WEB1).contains("exit"), "B serves web1's then");
    assert!(b.http_text(WEB2).contains("kernel"));
    let metrics = b.http_text("metrics");
    assert!(
        metrics.contains("netboot_install_state{host=\"web1\",state=\"installed\"} 1"),
        "{metrics}"
    );
    let recorded = rows();
    assert!(
        recorded.starts_with("52:54:00:00:00:11|web1|1|"),
        "{recorded}"
    );
    // Replayed through B: answered, nothing rewritten (not even the time).
    assert_eq!(b.http_status(&done), 200);
    assert_eq!(rows(), recorded);

    // The commands read and write the same database.
    let fleet_path = fleet.path();
    let fleet_path = fleet_path.to_str().unwrap();
    let listed = netboot(&["state", fleet_path, "--state", &url]);
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("web1") && l.ends_with("then local-disk")),
        "{listed}"
    );
    netboot(&["reinstall", "web1", fleet_path, "--state", &url]);
    assert!(a.http_text(WEB1).contains("kernel") && b.http_text(WEB1).contains("kernel"));
    assert_eq!(rows(), "");
    assert_eq!(
        a.http_status(&done),
        200,
        "reported again after the reinstall"
    );
    assert!(b.http_text(WEB1).contains("exit"));

    // The database goes down: web2, still pending, gets its `then` profile (never the
    // installer) and no report is taken.
    pg.stop();
    assert!(b.http_text(WEB2).contains("exit"), "never the installer");
    assert_eq!(b.http_status(&web2_done), 503);
    assert!(b.log().contains("install state unreadable"), "{}", b.log());
}

#[test]
fn a_database_that_is_down_stops_start_up_with_its_url_redacted() {
    let empty = tempfile::tempdir().unwrap();
    let url = format!(
        "postgres://netboot:s3cret@{}/netboot",
        empty.path().to_str().unwrap().replace('/', "%2F")
    );
    let fleet = Fleet::new(&format!("server {{ address \"127.0.0.1\"; }}\n{FLEET}"));
    let mut serve = Command::new(env!("CARGO_BIN_EXE_netboot"));
    serve
        .args(["serve", "--address", "127.0.0.1", "--no-dhcp"])
        .args(["--http-port", &free_tcp_port().to_string()])
        .args(["--tftp-port", &free_udp_port().to_string(), "--state", &url])
        .arg(fleet.path());
    let (status, log) = exits_within(&mut serve, Duration::from_secs(20)).expect("serve exits");
    assert!(!status.success());
    assert!(
        log.contains("cannot reach the state database postgres://netboot:***@"),
        "{log}"
    );
    assert!(!log.contains("s3cret"), "{log}");
}
