//! Hostile HTTP clients: slowloris, huge heads, connection floods, stalled readers, malformed
//! requests and path traversal. Each must cost the server a bounded amount and never keep it
//! from answering everyone else, nor make it serve anything outside the manifest.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use netboot_runtime::http::HttpConfig;
use netboot_test_support::http::{
    allow_descriptors, fetch, pattern, snapshot, start, start_with, Client, File,
};

fn short(header: u64, idle: u64, stall: u64, cap: usize) -> HttpConfig {
    HttpConfig {
        max_connections: cap,
        header_timeout: Duration::from_secs(header),
        idle_timeout: Duration::from_secs(idle),
        stall_timeout: Duration::from_secs(stall),
        ..HttpConfig::default()
    }
}

#[test]
fn slowloris_neither_starves_others_nor_lives_past_the_header_timeout() {
    allow_descriptors(8192);
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(
        snapshot(
            &[File::Memory("boot.ipxe", b"#!ipxe\n".to_vec())],
            dir.path(),
        ),
        short(3, 30, 30, 4096),
    );
    let opened = Instant::now();
    let mut loris: Vec<TcpStream> = (0..1000)
        .map(|_| {
            let mut s = TcpStream::connect(server.addr).unwrap();
            s.write_all(b"GET /boot.ipxe HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            s
        })
        .collect();
    // One that keeps trickling a byte at a time: the timeout runs from its first byte.
    let mut trickle = TcpStream::connect(server.addr).unwrap();
    trickle
        .write_all(b"GET /boot.ipxe HTTP/1.1\r\nX: ")
        .unwrap();

    let asked = Instant::now();
    let r = fetch(server.addr, "GET", "/boot.ipxe", "");
    assert_eq!(r.body, b"#!ipxe\n");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "a normal client waited {:?} behind 1000 slow ones",
        asked.elapsed()
    );

    let trickler = std::thread::spawn(move || {
        // Writes fail once the server has closed (reset): that is the expected end.
        for _ in 0..40 {
            if trickle.write_all(b"a").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let mut rest = Vec::new();
        trickle
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let _ = trickle.read_to_end(&mut rest);
        rest
    });

    // Every slow client is answered 408 and closed once its head is 3 s old.
    for s in &mut loris {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        let text = String::from_utf8_lossy(&rest);
        assert!(text.starts_with("HTTP/1.1 408 "), "{text:?}");
    }
    let took = opened.elapsed();
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(15),
        "slow clients closed after {took:?}"
    );
    let rest = trickler.join().unwrap();
    assert!(String::from_utf8_lossy(&rest).starts_with("HTTP/1.1 408 "));
}

#[test]
fn huge_heads_get_431_and_the_connection_closed() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(snapshot(
        &[File::Memory("boot.ipxe", b"#!ipxe\n".to_vec())],
        dir.path(),
    ));
    let big_header = format!("X-Big: {}\r\n", "a".repeat(64 * 1024));
    let many_headers: String = (0..200).map(|i| format!("X-{i}: 1\r\n")).collect();
    let long_target = format!("/{}", "a".repeat(16 * 1024));
    for (target, extra) in [
        ("/boot.ipxe", big_header.as_str()),
        ("/boot.ipxe", many_headers.as_str()),
        (long_target.as_str(), ""),
    ] {
        let mut c = Client::connect(server.addr);
        // The server may answer before it has read everything; that is fine.
        let _ = c
            .reader
            .get_mut()
            .write_all(format!("GET {target} HTTP/1.1\r\nHost: t\r\n{extra}\r\n").as_bytes());
        let r = c.response("GET");
        assert_eq!(r.status, 431);
        assert_eq!(r.headers["connection"], "close");
        assert!(c.closed());
    }
    // And the server is still fine.
    assert_eq!(fetch(server.addr, "GET", "/boot.ipxe", "").status, 200);
}

#[test]
fn malformed_requests_get_400_or_505_and_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(snapshot(
        &[File::Memory("boot.ipxe", b"#!ipxe\n".to_vec())],
        dir.path(),
    ));
    for (raw, status) in [
        (&b"GET /boot.ipxe\r\n\r\n"[..], 400),
        (b"GET /boot.ipxe HTTP/1.1\r\nNo colon\r\n\r\n", 400),
        (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 400),
        (b"GET /boot.ipxe HTTP/2.0\r\n\r\n", 505),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
        (
            b"GET /boot.ipxe HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            400,
        ),
    ] {
        let mut c = Client::connect(server.addr);
        c.send(raw);
        let r = c.response("GET");
        assert_eq!(r.status, status, "{}", String::from_utf8_lossy(raw));
        assert!(c.closed());
    }
    // A GET announcing a body is answered, and the connection not reused (we never read bodies).
    let mut c = Client::connect(server.addr);
    c.send(b"GET /boot.ipxe HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
    let r = c.response("GET");
    assert_eq!((r.status, r.headers["connection"].as_str()), (200, "close"));
    assert!(c.closed());
}

