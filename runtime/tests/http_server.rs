//! The HTTP server over a real socket on loopback: headers, HEAD, Range, ETag, 404, keep-alive,
//! artifacts through sendfile, and reloads in the middle of downloads.

use std::io::Read;

use netboot_manifest::sha256_hex;
use netboot_test_support::http::{fetch, pattern, snapshot, start, Client, File};

#[test]
fn get_head_range_and_missing() {
    let dir = tempfile::tempdir().unwrap();
    let big = pattern(200_000, 1);
    let server = start(snapshot(
        &[
            File::Memory("boot.ipxe", b"#!ipxe\necho hi\n".to_vec()),
            File::Memory("big.bin", big.clone()),
            File::Disk("disk.bin", big.clone()),
        ],
        dir.path(),
    ));
    let addr = server.addr;

    let r = fetch(addr, "GET", "/boot.ipxe", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"#!ipxe\necho hi\n");
    assert_eq!(r.headers["content-length"], "15");
    assert_eq!(r.headers["connection"], "close");
    assert_eq!(
        r.headers["etag"],
        format!("\"{}\"", sha256_hex(b"#!ipxe\necho hi\n"))
    );
    assert!(r.headers["content-type"].starts_with("text/plain"));

    for path in ["/big.bin", "/disk.bin"] {
        // Large bodies keep Content-Length (no chunking): firmware shows progress from it.
        let r = fetch(addr, "GET", path, "");
        assert_eq!(r.status, 200);
        assert_eq!(r.headers["content-length"], "200000");
        assert!(!r.headers.contains_key("transfer-encoding"));
        assert_eq!(sha256_hex(&r.body), sha256_hex(&big), "{path}");

        let r = fetch(addr, "HEAD", path, "");
        assert_eq!(r.status, 200);
        assert_eq!(r.headers["content-length"], "200000");
        assert_eq!(r.headers["accept-ranges"], "bytes");

        let r = fetch(addr, "GET", path, "Range: bytes=1000-1999\r\n");
        assert_eq!(r.status, 206);
        assert_eq!(r.headers["content-range"], "bytes 1000-1999/200000");
        assert_eq!(r.headers["content-length"], "1000");
        assert_eq!(r.body, &big[1000..2000]);

        let r = fetch(addr, "GET", path, "Range: bytes=-10\r\n");
        assert_eq!(r.status, 206);
        assert_eq!(r.body, &big[199_990..]);

        let r = fetch(addr, "GET", path, "Range: bytes=300000-\r\n");
        assert_eq!(r.status, 416);
        assert_eq!(r.headers["content-range"], "bytes */200000");
        assert!(r.body.is_empty());
    }

    for path in ["/nope", "/../big.bin", "/%2e%2e/big.bin", "/"] {
        assert_eq!(fetch(addr, "GET", path, "").status, 404, "{path}");
    }
    let r = fetch(addr, "POST", "/boot.ipxe", "");
    assert_eq!(r.status, 405);
    assert_eq!(r.headers["allow"], "GET, HEAD");
}

#[test]
fn etag_and_if_none_match() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = pattern(50_000, 2);
    let server = start(snapshot(
        &[File::Disk("kernel", kernel.clone())],
        dir.path(),
    ));
    let etag = format!("\"{}\"", sha256_hex(&kernel));

    let mut c = Client::connect(server.addr);
    c.request("GET", "/kernel", "");
    let r = c.response("GET");
    assert_eq!(r.headers["etag"], etag);

    c.request("GET", "/kernel", &format!("If-None-Match: {etag}\r\n"));
    let r = c.response("GET");
    assert_eq!(r.status, 304);
    assert_eq!(r.headers["etag"], etag);
    assert!(!r.headers.contains_key("content-length"));

    c.request("GET", "/kernel", "If-None-Match: \"stale\", *\r\n");
    assert_eq!(c.response("GET").status, 304);
    c.request("GET", "/kernel", "If-None-Match: \"stale\"\r\n");
    let r = c.response("GET");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, kernel);
}

/// RFC 9110 §13.1.5: a resume whose validator is not the current strong ETag gets the whole
/// file (200), never a slice of a different file; §13.1.2: If-None-Match compares weakly.
#[test]
fn if_range_and_weak_if_none_match() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = pattern(50_000, 2);
    let server = start(snapshot(
        &[File::Disk("kernel", kernel.clone())],
        dir.path(),
    ));
    let etag = format!("\"{}\"", sha256_hex(&kernel));
    let mut c = Client::connect(server.addr);

    c.request(
        "GET",
        "/kernel",
        &format!("Range: bytes=100-199\r\nIf-Range: {etag}\r\n"),
    );
    let r = c.response("GET");
    assert_eq!((r.status, &r.body[..]), (206, &kernel[100..200]));
    // No Last-Modified is sent, so no date can match it.
    assert!(!r.headers.contains_key("last-modified"));

    for stale in [
        "\"stale\"".to_string(),
        format!("W/{etag}"),
        "Tue, 01 Dec 2026 00:00:00 GMT".to_string(),
    ] {
        c.request(
            "GET",
            "/kernel",
            &format!("Range: bytes=100-199\r\nIf-Range: {stale}\r\n"),
        );
        let r = c.response("GET");
        assert_eq!(r.status, 200, "If-Range: {stale}");
        assert!(!r.headers.contains_key("content-range"));
        assert!(r.body == kernel, "If-Range: {stale}");
    }

    c.request("GET", "/kernel", &format!("If-None-Match: W/{etag}\r\n"));
    let r = c.response("GET");
    assert_eq!(r.status, 304);
    assert_eq!(r.headers["etag"], etag);
}

