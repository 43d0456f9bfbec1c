//! The tokio side of TFTP: one listening socket that classifies requests, and one task per
//! transfer on its own ephemeral socket (the new TID of RFC 1350) that drives a
//! [`Transfer`] with datagrams and its deadline.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netboot_manifest::Protocol::{self, Tftp};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::active::{Admission, Ticket, Transfers};
use super::busy_poll::{self, BusyPoll};
use super::options::{self, Limits};
use super::packet::{self, ErrorCode};
use super::recv_dst::Listener;
use super::refusals::RefusalBudget;
use super::request::{self, Incoming};
use super::send_window;
use super::transfer::{self, Failure, Transfer};
use crate::in_flight::InFlight;
use crate::snapshot::Snapshot;
use crate::status::{Event, Events};

/// A booting machine has one or two transfers open at once (UEFI asks for the size, then the
/// file; a repeated request replaces its own). Sixteen leaves room for a few machines behind
/// one address while one host that never acknowledges holds at most 16 of the 512 places.
pub const MAX_TRANSFERS_PER_CLIENT: usize = 16;

/// Listening and protocol settings.
#[derive(Debug, Clone)]
pub struct TftpConfig {
    pub bind: SocketAddr,
    /// Retransmission timeout when the client does not negotiate one; it doubles on each retry
    /// up to eight times this.
    pub timeout: Duration,
    /// Retransmissions without progress before a transfer is abandoned. With `timeout` this
    /// also bounds how long a transfer waits when the client negotiated its own timeout.
    pub retries: u32,
    /// Largest blksize granted (RFC 2348 allows up to 65464).
    pub max_blksize: u16,
    /// Largest windowsize granted (RFC 7440).
    pub max_windowsize: u16,
    /// Memory one transfer may hold for its window; windowsize is lowered to fit.
    pub max_window_bytes: usize,
    /// Transfers in flight at once; more requests are refused with a TFTP error.
    pub max_transfers: usize,
    /// Transfers in flight at once from one client IP; more are refused like the above.
    pub max_transfers_per_client: usize,
    /// ERROR replies the listening port may send per second (and in one burst); more are
    /// dropped, so spoofed junk cannot be reflected at a victim in volume.
    pub refusals_per_second: u32,
    /// Where finished, failed and refused transfers are reported for the status page.
    pub events: Events,
    /// Where transfers are listed while they run.
    pub in_flight: InFlight,
}

impl Default for TftpConfig {
    fn default() -> Self {
        let limits = Limits::default();
        TftpConfig {
            bind: SocketAddr::from(([0, 0, 0, 0], 69)),
            timeout: limits.timeout,
            retries: transfer::DEFAULT_RETRIES,
            max_blksize: limits.max_blksize,
            max_windowsize: limits.max_windowsize,
            max_window_bytes: limits.max_window_bytes,
            max_transfers: 512,
            max_transfers_per_client: MAX_TRANSFERS_PER_CLIENT,
            refusals_per_second: 200,
            events: Events::default(),
            in_flight: InFlight::default(),
        }
    }
}

impl TftpConfig {
    fn limits(&self) -> Limits {
        Limits {
            max_blksize: self.max_blksize,
            max_windowsize: self.max_windowsize,
            max_window_bytes: self.max_window_bytes,
            timeout: self.timeout,
            give_up_after: transfer::patience(self.timeout, self.retries),
        }
    }
}

/// A bound TFTP server; [`TftpServer::run`] answers requests until the task is dropped.
pub struct TftpServer {
    listener: Listener,
    config: TftpConfig,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    refusals: RefusalBudget,
    /// Refusals dropped since the last one sent, reported with the next.
    dropped: u64,
}

