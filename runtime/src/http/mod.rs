//! HTTP: scripts from memory and artifacts from disk, exactly the manifest's HTTP routes, with
//! HEAD, single Range, Content-Length and an ETag from the sha256.
//!
//! [`route`](route::route) decides; this module only moves bytes. tiny_http parses requests
//! on its own threads and hands them to a fixed pool of workers here, each of which takes the
//! current snapshot when a request arrives and keeps it until the response is written.

pub mod range;
pub mod route;

use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use tiny_http::{Header, Response, Server, StatusCode};
use tokio::sync::watch;

use crate::body::Body;
use crate::snapshot::Snapshot;
use route::{Answer, Request};

/// Listening settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub bind: SocketAddr,
    /// Requests answered at once; a slow download occupies one worker for its whole length.
    pub workers: usize,
}

/// A running HTTP server; dropping it does not stop it, [`HttpServer::shutdown`] does.
pub struct HttpServer {
    server: Arc<Server>,
    workers: Vec<JoinHandle<()>>,
}

impl HttpServer {
    /// Binds and starts answering from whatever snapshot `snapshots` holds at each request.
    pub fn start(
        config: &HttpConfig,
        snapshots: watch::Receiver<Arc<Snapshot>>,
    ) -> io::Result<HttpServer> {
        let server = Server::http(config.bind).map_err(|e| {
            io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("cannot listen for HTTP on {}: {e}", config.bind),
            )
        })?;
        let server = Arc::new(server);
        let workers = (0..config.workers.max(1))
            .map(|i| {
                let server = Arc::clone(&server);
                let snapshots = snapshots.clone();
                std::thread::Builder::new()
                    .name(format!("http-{i}"))
                    .spawn(move || worker(&server, &snapshots))
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(HttpServer { server, workers })
    }

    /// The bound address (useful when binding port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.server_addr().to_ip()
    }

    /// Stops accepting and waits for the workers to finish their current response.
    pub fn shutdown(self) {
        for _ in &self.workers {
            self.server.unblock();
        }
        for w in self.workers {
            let _ = w.join();
        }
    }
}

fn worker(server: &Server, snapshots: &watch::Receiver<Arc<Snapshot>>) {
    while let Ok(request) = server.recv() {
        let started = Instant::now();
        let snapshot = Arc::clone(&snapshots.borrow());
        let peer = request.remote_addr().copied();
        let header = |name: &str| {
            request
                .headers()
                .iter()
                .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
                .map(|h| h.value.as_str().to_owned())
        };
        let (range, inm) = (header("Range"), header("If-None-Match"));
        let method = request.method().as_str().to_owned();
        let target = request.url().to_owned();
        let answer = route::route(
            &Request {
                method: &method,
                target: &target,
                range: range.as_deref(),
                if_none_match: inm.as_deref(),
            },
            &snapshot,
        );
        // The answer holds its own Body; the snapshot may be replaced from here on.
        drop(snapshot);
        let status = answer.status();
        let (path, sent) = match &answer {
            Answer::File { path, len, .. } if method == "GET" => (Some(path.clone()), *len),
            Answer::File { path, .. } => (Some(path.clone()), 0),
            _ => (None, 0),
        };
        let result = respond(request, answer);
        let millis = started.elapsed().as_secs_f64() * 1000.0;
        let peer = peer.map(|p| p.ip().to_string()).unwrap_or_default();
        match (result, path) {
            (Ok(()), Some(path)) => tracing::info!(
                target: "netboot::http",
                ip = %peer, method = %method, file = %path, status, bytes = sent, ms = millis,
                "http file done"
            ),
            (Ok(()), None) => tracing::info!(
                target: "netboot::http",
                ip = %peer, method = %method, target = %target, status,
                "http refused"
            ),
            (Err(e), _) => tracing::warn!(
                target: "netboot::http",
                ip = %peer, method = %method, target = %target, status, error = %e,
                "http response failed"
            ),
        }
    }
}

fn respond(request: tiny_http::Request, answer: Answer) -> io::Result<()> {
    let status = StatusCode(answer.status());
    match answer {
        Answer::File {
            body,
            start,
            len,
            partial,
            etag,
            content_type,
            ..
        } => {
            let size = body.len();
            let mut headers = vec![
                header("Content-Type", content_type),
                header("ETag", &etag),
                header("Accept-Ranges", "bytes"),
            ];
            if partial {
                let end = start + len - 1;
                headers.push(header(
                    "Content-Range",
                    &format!("bytes {start}-{end}/{size}"),
                ));
            }
            let reader = BodyReader {
                body,
                pos: start,
                end: start + len,
            };
            let response = Response::new(status, headers, reader, Some(len as usize), None)
                // Always Content-Length: iPXE and firmware show progress from it.
                .with_chunked_threshold(usize::MAX);
            request.respond(response)
        }
        Answer::NotModified { etag } => {
            request.respond(Response::empty(status).with_header(header("ETag", &etag)))
        }
        Answer::Unsatisfiable { size } => request.respond(
            Response::empty(status)
                .with_header(header("Content-Range", &format!("bytes */{size}"))),
        ),
        Answer::Error {
            status: code,
            reason,
        } => {
            let mut response = Response::from_string(format!("{code} {reason}\n"))
                .with_status_code(status)
                .with_header(header("Content-Type", "text/plain; charset=utf-8"));
            if code == 405 {
                response.add_header(header("Allow", "GET, HEAD"));
            }
            request.respond(response)
        }
    }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes())
        .expect("header names and values here are ASCII without newlines")
}

/// Streams `pos..end` of a body through tiny_http's writer.
struct BodyReader {
    body: Body,
    pos: u64,
    end: u64,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let remaining = self.end.saturating_sub(self.pos);
        let want = buf.len().min(remaining as usize);
        if want == 0 {
            return Ok(0);
        }
        let n = self.body.read_at(self.pos, &mut buf[..want])?;
        self.pos += n as u64;
        Ok(n)
    }
}
