//! The running server: HTTP, TFTP and proxy-DHCP sharing one current snapshot.
//!
//! Every protocol loop holds a `watch::Receiver` and takes the current snapshot when a request
//! arrives; a transfer keeps the `Body` it started with, so [`Reloader::replace`] never changes
//! the bytes of a download in flight.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use netboot_manifest::Protocol;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::dhcp::{DhcpConfig, DhcpServer, FullDhcp};
use crate::http::{HttpConfig, HttpServer};
use crate::in_flight::InFlight;
use crate::install::InstallStore;
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
    /// The install state (the file under `--state-dir`, or the state database); `None`:
    /// lifecycle hosts always get their `then` script and done reports are refused.
    pub install: Option<InstallStore>,
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
    /// HTTP and TFTP.
    tasks: Vec<JoinHandle<()>>,
    /// The worker threads of TFTP and DHCP; dropped after the tasks.
    _udp_threads: UdpThreads,
    /// Stopped first, so no client is sent here while the others finish.
    dhcp: Option<JoinHandle<()>>,
    in_flight: InFlight,
}

impl Runtime {
    /// Binds every socket first, so a port already in use fails start-up as a whole instead of
    /// leaving a server that answers DHCP but cannot deliver the file it names.
    pub async fn start(config: &ServeConfig, snapshot: Snapshot) -> io::Result<Runtime> {
        Runtime::start_with(config, snapshot, None).await
    }

    /// Like [`Runtime::start`]; with `full`, port 67 runs full-DHCP mode (addresses from its
    /// range, leases in its file or database) instead of proxy-DHCP. Port 4011 answers as a proxy either
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
        let in_flight = InFlight::default();

        let http = HttpServer::bind(
            &HttpConfig {
                bind: SocketAddrV4::new(ip, config.http_port).into(),
                events: events.clone(),
                in_flight: in_flight.clone(),
                install: config.install.clone(),
                ..HttpConfig::default()
            },
            receiver.clone(),
        )
        .await?;
        let http_addr = http.local_addr()?;

        let udp_threads = UdpThreads::start()?;
        let tftp_config = TftpConfig {
            bind: SocketAddrV4::new(ip, config.tftp_port).into(),
            events: events.clone(),
            in_flight: in_flight.clone(),
            ..TftpConfig::default()
        };
        // Bound on the UDP threads, so its sockets wake those threads and no other.
        let tftp_receiver = receiver.clone();
        let tftp = udp_threads
            .handle()
            .spawn(async move { TftpServer::bind(&tftp_config, tftp_receiver).await })
            .await
            .map_err(io::Error::other)??;
        let tftp_addr = tftp.local_addr()?;

        let tasks = vec![
            tokio::spawn(http.run()),
            udp_threads.handle().spawn(tftp.run()),
        ];
        let mut dhcp_addrs = None;
        let mut dhcp_task = None;
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
            let dhcp_receiver = receiver.clone();
            let bound = udp_threads
                .handle()
                .spawn(async move {
                    match full {
                        Some(full) => {
                            DhcpServer::bind_full(&dhcp_config, full, dhcp_receiver).await
                        }
                        None => DhcpServer::bind(&dhcp_config, dhcp_receiver).await,
                    }
                })
                .await
                .map_err(io::Error::other)?;
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
            dhcp_task = Some(udp_threads.handle().spawn(dhcp.run()));
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
            _udp_threads: udp_threads,
            dhcp: dhcp_task,
            in_flight,
        })
    }

    pub fn bound(&self) -> Bound {
        self.bound
    }

    pub fn reloader(&self) -> Reloader {
        self.reloader.clone()
    }

    /// The transfers in flight now.
    pub fn in_flight(&self) -> &InFlight {
        &self.in_flight
    }

    /// Stops answering at once; see [`Runtime::stop`].
    pub async fn shutdown(self) {
        self.stop(Duration::ZERO).await;
    }

    /// Stops answering DHCP, gives the transfers in flight up to `grace` to finish, then stops
    /// HTTP and TFTP. Each transfer still running then is abandoned (TFTP clients retry, HTTP
    /// clients see the connection close before Content-Length is reached) and logged as cut
    /// short. Returns how many were cut.
    ///
    /// HTTP and TFTP still answer new requests during the grace: a client that asks then is
    /// waited for as well, and named if it is cut.
    pub async fn stop(self, grace: Duration) -> usize {
        if let Some(dhcp) = self.dhcp {
            dhcp.abort();
            let _ = dhcp.await;
        }
        let cut = self.in_flight.settle(grace).await;
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks {
            let _ = task.await;
        }
        for t in &cut {
            let ms = crate::log_millis::millis(t.started.elapsed());
            let (ip, file, size) = (t.ip, t.file.as_str(), t.size);
            match t.protocol {
                Protocol::Http => tracing::warn!(
                    target: "netboot::http", ip = %ip, file = %file, size, ms,
                    "http transfer cut short by shutdown"
                ),
                Protocol::Tftp => tracing::warn!(
                    target: "netboot::tftp", ip = %ip, file = %file, size, ms,
                    "tftp transfer cut short by shutdown"
                ),
            }
        }
        cut.len()
    }
}

/// The threads TFTP and DHCP run on, apart from HTTP's. Lockstep TFTP waits on a round trip
/// per block, so its speed is how soon an ACK is answered, and a DHCP socket holds only so many
/// DISCOVERs before the kernel drops them. On shared workers both waited behind HTTP
/// connections handing the kernel megabytes per wake-up: in the boot storm benchmark (100
/// machines) the slowest loader downloads took 2.7-3.9 s against dnsmasq's 1.0 s, and at 500
/// machines most of iPXE's DISCOVERs went unanswered for a second. On threads of their own,
/// mostly asleep, the kernel runs them as soon as a datagram arrives, the way it runs dnsmasq
/// beside nginx.
struct UdpThreads(Option<tokio::runtime::Runtime>);

impl UdpThreads {
    fn start() -> io::Result<UdpThreads> {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            // What `top -H` shows: these threads answer DHCP as well as TFTP.
            .thread_name("dhcp-tftp")
            .enable_all()
            .build()?;
        Ok(UdpThreads(Some(runtime)))
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        match &self.0 {
            Some(runtime) => runtime.handle(),
            None => unreachable!("the runtime is taken only when dropped"),
        }
    }
}

impl Drop for UdpThreads {
    fn drop(&mut self) {
        // Dropping a runtime waits for its threads, which is not allowed on an async thread
        // (where `Runtime` is dropped); its tasks were aborted and awaited in `stop`.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
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