impl TftpServer {
    /// Binds the listening socket; nothing is answered until [`TftpServer::run`].
    pub async fn bind(
        config: &TftpConfig,
        snapshots: watch::Receiver<Arc<Snapshot>>,
    ) -> io::Result<TftpServer> {
        let socket = UdpSocket::bind(config.bind).await.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot listen for TFTP on {}: {e}", config.bind),
            )
        })?;
        crate::receive_buffer::enlarge(&socket, crate::receive_buffer::LISTENER_BYTES);
        let rate = config.refusals_per_second;
        Ok(TftpServer {
            listener: Listener::new(socket),
            config: config.clone(),
            snapshots,
            refusals: RefusalBudget::new(rate, rate),
            dropped: 0,
        })
    }

    /// The bound address (useful when binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.socket().local_addr()
    }

    /// Answers requests forever, each transfer in its own task.
    pub async fn run(mut self) {
        let limits = self.config.limits();
        // Transfer sockets answer from the address the client asked; on a wildcard bind that
        // comes with each request (see `recv_dst`), else it is the listening address.
        let local_ip = match self.local_addr() {
            Ok(a) => a.ip(),
            Err(e) => {
                tracing::error!(target: "netboot::tftp", error = %e, "tftp socket has no address");
                return;
            }
        };
        let active = Transfers::new(
            self.config.max_transfers,
            self.config.max_transfers_per_client,
        );
        // Requests are small; a larger datagram is not a request and is refused from its head.
        let mut buf = vec![0u8; 2048];
        // Transfers belong to this task: when it is aborted (`Runtime::stop`), dropping the set
        // aborts them, so a transfer logged as cut short stops sending too.
        let mut transfers = JoinSet::new();
        loop {
            let received = tokio::select! {
                received = self.listener.recv(&mut buf) => received,
                Some(done) = transfers.join_next(), if !transfers.is_empty() => {
                    if let Err(e) = done {
                        if e.is_panic() {
                            tracing::error!(target: "netboot::tftp", error = %e, "tftp transfer task panicked");
                        }
                    }
                    continue;
                }
            };
            let (n, peer, dst) = match received {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(target: "netboot::tftp", error = %e, "tftp receive failed");
                    // Do not spin if the error repeats.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let (route, options) = match request::classify(&buf[..n]) {
                Incoming::Read { route, options } => (route, options),
                Incoming::Refuse { code, message } => {
                    self.refuse(peer, dst, None, code, &message).await;
                    continue;
                }
                Incoming::Ignore => continue,
            };
            let ticket = match active.admit(peer, &buf[..n], Instant::now()) {
                Admission::Start(ticket) => ticket,
                // The running transfer's own retransmission answers it.
                Admission::Duplicate => continue,
                Admission::Busy => {
                    let message = "too many transfers in flight, try again shortly";
                    let code = ErrorCode::NotDefined;
                    self.refuse(peer, dst, Some(route), code, message).await;
                    continue;
                }
                Admission::ClientBusy => {
                    let message = "too many transfers from this address, try again shortly";
                    let code = ErrorCode::NotDefined;
                    self.refuse(peer, dst, Some(route), code, message).await;
                    continue;
                }
            };
            // The body, not the snapshot, is kept: a reload mid-transfer cannot change bytes.
            let body = self.snapshots.borrow().open(route, Protocol::Tftp);
            let Some(body) = body else {
                let code = ErrorCode::FileNotFound;
                self.refuse(peer, dst, Some(route), code, "file not found")
                    .await;
                continue;
            };
            let settings = options::negotiate(&options, body.len(), &limits);
            let transfer = Transfer::start(body, &settings, self.config.retries, Instant::now());
            let file = route.to_owned();
            let events = self.config.events.clone();
            let listed = (self.config.in_flight).enter(Tftp, peer.ip(), &file, transfer.len());
            transfers.spawn(async move {
                let started = Instant::now();
                let local = SocketAddr::new(dst.unwrap_or(local_ip), 0);
                let result = drive(local, peer, transfer, &ticket).await;
                drop(ticket);
                log(peer, &file, started, result, &events);
                drop(listed);
            });
        }
    }

    async fn refuse(
        &mut self,
        peer: SocketAddr,
        dst: Option<IpAddr>,
        file: Option<&str>,
        code: ErrorCode,
        msg: &str,
    ) {
        if !self.refusals.allow(Instant::now()) {
            self.dropped += 1;
            return;
        }
        let dropped = std::mem::take(&mut self.dropped);
        let ip = peer.ip();
        (self.config.events).record(Event::refused(Tftp, ip, file.unwrap_or(""), msg));
        // The name is the client's: escaped, so it cannot forge log lines.
        let file = file.unwrap_or("").escape_debug();
        tracing::warn!(
            target: "netboot::tftp",
            ip = %peer.ip(), port = peer.port(), file = %file, code = code as u16,
            reason = msg, dropped_before = dropped, "tftp request refused"
        );
        let reply = packet::error(code, msg);
        if let Err(e) = self.listener.send_to(&reply, peer, dst).await {
            tracing::warn!(target: "netboot::tftp", ip = %peer.ip(), error = %e, "tftp send failed");
        }
    }
}