#[test]
fn many_requests_on_one_connection() {
    let dir = tempfile::tempdir().unwrap();
    let script = b"#!ipxe\nkernel /k\nboot\n".to_vec();
    let kernel = pattern(70_000, 3);
    let server = start(snapshot(
        &[
            File::Memory("boot.ipxe", script.clone()),
            File::Disk("k", kernel.clone()),
        ],
        dir.path(),
    ));
    let mut c = Client::connect(server.addr);
    for i in 0..2000 {
        match i % 5 {
            0 => {
                c.request("GET", "/boot.ipxe", "");
                let r = c.response("GET");
                assert_eq!((r.status, &r.body), (200, &script));
                assert_eq!(r.headers["connection"], "keep-alive");
            }
            1 => {
                // HEAD sends no body: the next response must start right after the head.
                c.request("HEAD", "/k", "");
                let r = c.response("HEAD");
                assert_eq!(r.status, 200);
                assert_eq!(r.headers["content-length"], "70000");
            }
            2 => {
                c.request("GET", "/k", "Range: bytes=100-199\r\n");
                let r = c.response("GET");
                assert_eq!((r.status, &r.body[..]), (206, &kernel[100..200]));
            }
            3 => {
                c.request("GET", "/missing", "");
                let r = c.response("GET");
                assert_eq!(r.status, 404);
                assert_eq!(r.body, b"404 not in the manifest\n");
            }
            _ => {
                c.request("GET", "/k", "");
                let r = c.response("GET");
                assert_eq!(sha256_hex(&r.body), sha256_hex(&kernel), "request {i}");
            }
        }
    }

    // Pipelined: three requests in one write, answered in order.
    c.send(
        b"GET /boot.ipxe HTTP/1.1\r\nHost: t\r\n\r\nHEAD /k HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /k HTTP/1.1\r\nHost: t\r\nRange: bytes=0-9\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(c.response("GET").body, script);
    assert_eq!(c.response("HEAD").status, 200);
    let last = c.response("GET");
    assert_eq!((last.status, &last.body[..]), (206, &kernel[..10]));
    assert_eq!(last.headers["connection"], "close");
    assert!(c.closed());
}

#[test]
fn http_1_0_closes_unless_asked_to_keep_alive() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(snapshot(
        &[File::Memory("a.txt", b"hello".to_vec())],
        dir.path(),
    ));
    let mut c = Client::connect(server.addr);
    c.send(b"GET /a.txt HTTP/1.0\r\n\r\n");
    let r = c.response("GET");
    assert_eq!((r.status, &r.body[..]), (200, &b"hello"[..]));
    assert!(c.closed());

    let mut c = Client::connect(server.addr);
    c.send(b"GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(c.response("GET").headers["connection"], "keep-alive");
    c.send(b"GET /a.txt HTTP/1.0\r\n\r\n");
    assert_eq!(c.response("GET").body, b"hello");
    assert!(c.closed());
}

#[test]
fn a_large_artifact_goes_out_whole_through_sendfile() {
    let dir = tempfile::tempdir().unwrap();
    let data = pattern(64 << 20, 4);
    let want = sha256_hex(&data);
    let server = start(snapshot(&[File::Disk("big.img", data)], dir.path()));
    // Several at once, so sendfile calls of different downloads interleave on one descriptor.
    let fetches: Vec<_> = (0..4)
        .map(|_| {
            let addr = server.addr;
            std::thread::spawn(move || fetch(addr, "GET", "/big.img", ""))
        })
        .collect();
    for f in fetches {
        let r = f.join().unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body.len(), 64 << 20);
        assert_eq!(sha256_hex(&r.body), want);
    }
    let r = fetch(server.addr, "GET", "/big.img", "Range: bytes=33554432-\r\n");
    assert_eq!(r.body.len(), 32 << 20);
}

#[test]
fn a_download_in_flight_keeps_its_bytes_across_a_reload() {
    let (old_dir, new_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let old = pattern(8 << 20, 5);
    let new = pattern(8 << 20, 6);
    let server = start(snapshot(
        &[
            File::Memory("kernel", old.clone()),
            File::Disk("initrd", old.clone()),
        ],
        old_dir.path(),
    ));

    let mut clients: Vec<Client> = ["/kernel", "/initrd"]
        .iter()
        .map(|path| {
            let mut c = Client::connect(server.addr);
            c.request("GET", path, "Connection: close\r\n");
            let (status, _) = c.read_head();
            assert_eq!(status, 200);
            let mut first = vec![0u8; 4096];
            c.reader.read_exact(&mut first).unwrap();
            assert_eq!(first, old[..4096]);
            c
        })
        .collect();

    // The new snapshot's artifact lives elsewhere; the old file is even removed from disk.
    server
        .snapshots
        .send(snapshot(
            &[
                File::Memory("kernel", new.clone()),
                File::Disk("initrd", new.clone()),
            ],
            new_dir.path(),
        ))
        .unwrap();
    std::fs::remove_file(old_dir.path().join("initrd")).unwrap();

    for c in &mut clients {
        let mut rest = Vec::new();
        c.reader.read_to_end(&mut rest).unwrap();
        assert_eq!(rest.len() + 4096, old.len());
        assert_eq!(sha256_hex(&rest), sha256_hex(&old[4096..]));
    }
    for path in ["/kernel", "/initrd"] {
        let r = fetch(server.addr, "GET", path, "");
        assert_eq!(sha256_hex(&r.body), sha256_hex(&new), "{path}");
    }
}
