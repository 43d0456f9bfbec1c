//! Fuzz harness for the HTTP request path: the head parser (`request::parse_head`), the
//! routing decision (`route::route`, `route::request_path`) over a snapshot, and the response
//! head formatter.
//!
//! Shared by the `http_head` and `http_route` fuzz targets and `runtime/tests/fuzz_corpus.rs`.
//! The rule that matters most: a file is only ever answered for a target that decodes to
//! exactly a manifest key served over HTTP and in service; nothing outside the manifest.

use std::collections::BTreeMap;
use std::path::Path;

use netboot_manifest::{sha256_hex, FileEntry, Manifest, Protocol, Source};
use netboot_runtime::http::request::{parse_head, Parsed, MAX_HEAD};
use netboot_runtime::http::response::{head, refusal};
use netboot_runtime::http::route::{request_path, route, Answer, Request};
use netboot_runtime::Snapshot;

/// Built once: a snapshot with names that need percent-encoding, a TFTP-only route and a
/// route out of service.
pub struct Harness {
    snapshot: Snapshot,
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

impl Harness {
    pub fn new() -> Harness {
        let mut generated = BTreeMap::new();
        let mut files = BTreeMap::new();
        for (route, len, http) in [
            ("boot.ipxe", 23usize, true),
            ("hosts/52-54-00-00-00-11.ipxe", 7, true),
            ("a b.txt", 6, true),
            ("100%.cfg", 4, true),
            ("ünï.bin", 3, true),
            ("empty", 0, true),
            ("debian/linux", 5000, true),
            ("undionly.kpxe", 100, false),
        ] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 13 % 251) as u8).collect();
            files.insert(
                route.to_string(),
                FileEntry {
                    size: len as u64,
                    sha256: sha256_hex(&bytes),
                    source: Source::Generated { file: route.into() },
                    tftp: true,
                    http,
                },
            );
            generated.insert(route.to_string(), bytes);
        }
        files.insert(
            "missing.iso".to_string(),
            FileEntry {
                size: 3,
                sha256: sha256_hex(b"abc"),
                source: Source::Artifact {
                    path: "netboot-fuzz-no-such-file".into(),
                },
                tftp: true,
                http: true,
            },
        );
        let manifest = Manifest::serving(files, "/nonexistent-netboot-fuzz");
        let snapshot = Snapshot::from_compiled(manifest, &generated, Path::new("/"));
        Harness { snapshot }
    }

    /// Raw bytes from a client: parse heads the way a connection does (pipelined ones one
    /// after another), then route and format each.
    pub fn head(&self, data: &[u8]) {
        let mut rest = data;
        loop {
            match parse_head(rest) {
                Ok(Parsed::Partial) => {
                    assert!(
                        rest.len() < MAX_HEAD,
                        "a head over the bound is still Partial"
                    );
                    return;
                }
                Err(e) => {
                    assert!(matches!(e.status(), 400 | 431 | 505));
                    check_response(&refusal(e.status(), e.reason()), e.status(), false);
                    return;
                }
                Ok(Parsed::Complete(h)) => {
                    assert!(h.head_len > 0 && h.head_len <= rest.len().min(MAX_HEAD));
                    // The same head, received exactly, parses the same.
                    assert_eq!(
                        parse_head(&rest[..h.head_len]),
                        Ok(Parsed::Complete(h.clone()))
                    );
                    let req = Request {
                        method: &h.method,
                        target: &h.target,
                        range: h.range.as_deref(),
                        if_none_match: h.if_none_match.as_deref(),
                        if_range: h.if_range.as_deref(),
                    };
                    self.decide(&req, h.keep_alive);
                    rest = &rest[h.head_len..];
                }
            }
        }
    }

    /// Fields separated by `\n`: method, target, then optionally Range, If-None-Match and
    /// If-Range.
    pub fn route(&self, data: &[u8]) {
        let text = String::from_utf8_lossy(data);
        let mut fields = text.splitn(5, '\n');
        let method = fields.next().unwrap_or_default();
        let target = fields.next().unwrap_or_default();
        let range = fields.next();
        let if_none_match = fields.next();
        let if_range = fields.next();
        let req = Request {
            method,
            target,
            range,
            if_none_match,
            if_range,
        };
        self.decide(&req, data.first().is_some_and(|b| b & 1 == 1));
    }

    fn decide(&self, req: &Request<'_>, keep_alive: bool) {
        let answer = route(req, &self.snapshot);
        let manifest = self.snapshot.manifest();
        let key = request_path(req.target);
        if let Some(k) = &key {
            assert!(!k.contains('\0'), "a decoded path holds NUL");
        }
        let servable = key.as_ref().filter(|k| {
            manifest.files.get(k.as_str()).is_some_and(|f| f.http)
                && !self.snapshot.broken().contains_key(k.as_str())
        });
        let method_ok = req.method == "GET" || req.method == "HEAD";
        match &answer {
            Answer::File {
                path,
                body,
                start,
                len,
                partial,
                etag,
                ..
            } => {
                assert!(method_ok);
                assert_eq!(
                    Some(path),
                    servable,
                    "target {:?} answered with {path:?}, not the manifest route it names",
                    req.target
                );
                let entry = &manifest.files[path];
                assert_eq!(body.len(), entry.size);
                assert_eq!(etag, &format!("\"{}\"", entry.sha256));
                let served = self
                    .snapshot
                    .open(path, Protocol::Http)
                    .expect("served route opens");
                assert_eq!(served.len(), body.len());
                let size = body.len();
                if *partial {
                    assert!(*len >= 1 && start.checked_add(*len).is_some_and(|e| e <= size));
                    assert!(req.range.is_some());
                    // A resume is honoured only for the file the client has part of.
                    if let Some(if_range) = req.if_range {
                        assert!(if_range.contains(etag.as_str()));
                    }
                } else {
                    assert_eq!((*start, *len), (0, size));
                }
                let mut bytes = vec![0; *len as usize];
                assert_eq!(body.read_at(*start, &mut bytes).ok(), Some(bytes.len()));
            }
            Answer::NotModified { etag } => {
                assert!(method_ok && servable.is_some() && req.if_none_match.is_some());
                let entry = &manifest.files[servable.unwrap().as_str()];
                assert_eq!(etag, &format!("\"{}\"", entry.sha256));
            }
            Answer::Unsatisfiable { size } => {
                assert!(method_ok && servable.is_some() && req.range.is_some());
                assert_eq!(*size, manifest.files[servable.unwrap().as_str()].size);
            }
            Answer::Error { status, .. } => {
                assert!(matches!(status, 400 | 404 | 405));
                if method_ok {
                    assert!(
                        servable.is_none(),
                        "a servable route {servable:?} was refused with {status}"
                    );
                }
            }
        }
        let head_only = req.method == "HEAD";
        let h = head(&answer, keep_alive, head_only);
        if head_only {
            assert_eq!(h.body_len, 0);
            assert!(h.text.is_none());
        }
        if let Some(text) = &h.text {
            assert_eq!(text.len() as u64, h.body_len);
        }
        let status = answer.status();
        let length = check_response(&h.bytes, status, true);
        match (&answer, head_only) {
            (Answer::NotModified { .. }, _) => assert_eq!(h.body_len, 0),
            (_, true) => {}
            _ => assert_eq!(
                length,
                Some(h.body_len),
                "Content-Length differs from the body"
            ),
        }
    }
}

/// `bytes` is a well-formed response head (plus, for refusals, its body) with `status`;
/// returns its Content-Length.
fn check_response(bytes: &[u8], status: u16, head_only: bool) -> Option<u64> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    let parsed = resp.parse(bytes).expect("our response head parses");
    let httparse::Status::Complete(n) = parsed else {
        panic!("our response head is incomplete");
    };
    if head_only {
        assert_eq!(n, bytes.len(), "bytes after the head");
    }
    assert_eq!(resp.code, Some(status));
    let length = resp
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .map(|h| {
            std::str::from_utf8(h.value)
                .expect("ASCII length")
                .parse::<u64>()
                .expect("numeric length")
        });
    if !head_only {
        assert_eq!(length, Some((bytes.len() - n) as u64));
    }
    length
}
