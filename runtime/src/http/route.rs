//! What to answer an HTTP request with: a pure function of the request line, three headers and
//! the snapshot, so every rule is a unit test and the server loop only copies bytes.

use netboot_manifest::Protocol;

use super::conditional::{none_match, range_applies};
use super::range::{parse_range, RangeRequest};
use crate::body::Body;
use crate::snapshot::Snapshot;

/// The parts of a request that decide the answer.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The request target as sent (`/boot.ipxe?x=1`).
    pub target: &'a str,
    pub range: Option<&'a str>,
    pub if_none_match: Option<&'a str>,
    pub if_range: Option<&'a str>,
}

/// The decided answer.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Bytes `start .. start + len` of `body` (200 when that is the whole file, else 206).
    File {
        path: String,
        body: Body,
        start: u64,
        len: u64,
        partial: bool,
        etag: String,
        content_type: &'static str,
    },
    /// 304: the client's copy (by ETag) is current.
    NotModified { etag: String },
    /// 416 for a range past the end of a file of `size` bytes.
    Unsatisfiable { size: u64 },
    /// Any other status with a short plain-text reason.
    Error { status: u16, reason: &'static str },
}

impl Answer {
    pub fn status(&self) -> u16 {
        match self {
            Answer::File { partial: true, .. } => 206,
            Answer::File { .. } => 200,
            Answer::NotModified { .. } => 304,
            Answer::Unsatisfiable { .. } => 416,
            Answer::Error { status, .. } => *status,
        }
    }
}

/// Decides the answer to `req` from `snapshot`.
pub fn route(req: &Request<'_>, snapshot: &Snapshot) -> Answer {
    if req.method != "GET" && req.method != "HEAD" {
        return Answer::Error {
            status: 405,
            reason: "only GET and HEAD are served",
        };
    }
    let Some(path) = request_path(req.target) else {
        return Answer::Error {
            status: 400,
            reason: "malformed request target",
        };
    };
    let (Some(body), Some(entry)) = (snapshot.open(&path, Protocol::Http), snapshot.entry(&path))
    else {
        return Answer::Error {
            status: 404,
            reason: "not in the manifest",
        };
    };
    let etag = format!("\"{}\"", entry.sha256);
    // RFC 9110 §13.2.2: If-None-Match first, then Range as If-Range allows.
    if req.if_none_match.is_some_and(|h| none_match(h, &etag)) {
        return Answer::NotModified { etag };
    }
    let range = req.range.filter(|_| range_applies(req.if_range, &etag));
    let size = body.len();
    let (start, len, partial) = match parse_range(range, size) {
        RangeRequest::Whole => (0, size, false),
        RangeRequest::Part { start, end } => (start, end - start + 1, true),
        RangeRequest::Unsatisfiable => return Answer::Unsatisfiable { size },
    };
    Answer::File {
        content_type: content_type(&path),
        path,
        body,
        start,
        len,
        partial,
        etag,
    }
}

