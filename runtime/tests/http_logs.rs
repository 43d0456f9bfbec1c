//! What the HTTP server tells an operator when something goes wrong: a download whose file is
//! rewritten in place under it fails (short body, a warning, a failed transfer in `/metrics`)
//! instead of delivering mixed bytes as a success, and connections over the cap are refused
//! with 503, each counted, with warnings at a bounded rate rather than one per connection.

use std::fs::OpenOptions;
use std::io::{BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::FileExt;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use netboot_runtime::http::HttpConfig;
use netboot_runtime::status::{Events, Limits, NoNeighbors};
use netboot_test_support::http::{pattern, snapshot, start_with, Client, File};

/// One capture for the whole binary (a process has one global subscriber); each test looks
/// only for its own lines.
fn logs() -> &'static netboot_test_support::log_events::Events {
    static LOGS: OnceLock<netboot_test_support::log_events::Events> = OnceLock::new();
    LOGS.get_or_init(netboot_test_support::log_events::Events::install)
}

/// A config with the status recorder on, so `/metrics` answers.
fn with_metrics(max_connections: usize) -> HttpConfig {
    HttpConfig {
        max_connections,
        events: Events::with_neighbors(Limits::default(), NoNeighbors),
        ..HttpConfig::default()
    }
}

fn sample(metrics: &str, name: &str) -> String {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
        .to_string()
}

fn metrics(client: &mut Client) -> String {
    client.request("GET", "/metrics", "");
    let r = client.response("GET");
    assert_eq!(r.status, 200);
    String::from_utf8(r.body).unwrap()
}

/// A client with a small receive buffer: the kernel's autotuning would otherwise let the
/// server push tens of MiB into socket buffers before the client reads them.
fn slow_client(addr: SocketAddr) -> Client {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    socket.connect(&addr.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    Client {
        reader: BufReader::new(stream),
    }
}

#[test]
fn a_file_rewritten_in_place_mid_download_is_cut_short_and_reported_failed() {
    let logs = logs();
    let dir = tempfile::tempdir().unwrap();
    let old = pattern(32 << 20, 8);
    let server = start_with(
        snapshot(&[File::Disk("big.img", old.clone())], dir.path()),
        with_metrics(64),
    );

    let mut c = slow_client(server.addr);
    c.request("GET", "/big.img", "Connection: close\r\n");
    let (status, headers) = c.read_head();
    assert_eq!(status, 200);
    let announced: usize = headers["content-length"].parse().unwrap();
    assert_eq!(announced, old.len());
    let mut first = vec![0u8; 1 << 20];
    c.reader.read_exact(&mut first).unwrap();
    assert!(first == old[..first.len()]);

    // The operator's `dd conv=notrunc`: same length, same inode, other bytes.
    let new = pattern(old.len(), 9);
    let file = OpenOptions::new()
        .write(true)
        .open(dir.path().join("big.img"))
        .unwrap();
    file.write_all_at(&new, 0).unwrap();
    drop(file);

    // The server closes early (EOF, or a reset): either way the client must come up short.
    let mut rest = Vec::new();
    let _ = c.reader.read_to_end(&mut rest);
    let got = first.len() + rest.len();
    assert!(
        got < announced,
        "the client got all {announced} bytes of a file rewritten under it"
    );

    let line = logs.wait_for("http file failed", &[("file", "big.img")]);
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["target"], "netboot::http");
    assert!(line["error"].contains("rewritten in place"), "{line:?}");
    let sent: usize = line["bytes"].parse().unwrap();
    assert!(sent >= got && sent < announced, "{line:?}");

    let mut c = Client::connect(server.addr);
    let text = metrics(&mut c);
    let transfers = "netboot_transfers_total{protocol=\"http\",result=";
    assert_eq!(sample(&text, &format!("{transfers}\"failed\"}}")), "1");
    assert_eq!(sample(&text, &format!("{transfers}\"ok\"}}")), "0");
}

#[test]
fn connections_over_the_cap_are_refused_counted_and_logged_at_a_bounded_rate() {
    let logs = logs();
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(
        snapshot(
            &[File::Memory("boot.ipxe", b"#!ipxe\n".to_vec())],
            dir.path(),
        ),
        with_metrics(1),
    );
    // The one slot, proven taken by a served request; it asks for the metrics at the end.
    let mut held = Client::connect(server.addr);
    held.request("GET", "/boot.ipxe", "");
    assert_eq!(held.response("GET").status, 200);

    let refusals = 20;
    let burst = Instant::now();
    for _ in 0..refusals {
        let mut over = TcpStream::connect(server.addr).unwrap();
        over.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut text = String::new();
        let _ = over.read_to_string(&mut text);
        assert!(text.starts_with("HTTP/1.1 503 "), "{text:?}");
    }
    let burst = burst.elapsed();

    let text = metrics(&mut held);
    assert_eq!(
        sample(&text, "netboot_requests_refused_total{protocol=\"http\"}"),
        refusals.to_string()
    );

    // The server logs before it answers, so every line is in by now. At most one a second:
    // a burst this short (well under a second on loopback) makes one line, not twenty.
    let lines = logs.all("http connection over the cap refused");
    assert!(!lines.is_empty(), "no warning for {refusals} refusals");
    assert!(
        lines.len() as u64 <= 1 + burst.as_secs(),
        "{} lines for {refusals} refusals in {burst:?}",
        lines.len()
    );
    let mut counted = 0;
    for line in &lines {
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["max_connections"], "1");
        counted += line["refused"].parse::<u64>().unwrap();
    }
    assert_eq!(
        lines[0]["refused"], "1",
        "the first refusal is logged at once"
    );
    assert!(counted <= refusals);
}
