//! HTTP: scripts from memory and artifacts from disk, exactly the manifest's HTTP routes, with
//! HEAD, single Range, Content-Length, an ETag from the sha256, If-None-Match and If-Range, and
//! keep-alive.
//!
//! The protocol decisions are pure: [`request`] reads a head, [`route`](route::route) decides
//! the answer (with [`conditional`] for the validators), [`response`] formats it. The socket side is thin: one tokio task per connection
//! ([`connection`]), artifacts sent with sendfile(2) ([`send`]), and a global cap on
//! connections so a flood cannot exhaust descriptors (refusals counted, and logged at a bounded
//! rate by [`busy`]); the timeouts in [`HttpConfig`] make sure
//! a slow or silent client holds its slot only for a bounded time.
//!
//! Why not hyper: it would replace the part that is already a crate here (the head parser is
//! httparse, which hyper itself uses) and leave the rest to be written anyway. hyper does not
//! serve files: Range and If-Range come from crates on top of it (hyper-staticfile,
//! tower-http's ServeDir) that read paths from a directory, where this server answers from the
//! one snapshot's [`Body`](crate::Body) chosen per request, so a reload never changes a
//! response half-way. hyper owns the socket and takes bodies as buffers, so an artifact could
//! not go out with sendfile(2); with it, serving 100 clients cost 0.15 ms of CPU per MB here
//! and 0.22 in nginx, which uses sendfile too (BENCHMARKS.md, same run). The connection cap
//! with an immediate 503 and the header, idle and stall timeouts would still be ours around
//! it. And the request path stays sans-IO ([`request`], [`route`](route::route)), so the fuzz
//! targets `http_head` and `http_route` reach all of it without a socket.

mod busy;
pub mod conditional;
mod connection;
mod install_done;
pub mod range;
pub mod request;
pub mod response;
pub mod route;
mod send;
mod status_exchange;
mod unsent;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use netboot_manifest::Protocol;

use crate::in_flight::InFlight;
use crate::install::InstallStore;
use crate::snapshot::Snapshot;
use crate::status::Events;
use busy::BusyLog;
use connection::Timeouts;

/// Listening settings and the bounds every client is held to.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub bind: SocketAddr,
    /// Connections served at once; more are answered 503 and closed at once.
    pub max_connections: usize,
    /// Time a client has to send a whole request head, from its first byte (and, on a new
    /// connection, from the accept).
    pub header_timeout: Duration,
    /// Time a kept-alive connection may sit between requests.
    pub idle_timeout: Duration,
    /// Time a response may wait for the client to take more bytes before it is dropped.
    pub stall_timeout: Duration,
    /// When on: answers `/`, `/metrics` and `/status.json` from it, and reports each exchange.
    pub events: Events,
    /// Where file responses are listed while they are being sent.
    pub in_flight: InFlight,
    /// The install state: answers done reports and picks lifecycle hosts' scripts. Without
    /// it, every lifecycle host gets its `then` script and reports are refused (404).
    pub install: Option<InstallStore>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            bind: SocketAddr::from(([0, 0, 0, 0], 80)),
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            // Longer than the menus a machine sits in between two fetches: iPXE keeps the
            // connection that fetched a menu and reuses it for the chosen item. With 30 s, a
            // 30 s menu (examples/multi-arch) met the server's close on that connection, and
            // an old iPXE ROM (Debian's ipxe-qemu) reported "Connection timed out" on every
            // retry (seen in `netboot test` under TCG). 90 s clears common menu timeouts.
            idle_timeout: Duration::from_secs(90),
            stall_timeout: Duration::from_secs(60),
            events: Events::default(),
            in_flight: InFlight::default(),
            install: None,
        }
    }
}

/// A bound HTTP server; [`HttpServer::run`] answers until its task is dropped, which also
/// drops every connection it was serving.
pub struct HttpServer {
    listener: TcpListener,
    config: HttpConfig,
    snapshots: watch::Receiver<Arc<Snapshot>>,
}

