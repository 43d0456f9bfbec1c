//! The running server: HTTP, TFTP and proxy-DHCP sharing one current snapshot.
//!
//! Every protocol loop holds a `watch::Receiver` and takes the current snapshot when a request
//! arrives; a transfer keeps the `Body` it started with, so [`Reloader::replace`] never changes
//! the bytes of a download in flight.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::dhcp::{DhcpConfig, DhcpServer, FullDhcp};
use crate::http::{HttpConfig, HttpServer};
use crate::snapshot::Snapshot;
use crate::status::{Event, Events, Limits};
use crate::tftp::{TftpConfig, TftpServer};

/// Settled listening parameters: flags merged over the manifest's server block.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The address clients are told to fetch from; HTTP and TFTP listen on it.
    pub address: Ipv4Addr,
    /// Where proxy-DHCP listens (bound to the device, so a second NIC never answers).
    pub interface: Option<String>,
    pub http_port: u16,
    pub tftp_port: u16,
    /// Answer proxy-DHCP at all.
    pub dhcp: bool,
    pub dhcp_port: u16,
    pub pxe_port: u16,
    /// Record what clients do and answer `/`, `/metrics` and `/status.json` over HTTP.
    pub status: bool,
}

/// Where each protocol really listens (ports may have been 0 in tests).
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub http: SocketAddr,
    pub tftp: SocketAddr,
    /// Port 67 and port 4011 sockets, when proxy-DHCP runs.
    pub dhcp: Option<(SocketAddr, SocketAddr)>,
}

/// Swaps in a new snapshot; cheap to clone and usable from any thread.
#[derive(Clone)]
pub struct Reloader {
    sender: Arc<watch::Sender<Arc<Snapshot>>>,
    reloads: Arc<AtomicU64>,
    events: Events,
}

impl Reloader {
    /// Makes `snapshot` the one every new request sees. Returns the reload count.
    pub fn replace(&self, snapshot: Snapshot) -> u64 {
        log_broken(&snapshot);
        let files = snapshot.manifest().files.len();
        let hosts = snapshot.manifest().hosts.len();
        self.sender.send_replace(Arc::new(snapshot));
        let n = self.reloads.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::info!(target: "netboot::reload", reloads = n, files, hosts, "snapshot replaced");
        self.events.record(Event::reloaded());
        n
    }

    /// The status recorder, for reporting a reload that failed before reaching [`replace`].
    ///
    /// [`replace`]: Reloader::replace
    pub fn events(&self) -> &Events {
        &self.events
    }

    pub fn current(&self) -> Arc<Snapshot> {
        Arc::clone(&self.sender.borrow())
    }
}

/// The three protocol servers, running until [`Runtime::shutdown`].
pub struct Runtime {
    reloader: Reloader,
    bound: Bound,
    tasks: Vec<JoinHandle<()>>,
}

impl Runtime {
    /// Binds every socket first, so a port already in use fails start-up as a whole instead of
    /// leaving a server that answers DHCP but cannot deliver the file it names.
    pub async fn start(config: &ServeConfig, snapshot: Snapshot) -> io::Result<Runtime> {
        Runtime::start_with(config, snapshot, None).await
    }

    /// Like [`Runtime::start`]; with `full`, port 67 runs full-DHCP mode (addresses from its
    /// range, leases in its file) instead of proxy-DHCP. Port 4011 answers as a proxy either
    /// way.
    pub async fn start_with(
        config: &ServeConfig,
        snapshot: Snapshot,
        full: Option<FullDhcp>,
    ) -> io::Result<Runtime> {
        log_broken(&snapshot);
        let (sender, receiver) = watch::channel(Arc::new(snapshot));
        let ip = config.address;
        let events = if config.status {
            Events::new(Limits::default())
        } else {
            Events::default()
        };

        let http = HttpServer::bind(
            &HttpConfig {
                bind: SocketAddrV4::new(ip, config.http_port).into(),
                events: events.clone(),
                ..HttpConfig::default()
            },
            receiver.clone(),
        )
        .await?;
        let http_addr = http.local_addr()?;

        let tftp = TftpServer::bind(
            &TftpConfig {
                bind: SocketAddrV4::new(ip, config.tftp_port).into(),
                events: events.clone(),
                ..TftpConfig::default()
            },
            receiver.clone(),
        )
        .await?;
        let tftp_addr = tftp.local_addr()?;

        let mut tasks = vec![tokio::spawn(http.run()), tokio::spawn(tftp.run())];
        let mut dhcp_addrs = None;
        if config.dhcp {
            let dhcp_config = DhcpConfig {
                server_addr: ip,
                http_port: http_addr.port(),
                interface: config.interface.clone(),
                dhcp_port: config.dhcp_port,
                pxe_port: config.pxe_port,
            };
            let mode = if full.is_some() {
                "full DHCP"
            } else {
                "proxy-DHCP"
            };
            let bound = match full {
                Some(full) => DhcpServer::bind_full(&dhcp_config, full, receiver.clone()).await,
                None => DhcpServer::bind(&dhcp_config, receiver.clone()).await,
            };
            let dhcp = bound
                .map_err(|e| {
                    context(
                        e,
                        format!(
                            "cannot listen for {mode} on ports {} and {}",
                            config.dhcp_port, config.pxe_port
                        ),
                    )
                })?
                .with_events(events.clone());
            dhcp_addrs = Some(dhcp.local_addrs());
            tasks.push(tokio::spawn(dhcp.run()));
        }

        Ok(Runtime {
            reloader: Reloader {
                sender: Arc::new(sender),
                reloads: Arc::new(AtomicU64::new(0)),
                events,
            },
            bound: Bound {
                http: http_addr,
                tftp: tftp_addr,
                dhcp: dhcp_addrs,
            },
            tasks,
        })
    }

    pub fn bound(&self) -> Bound {
        self.bound
    }

    pub fn reloader(&self) -> Reloader {
        self.reloader.clone()
    }

    /// Stops answering. Transfers in flight are abandoned (TFTP clients retry, HTTP clients
    /// see the connection close before Content-Length is reached).
    pub async fn shutdown(self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

fn log_broken(snapshot: &Snapshot) {
    for (route, reason) in snapshot.broken() {
        tracing::error!(target: "netboot::reload", route = %route, %reason, "route out of service");
    }
}

fn context(e: io::Error, what: String) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}