#[test]
fn the_connection_cap_refuses_with_503_and_frees_slots() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(
        snapshot(
            &[File::Memory("boot.ipxe", b"#!ipxe\n".to_vec())],
            dir.path(),
        ),
        short(10, 30, 30, 8),
    );
    // Eight kept-alive connections, each proven accepted by a served request.
    let mut held: Vec<Client> = (0..8)
        .map(|_| {
            let mut c = Client::connect(server.addr);
            c.request("GET", "/boot.ipxe", "");
            assert_eq!(c.response("GET").status, 200);
            c
        })
        .collect();
    let mut over = Client::connect(server.addr);
    let mut text = String::new();
    let _ = over.reader.read_to_string(&mut text);
    assert!(text.starts_with("HTTP/1.1 503 "), "{text:?}");

    // Closing one frees its slot.
    held.pop();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut c = Client::connect(server.addr);
        c.request("GET", "/boot.ipxe", "Connection: close\r\n");
        let (status, _) = c.read_head();
        if status == 200 {
            break;
        }
        assert_eq!(status, 503);
        assert!(Instant::now() < deadline, "slot never freed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn idle_and_stalled_connections_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let big = pattern(64 << 20, 7);
    let server = start_with(
        snapshot(
            &[
                File::Memory("boot.ipxe", b"#!ipxe\n".to_vec()),
                File::Disk("big", big),
            ],
            dir.path(),
        ),
        short(10, 2, 2, 64),
    );
    // Idle between requests: closed after the idle timeout.
    let mut idle = Client::connect(server.addr);
    idle.request("GET", "/boot.ipxe", "");
    assert_eq!(idle.response("GET").status, 200);
    let since = Instant::now();
    assert!(idle.closed());
    let waited = since.elapsed();
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(10),
        "idle close after {waited:?}"
    );

    // A client that asks for 64 MiB and never reads: dropped after the stall timeout, while
    // others are served meanwhile.
    let mut stalled = Client::connect(server.addr);
    stalled.request("GET", "/big", "");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(fetch(server.addr, "GET", "/boot.ipxe", "").status, 200);
    std::thread::sleep(Duration::from_secs(4));
    let mut got = Vec::new();
    let _ = stalled.reader.read_to_end(&mut got);
    assert!(
        got.len() < 64 << 20,
        "a stalled client still got the whole file"
    );
}

#[test]
fn nothing_outside_the_manifest_is_served() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("artifacts");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(root.path().join("secret"), b"secret").unwrap();
    std::fs::write(dir.join("unlisted"), b"unlisted").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.join("passwd")).unwrap();
    let server = start(snapshot(
        &[
            File::Disk("kernel", b"kernel".to_vec()),
            File::Memory("boot.ipxe", b"#!ipxe\n".to_vec()),
        ],
        &dir,
    ));
    let long = format!("/{}", "a/".repeat(2000));
    let targets = [
        "/unlisted",
        "/passwd",
        "/../secret",
        "/kernel/../../secret",
        "/./kernel",
        "//kernel",
        "/%2e%2e/secret",
        "/%2E%2E%2Fsecret",
        "/%252e%252e/secret",
        "/%25252e%25252e/secret",
        "/..%5csecret",
        "/..%2fsecret",
        "/kernel%00",
        "/kernel%00.png",
        "/%00",
        "/%2fetc%2fpasswd",
        "/etc/passwd",
        "/%c0%ae%c0%ae/secret",
        "/%zz",
        "/kernel%",
        "http://t/../secret",
        "*",
        long.as_str(),
    ];
    let mut c = Client::connect(server.addr);
    for target in targets {
        c.request("GET", target, "");
        let r = c.response("GET");
        assert!(
            r.status == 404 || r.status == 400,
            "{target} answered {}",
            r.status
        );
        assert!(!r.body.starts_with(b"secret") && !r.body.starts_with(b"root:"));
    }
    // Raw forms httparse must see as they are: backslashes, absolute paths, a NUL byte.
    for raw in [
        &b"GET \\..\\secret HTTP/1.1\r\n\r\n"[..],
        b"GET /..\\secret HTTP/1.1\r\n\r\n",
        b"GET /etc/passwd HTTP/1.1\r\n\r\n",
        b"GET /kernel\0 HTTP/1.1\r\n\r\n",
        b"GET ../secret HTTP/1.1\r\n\r\n",
    ] {
        let mut c = Client::connect(server.addr);
        c.send(raw);
        let r = c.response("GET");
        assert!(
            r.status == 404 || r.status == 400,
            "{} answered {}",
            String::from_utf8_lossy(raw).escape_debug(),
            r.status
        );
    }
    assert_eq!(fetch(server.addr, "GET", "/kernel", "").body, b"kernel");
}