impl HttpServer {
    /// Binds the listening socket; nothing is answered until [`HttpServer::run`].
    pub async fn bind(
        config: &HttpConfig,
        snapshots: watch::Receiver<Arc<Snapshot>>,
    ) -> io::Result<HttpServer> {
        let listener = TcpListener::bind(config.bind).await.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot listen for HTTP on {}: {e}", config.bind),
            )
        })?;
        raise_descriptor_limit(config.max_connections);
        Ok(HttpServer {
            listener,
            config: config.clone(),
            snapshots,
        })
    }

    /// The bound address (useful when binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections forever, each served by its own task.
    pub async fn run(self) {
        let permits = Arc::new(Semaphore::new(self.config.max_connections.max(1)));
        let timeouts = Timeouts {
            header: self.config.header_timeout,
            idle: self.config.idle_timeout,
            stall: self.config.stall_timeout,
        };
        let mut connections = JoinSet::new();
        let mut last_accept_error: Option<Instant> = None;
        let mut busy = BusyLog::default();
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                            self.refuse_busy(stream, peer, &mut busy);
                            continue;
                        };
                        // Responses are written whole or with MSG_MORE; Nagle would only
                        // delay the last segment of each.
                        let _ = stream.set_nodelay(true);
                        let _ = unsent::limit(&stream);
                        let snapshots = self.snapshots.clone();
                        let events = self.config.events.clone();
                        let in_flight = self.config.in_flight.clone();
                        let install = self.config.install.clone();
                        connections.spawn(async move {
                            let shared = connection::Shared { events, in_flight, install };
                            connection::serve(stream, peer, snapshots, timeouts, shared).await;
                            drop(permit);
                        });
                    }
                    Err(e) => {
                        // Out of descriptors or memory: pause rather than spin; log once a second.
                        let quiet = Duration::from_secs(1);
                        if !matches!(last_accept_error, Some(t) if t.elapsed() < quiet) {
                            tracing::warn!(target: "netboot::http", error = %e, "http accept failed");
                            last_accept_error = Some(Instant::now());
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(done) = connections.join_next(), if !connections.is_empty() => {
                    if let Err(e) = done {
                        if e.is_panic() {
                            tracing::error!(target: "netboot::http", error = %e, "http connection task panicked");
                        }
                    }
                }
            }
        }
    }

    /// Over the connection cap: counted, a 503 if the socket takes it at once, then close.
    /// Nothing waits on this client, so a flood of connections costs one accept and one close
    /// each, and a log line a second. The refusal only counts in `/metrics`: an entry per
    /// connection in the status page's history would let a flood push real boots out of it.
    fn refuse_busy(&self, stream: TcpStream, peer: SocketAddr, busy: &mut BusyLog) {
        self.config.events.count_refused(Protocol::Http);
        if let Some(refused) = busy.refused(Instant::now()) {
            tracing::warn!(
                target: "netboot::http",
                ip = %peer.ip(), max_connections = self.config.max_connections, refused,
                "http connection over the cap refused"
            );
        }
        let _ = stream.try_write(&response::refusal(503, "too many connections"));
    }
}

/// Each connection is a descriptor; a soft limit of 1024 (the usual default) would make the
/// accept fail long before the cap. Raise the soft limit towards the hard one when needed.
fn raise_descriptor_limit(max_connections: usize) {
    let want = (max_connections as u64).saturating_add(1024);
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a rlimit struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 || limit.rlim_cur >= want {
            return;
        }
        let soft = want.min(limit.rlim_max);
        if soft > limit.rlim_cur {
            limit.rlim_cur = soft;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
        if soft < want {
            tracing::warn!(
                target: "netboot::http",
                limit = soft, max_connections,
                "descriptor limit below what the HTTP connection cap needs"
            );
        }
    }
}
