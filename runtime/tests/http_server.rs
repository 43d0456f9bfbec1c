//! The HTTP server over a real socket on loopback: headers, HEAD, Range, 404, and a reload in
//! the middle of a download.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use netboot_manifest::{sha256_hex, DhcpMode, FileEntry, Manifest, Server, Source, FORMAT_VERSION};
use netboot_runtime::http::{HttpConfig, HttpServer};
use netboot_runtime::Snapshot;
use tokio::sync::watch;

fn snapshot(files: &[(&str, Vec<u8>)]) -> Arc<Snapshot> {
    let mut entries = BTreeMap::new();
    let mut generated = BTreeMap::new();
    for (route, bytes) in files {
        generated.insert(route.to_string(), bytes.clone());
        entries.insert(
            route.to_string(),
            FileEntry {
                size: bytes.len() as u64,
                sha256: sha256_hex(bytes),
                source: Source::Generated {
                    file: route.to_string(),
                },
                tftp: false,
                http: true,
            },
        );
    }
    let manifest = Manifest {
        format: FORMAT_VERSION,
        compiler: "test".into(),
        fleet_sha256: String::new(),
        server: Server {
            interface: None,
            address: None,
            http_port: 0,
            tftp_port: 0,
            dhcp: DhcpMode::Off,
        },
        dhcp: BTreeMap::new(),
        hosts: BTreeMap::new(),
        artifact_root: ".".into(),
        files: entries,
    };
    Arc::new(Snapshot::from_compiled(
        manifest,
        &generated,
        std::path::Path::new("."),
    ))
}

struct Reply {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

fn send(addr: SocketAddr, request: &str) -> (BufReader<TcpStream>, u16, BTreeMap<String, String>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status: u16 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut headers = BTreeMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').unwrap();
        headers.insert(k.to_ascii_lowercase(), v.trim().to_string());
    }
    (reader, status, headers)
}

fn fetch(addr: SocketAddr, method: &str, path: &str, extra: &str) -> Reply {
    let req = format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{extra}\r\n");
    let (mut reader, status, headers) = send(addr, &req);
    let mut body = Vec::new();
    if method != "HEAD" {
        reader.read_to_end(&mut body).unwrap();
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn start(snap: Arc<Snapshot>) -> (HttpServer, SocketAddr, watch::Sender<Arc<Snapshot>>) {
    let (tx, rx) = watch::channel(snap);
    let server = HttpServer::start(
        &HttpConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            workers: 4,
        },
        rx,
    )
    .unwrap();
    let addr = server.local_addr().unwrap();
    (server, addr, tx)
}

#[test]
fn get_head_range_and_missing() {
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let (server, addr, _tx) = start(snapshot(&[
        ("boot.ipxe", b"#!ipxe\necho hi\n".to_vec()),
        ("big.bin", big.clone()),
    ]));

    let r = fetch(addr, "GET", "/boot.ipxe", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"#!ipxe\necho hi\n");
    assert_eq!(r.headers["content-length"], "15");
    assert_eq!(
        r.headers["etag"],
        format!("\"{}\"", sha256_hex(b"#!ipxe\necho hi\n"))
    );

    // Large bodies keep Content-Length (no chunking): firmware shows progress from it.
    let r = fetch(addr, "GET", "/big.bin", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-length"], "200000");
    assert!(!r.headers.contains_key("transfer-encoding"));
    assert_eq!(sha256_hex(&r.body), sha256_hex(&big));

    let r = fetch(addr, "HEAD", "/big.bin", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-length"], "200000");

    let r = fetch(addr, "GET", "/big.bin", "Range: bytes=1000-1999\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(r.headers["content-range"], "bytes 1000-1999/200000");
    assert_eq!(r.body, &big[1000..2000]);

    let r = fetch(addr, "GET", "/big.bin", "Range: bytes=300000-\r\n");
    assert_eq!(r.status, 416);
    assert_eq!(r.headers["content-range"], "bytes */200000");

    for path in ["/nope", "/../big.bin", "/%2e%2e/big.bin", "/"] {
        assert_eq!(fetch(addr, "GET", path, "").status, 404, "{path}");
    }
    assert_eq!(fetch(addr, "POST", "/boot.ipxe", "").status, 405);
    server.shutdown();
}

#[test]
fn a_download_in_flight_keeps_its_bytes_across_a_reload() {
    let old: Vec<u8> = vec![b'o'; 8 << 20];
    let new: Vec<u8> = vec![b'n'; 8 << 20];
    let (server, addr, tx) = start(snapshot(&[("kernel", old.clone())]));

    let req = "GET /kernel HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let (mut reader, status, _) = send(addr, req);
    assert_eq!(status, 200);
    let mut first = vec![0u8; 4096];
    reader.read_exact(&mut first).unwrap();

    tx.send(snapshot(&[("kernel", new.clone())])).unwrap();

    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    first.extend(rest);
    assert_eq!(first.len(), old.len());
    assert_eq!(sha256_hex(&first), sha256_hex(&old));

    let r = fetch(addr, "GET", "/kernel", "");
    assert_eq!(sha256_hex(&r.body), sha256_hex(&new));
    server.shutdown();
}
