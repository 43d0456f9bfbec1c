//! HTTP on loopback: the runtime's server over a hand-made manifest, and a plain blocking
//! HTTP/1.1 client that reads exactly what Content-Length announces, so keep-alive and
//! pipelining are visible.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use netboot_runtime::http::{HttpConfig, HttpServer};
use netboot_runtime::Snapshot;

pub use crate::loopback::Running;
pub use crate::served_files::{pattern, File};

/// A snapshot serving `files` over HTTP only; disk files are written under `dir`.
pub fn snapshot(files: &[File], dir: &Path) -> Arc<Snapshot> {
    crate::served_files::snapshot(files, dir, crate::served_files::Over::Http)
}

/// An HTTP server on 127.0.0.1 with its own runtime; dropping it stops everything.
pub fn start(snap: Arc<Snapshot>) -> Running {
    start_with(snap, HttpConfig::default())
}

pub fn start_with(snap: Arc<Snapshot>, mut config: HttpConfig) -> Running {
    config.bind = "127.0.0.1:0".parse().unwrap();
    Running::spawn(snap, |rx| async move {
        let server = HttpServer::bind(&config, rx)
            .await
            .expect("bind HTTP on loopback");
        let addr = server.local_addr().unwrap();
        (addr, server.run())
    })
}

/// Raises this process's descriptor limit so a test can hold `n` sockets on each side.
pub fn allow_descriptors(n: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on a valid struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < n {
            limit.rlim_cur = n.min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// One response as read off the wire.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

/// A client connection that may carry several requests.
pub struct Client {
    pub reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Client {
            reader: BufReader::new(stream),
        }
    }

    pub fn send(&mut self, raw: &[u8]) {
        self.reader.get_mut().write_all(raw).unwrap();
    }

    /// Sends a request; `extra` are further header lines, each ending in CRLF.
    pub fn request(&mut self, method: &str, target: &str, extra: &str) {
        let req = format!("{method} {target} HTTP/1.1\r\nHost: t\r\n{extra}\r\n");
        self.send(req.as_bytes());
    }

    /// Reads a status line and headers.
    pub fn read_head(&mut self) -> (u16, BTreeMap<String, String>) {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .unwrap_or_else(|| panic!("no status line: {line:?}"))
            .parse()
            .unwrap();
        let mut headers = BTreeMap::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').unwrap();
            headers.insert(k.to_ascii_lowercase(), v.trim().to_string());
        }
        (status, headers)
    }

    /// Reads one whole response to a request made with `method`, by its Content-Length.
    pub fn response(&mut self, method: &str) -> Reply {
        let (status, headers) = self.read_head();
        let len: usize = headers
            .get("content-length")
            .map(|v| v.parse().unwrap())
            .unwrap_or(0);
        let mut body = vec![0u8; if method == "HEAD" { 0 } else { len }];
        self.reader.read_exact(&mut body).unwrap();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// True once the server has closed: EOF (or a reset) with no further bytes.
    pub fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => rest.is_empty(),
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
}

/// One request on a fresh connection with `Connection: close`.
pub fn fetch(addr: SocketAddr, method: &str, target: &str, extra: &str) -> Reply {
    let mut c = Client::connect(addr);
    c.request(method, target, &format!("Connection: close\r\n{extra}"));
    let reply = c.response(method);
    assert!(
        c.closed(),
        "server kept the connection open after Connection: close"
    );
    reply
}