/// The manifest key a request target names: the path without query, its leading `/` removed,
/// percent-decoded once. `None` for anything that is not a plain origin-form path or decodes
/// to something no manifest key can be (NUL, invalid UTF-8). No `..` or `//` folding happens:
/// the result is only ever compared verbatim with manifest keys, so a traversal attempt simply
/// names no file.
pub fn request_path(target: &str) -> Option<String> {
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let path = path.strip_prefix('/')?;
    let decoded = percent_decode(path)?;
    if decoded.contains('\0') {
        return None;
    }
    Some(decoded)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("ipxe") | Some("txt") | Some("cfg") | Some("ks") | Some("sh") => {
            "text/plain; charset=utf-8"
        }
        Some("json") => "application/json",
        Some("iso") => "application/x-iso9660-image",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netboot_manifest::{sha256_hex, FileEntry, Manifest, Source};
    use std::collections::BTreeMap;

    fn snapshot() -> Snapshot {
        let mut files = BTreeMap::new();
        let mut generated = BTreeMap::new();
        for (route, bytes, http) in [
            ("boot.ipxe", &b"#!ipxe\nchain menu.ipxe\n"[..], true),
            ("hosts/52-54-00-00-00-11.ipxe", b"#!ipxe\n", true),
            ("a b.txt", b"spaced", true),
            ("tftp-only.bin", b"x", false),
        ] {
            generated.insert(route.to_string(), bytes.to_vec());
            files.insert(
                route.to_string(),
                FileEntry {
                    size: bytes.len() as u64,
                    sha256: sha256_hex(bytes),
                    source: Source::Generated { file: route.into() },
                    tftp: true,
                    http,
                },
            );
        }
        let manifest = Manifest::serving(files, ".");
        Snapshot::from_compiled(manifest, &generated, std::path::Path::new("."))
    }

    fn get(target: &str) -> Request<'_> {
        Request {
            method: "GET",
            target,
            range: None,
            if_none_match: None,
            if_range: None,
        }
    }

    #[test]
    fn serves_listed_paths_with_etag() {
        let snap = snapshot();
        match route(&get("/boot.ipxe?mac=1"), &snap) {
            Answer::File {
                path,
                len,
                partial,
                etag,
                content_type,
                ..
            } => {
                assert_eq!(path, "boot.ipxe");
                assert_eq!(len, 23);
                assert!(!partial);
                assert_eq!(
                    etag,
                    format!("\"{}\"", sha256_hex(b"#!ipxe\nchain menu.ipxe\n"))
                );
                assert!(content_type.starts_with("text/plain"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(route(&get("/a%20b.txt"), &snap).status(), 200);
        assert_eq!(
            route(&get("/hosts/52-54-00-00-00-11.ipxe"), &snap).status(),
            200
        );
    }

    #[test]
    fn nothing_outside_the_manifest_is_served() {
        let snap = snapshot();
        for target in [
            "/",
            "/manifest.json",
            "/../boot.ipxe",
            "/hosts/../boot.ipxe",
            "//boot.ipxe",
            "/%2e%2e/boot.ipxe",
            "/%252e%252e/boot.ipxe",
            "/hosts%2f..%2fboot.ipxe",
            "/..\\boot.ipxe",
            "/boot.ipxe%00.png",
            "/etc/passwd",
            "/tftp-only.bin",
            "boot.ipxe",
            "http://evil/boot.ipxe",
            "/%zz",
            "/%c3%28",
        ] {
            let status = route(&get(target), &snap).status();
            assert!(status == 404 || status == 400, "{target} answered {status}");
        }
    }

    #[test]
    fn ranges_and_conditional_requests() {
        let snap = snapshot();
        let mut req = get("/boot.ipxe");
        req.range = Some("bytes=7-11");
        match route(&req, &snap) {
            Answer::File {
                start,
                len,
                partial,
                ..
            } => assert_eq!((start, len, partial), (7, 5, true)),
            other => panic!("unexpected {other:?}"),
        }
        req.range = Some("bytes=23-");
        assert_eq!(route(&req, &snap).status(), 416);
        req.range = None;
        let etag = format!("\"{}\"", sha256_hex(b"#!ipxe\nchain menu.ipxe\n"));
        req.if_none_match = Some(&etag);
        assert_eq!(route(&req, &snap).status(), 304);
        req.if_none_match = Some("\"other\"");
        assert_eq!(route(&req, &snap).status(), 200);
        let weak = format!("W/{etag}");
        req.if_none_match = Some(&weak);
        assert_eq!(route(&req, &snap).status(), 304);
    }

    #[test]
    fn if_range_lets_a_range_through_only_for_the_current_etag() {
        let snap = snapshot();
        let etag = format!("\"{}\"", sha256_hex(b"#!ipxe\nchain menu.ipxe\n"));
        let mut req = get("/boot.ipxe");
        req.range = Some("bytes=7-11");
        req.if_range = Some(&etag);
        assert_eq!(route(&req, &snap).status(), 206);
        for stale in ["\"other\"", "Tue, 01 Dec 2026 00:00:00 GMT"] {
            req.if_range = Some(stale);
            match route(&req, &snap) {
                Answer::File {
                    start,
                    len,
                    partial,
                    ..
                } => assert_eq!((start, len, partial), (0, 23, false), "{stale}"),
                other => panic!("unexpected {other:?}"),
            }
        }
        // A stale If-Range ignores even a range past the end: the whole file, not 416.
        req.range = Some("bytes=99-");
        assert_eq!(route(&req, &snap).status(), 200);
        req.if_range = Some(&etag);
        assert_eq!(route(&req, &snap).status(), 416);
    }

    #[test]
    fn only_get_and_head() {
        let snap = snapshot();
        let mut req = get("/boot.ipxe");
        req.method = "HEAD";
        assert_eq!(route(&req, &snap).status(), 200);
        for m in ["POST", "PUT", "DELETE", "OPTIONS", "get"] {
            req.method = m;
            assert_eq!(route(&req, &snap).status(), 405, "{m}");
        }
    }
}