/// Runs one transfer on a fresh socket connected to the client, so the kernel drops datagrams
/// from anyone else. Returns the finished transfer, or why the socket failed.
async fn drive(
    local: SocketAddr,
    peer: SocketAddr,
    mut transfer: Transfer,
    ticket: &Ticket,
) -> Result<Transfer, (String, Transfer)> {
    let socket = match UdpSocket::bind(local).await {
        Ok(s) => s,
        Err(e) => return Err((format!("cannot open a transfer socket: {e}"), transfer)),
    };
    if let Err(e) = socket.connect(peer).await {
        return Err((format!("cannot address the client: {e}"), transfer));
    }
    // ACKs and ERRORs are small; a longer datagram is truncated, which the parser tolerates.
    let mut buf = [0u8; 1024];
    // The timer is armed lazily: a deadline that moved later (every ACK moves it) is found when
    // the timer fires early, so a block costs no timer-wheel update, only a rare re-arm does.
    let timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(timer);
    let mut armed: Option<Instant> = None;
    // What the client had acknowledged when the listener was last told.
    let mut acked = (false, 0);
    // One waiter for the whole transfer, registered once rather than once per block.
    let cancelled = ticket.cancel.notified();
    tokio::pin!(cancelled);
    let mut sender = send_window::Sender::default();
    let mut busy = BusyPoll::default();
    let mut sent_at = Instant::now();
    'transfer: loop {
        let (bytes, ends) = transfer.outgoing();
        if !ends.is_empty() {
            if let Err(e) = sender.send_all(&socket, bytes, ends).await {
                if e.kind() == io::ErrorKind::ConnectionRefused {
                    return Err(("the client's port is closed".into(), transfer));
                }
                // Anything else is treated like a lost datagram: the timer retransmits.
                tracing::debug!(target: "netboot::tftp", error = %e, "tftp send failed");
            }
            sent_at = Instant::now();
            // The client has the turn: read its next block now rather than after its ACK.
            transfer.prefetch();
        }
        let Some(deadline) = transfer.next_deadline() else {
            return Ok(transfer);
        };
        // The deadline is checked here too: a client whose useless datagrams always arrive
        // within the poll would otherwise never let the timer run.
        let now = Instant::now();
        if now >= deadline {
            transfer.on_timeout(now);
            continue;
        }
        let polled = busy
            .budget(ticket.alone())
            .and_then(|budget| busy_poll::recv(&socket, &mut buf, budget.min(deadline - now)));
        let received = match polled {
            Some(received) => received,
            None => loop {
                if !matches!(armed, Some(at) if at <= deadline) {
                    timer.as_mut().reset(deadline.into());
                    armed = Some(deadline);
                }
                tokio::select! {
                    received = socket.recv(&mut buf) => break received,
                    () = &mut timer => {
                        armed = None;
                        // Armed for an earlier deadline than today's: wait on. The datagrams
                        // of the last event were sent; only `on_timeout` may send them again.
                        let now = Instant::now();
                        if now >= deadline {
                            transfer.on_timeout(now);
                            continue 'transfer;
                        }
                    }
                    () = &mut cancelled => {
                        return Err(("replaced by a newer request from the same port".into(), transfer));
                    }
                }
            },
        };
        match received {
            Ok(n) => {
                let now = Instant::now();
                busy.observe(now - sent_at);
                transfer.on_packet(&buf[..n], now);
                // Progress, not any datagram: stale ACKs do not make a client look alive.
                let seen = (transfer.client_answered(), transfer.bytes_acked());
                if seen != acked {
                    acked = seen;
                    ticket.progress.acked(now, transfer.last_block_sent());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                return Err(("the client's port is closed".into(), transfer));
            }
            Err(e) => {
                tracing::debug!(target: "netboot::tftp", error = %e, "tftp receive failed");
            }
        }
    }
}

fn log(
    peer: SocketAddr,
    file: &str,
    started: Instant,
    result: Result<Transfer, (String, Transfer)>,
    events: &Events,
) {
    let took = started.elapsed();
    let ms = crate::log_millis::millis(took);
    // Display, not Debug: the same unquoted `ip=… file=…` as the DHCP and HTTP lines. The name
    // is a manifest route here (requests for anything else were refused), so nothing to escape.
    let ip = peer.ip();
    let (error, t) = match result {
        Ok(t) => match t.outcome() {
            Some(Ok(())) => {
                tracing::info!(
                    target: "netboot::tftp",
                    ip = %ip, file = %file, bytes = t.len(), ms, blksize = t.blksize(),
                    windowsize = t.windowsize(), "tftp file done"
                );
                events.record(Event::done(Tftp, peer.ip(), file, t.len(), took));
                return;
            }
            // UEFI PXE asks once for the OACK only, to learn tsize, then says so with an
            // ERROR: part of a normal boot, not worth a warning.
            Some(Err(Failure::ClientError { code, message })) if t.bytes_acked() == 0 => {
                tracing::info!(
                    target: "netboot::tftp",
                    ip = %ip, file = %file, size = t.len(), code, message = %message,
                    "tftp client ended the transfer before any data"
                );
                return;
            }
            Some(Err(f)) => (f.to_string(), t),
            None => ("transfer stopped unfinished".to_string(), t),
        },
        Err(x) => x,
    };
    let error = if t.last_block_sent() && !t.is_finished() {
        // Most likely the last ACK was lost and the client, done, closed its port.
        format!("{error} after the last block was sent")
    } else {
        error
    };
    tracing::warn!(
        target: "netboot::tftp",
        ip = %ip, file = %file, bytes = t.bytes_acked(), size = t.len(), ms, blksize = t.blksize(),
        windowsize = t.windowsize(), error, "tftp transfer failed"
    );
    let bytes = t.bytes_acked();
    events.record(Event::failed(Tftp, peer.ip(), file, bytes, took, &error));
}
