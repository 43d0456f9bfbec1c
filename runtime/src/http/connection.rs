//! One client connection: read a head within the timeouts, let [`route`] decide, write the
//! answer, and go again while the client keeps the connection alive.
//!
//! Everything a client can make this task hold is bounded: the head buffer by
//! [`MAX_HEAD`](super::request::MAX_HEAD), the time to send a head by the header timeout, the
//! time between requests by the idle timeout, and a response the client stops reading by the
//! stall timeout.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use netboot_manifest::Protocol;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::timeout_at;

use super::install_done;
use super::request::{parse_head, HeadError, Parsed, RequestHead, MAX_HEAD};
use super::response;
use super::route::{self, Answer, Request};
use super::send;
use super::status_exchange::{exchange_event, page_answer};
use crate::body::Body;
use crate::in_flight::InFlight;
use crate::install::InstallStore;
use crate::snapshot::Snapshot;
use crate::status::Events;

/// Bodies up to this size leave in the same write as their head.
const COALESCE: u64 = 64 * 1024;
/// After the last response on a connection, how much the client may still send (a request
/// body we never read, pipelined requests) and for how long, before the close; closing with
/// unread input makes the kernel reset the connection, which can destroy the response.
const LINGER_BYTES: usize = 64 * 1024;
const LINGER_TIME: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub header: Duration,
    pub idle: Duration,
    pub stall: Duration,
}

/// What every connection shares with the server.
pub struct Shared {
    pub events: Events,
    pub in_flight: InFlight,
    pub install: Option<InstallStore>,
}

/// Serves requests on `stream` until the client closes, asks to close, or breaks a bound.
pub async fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    timeouts: Timeouts,
    shared: Shared,
) {
    let mut buf = Vec::new();
    let mut first = true;
    loop {
        let head = match read_head(&mut stream, &mut buf, first, &timeouts).await {
            HeadRead::Head(head) => head,
            HeadRead::Closed => return,
            HeadRead::TimedOut => {
                tracing::debug!(target: "netboot::http", ip = %peer.ip(), "http request head timed out");
                // Best effort: the client may not be reading either.
                let _ = stream.try_write(&response::refusal(408, "request head timed out"));
                return;
            }
            HeadRead::Refused(e) => {
                tracing::info!(
                    target: "netboot::http",
                    ip = %peer.ip(), status = e.status(), reason = e.reason(),
                    "http refused"
                );
                let reply = response::refusal(e.status(), e.reason());
                if send::write_all(&mut stream, &reply, timeouts.stall)
                    .await
                    .is_ok()
                {
                    linger(stream).await;
                }
                return;
            }
        };
        first = false;
        buf.drain(..head.head_len);
        let keep_alive = head.keep_alive;
        if respond(&mut stream, peer, head, &snapshots, &timeouts, &shared)
            .await
            .is_err()
        {
            return;
        }
        if !keep_alive {
            linger(stream).await;
            return;
        }
    }
}

enum HeadRead {
    Head(RequestHead),
    /// The client closed, or sent nothing before the deadline: nothing to answer.
    Closed,
    /// Part of a head arrived, the rest not in time.
    TimedOut,
    Refused(HeadError),
}

async fn read_head(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    first: bool,
    timeouts: &Timeouts,
) -> HeadRead {
    let waiting = tokio::time::Instant::now();
    let mut deadline = waiting
        + if first {
            timeouts.header
        } else {
            timeouts.idle
        };
    let mut started = !buf.is_empty();
    if started {
        deadline = waiting + timeouts.header;
    }
    loop {
        if !buf.is_empty() {
            match parse_head(buf) {
                Ok(Parsed::Complete(head)) => return HeadRead::Head(head),
                Ok(Parsed::Partial) => {}
                Err(e) => return HeadRead::Refused(e),
            }
        }
        let old = buf.len();
        // parse_head refuses a full buffer, so there is always room here.
        let room = (MAX_HEAD - old).min(4096);
        buf.resize(old + room, 0);
        let read = timeout_at(deadline, stream.read(&mut buf[old..])).await;
        let n = match read {
            Ok(Ok(n)) => n,
            Ok(Err(_)) => 0,
            Err(_) => {
                buf.truncate(old);
                return if started {
                    HeadRead::TimedOut
                } else {
                    HeadRead::Closed
                };
            }
        };
        buf.truncate(old + n);
        if n == 0 {
            return HeadRead::Closed;
        }
        if !started {
            // The head timeout runs from its first byte, not from the end of the idle wait.
            started = true;
            deadline = tokio::time::Instant::now() + timeouts.header;
        }
    }
}

/// Answers one request and logs it. An error means the connection is unusable.
async fn respond(
    stream: &mut TcpStream,
    peer: SocketAddr,
    head: RequestHead,
    snapshots: &watch::Receiver<Arc<Snapshot>>,
    timeouts: &Timeouts,
    shared: &Shared,
) -> io::Result<()> {
    let (events, in_flight) = (&shared.events, &shared.in_flight);
    let started = Instant::now();
    let snapshot = Arc::clone(&snapshots.borrow());
    // `/`, `/metrics`, `/status.json` first, unless the manifest lists the same route.
    let page = page_answer(
        events,
        &head.method,
        &head.target,
        &snapshot,
        shared.install.as_ref(),
    );
    let is_page = page.is_some();
    // A pending install is served its install script under the everyday script's name.
    let path = route::request_path(&head.target);
    let lifecycle = shared.install.as_ref().zip(path.as_deref());
    let report = lifecycle
        .filter(|(_, p)| !is_page && install_done::is_report(p))
        .map(|(store, p)| {
            install_done::answer(
                store,
                events,
                &snapshot,
                &head.method,
                head.has_body,
                p,
                peer.ip(),
            )
        });
    let swapped = lifecycle
        .and_then(|(store, p)| install_done::swap(store, &snapshot, p))
        .map(|s| format!("/{s}"));
    let answer = page.or(report).unwrap_or_else(|| {
        route::route(
            &Request {
                method: &head.method,
                target: swapped.as_deref().unwrap_or(&head.target),
                range: head.range.as_deref(),
                if_none_match: head.if_none_match.as_deref(),
                if_range: head.if_range.as_deref(),
            },
            &snapshot,
        )
    });
    // The answer holds its own Body: a reload from here on does not change its bytes.
    drop(snapshot);
    let status = answer.status();
    let out = response::head(&answer, head.keep_alive, head.method == "HEAD");
    let mut sent = 0u64;
    // Listed while its bytes leave, so a server that stops meanwhile names it as cut short.
    let sending = match &answer {
        Answer::File { path, .. } if !is_page && out.body_len > 0 => {
            Some(in_flight.enter(Protocol::Http, peer.ip(), path, out.body_len))
        }
        _ => None,
    };
    let result = write_answer(stream, &answer, &out, timeouts.stall, &mut sent).await;
    drop(sending);
    let took = started.elapsed();
    let ms = crate::log_millis::millis(took);
    let ip = peer.ip();
    let agent = head.user_agent.as_deref();
    let event = exchange_event(ip, &head.target, agent, &answer, &result, sent, took);
    // The status page's own fetches are no machine's boot.
    if let Some(event) = event.filter(|_| !is_page) {
        events.record(event);
    }
    // Display, not Debug, like every other token here (`method=GET`, not `method="GET"`):
    // httparse admits only token characters in a method, so nothing needs escaping.
    let method = head.method.as_str();
    match (&result, &answer) {
        // A status page left open reloads every 2 s: not worth an info line each time.
        (Ok(()), Answer::File { path, .. }) if is_page => tracing::debug!(
            target: "netboot::http",
            ip = %ip, %method, page = %path, status, bytes = sent, ms,
            "http status page"
        ),
        (Ok(()), Answer::File { path, .. }) => tracing::info!(
            target: "netboot::http",
            ip = %ip, %method, file = %path, status, bytes = sent, ms,
            "http file done"
        ),
        (Ok(()), _) => tracing::info!(
            target: "netboot::http",
            ip = %ip, %method, target = %head.target.escape_debug(), status,
            "http refused"
        ),
        // Cut off on purpose: the bytes on disk are no longer the ones this route promised.
        (Err(e), Answer::File { path, .. }) if source_changed(e) => tracing::warn!(
            target: "netboot::http",
            ip = %ip, %method, file = %path, status, bytes = sent, ms, error = %e,
            "http file failed"
        ),
        (Err(e), _) => tracing::warn!(
            target: "netboot::http",
            ip = %ip, %method, target = %head.target.escape_debug(), status, bytes = sent, ms,
            error = %e,
            "http response failed"
        ),
    }
    result
}

fn source_changed(e: &io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.is::<send::SourceChanged>())
}

async fn write_answer(
    stream: &mut TcpStream,
    answer: &Answer,
    out: &response::Head,
    stall: Duration,
    sent: &mut u64,
) -> io::Result<()> {
    match answer {
        Answer::File { body, start, .. } if out.body_len > 0 => match body {
            Body::File { file, .. } => {
                send::write_head_more(stream, &out.bytes, stall).await?;
                let changed = || body.changed_since_open();
                send::send_file(stream, file, *start, out.body_len, stall, sent, &changed).await
            }
            Body::Memory(bytes) => {
                let part = &bytes[*start as usize..(*start + out.body_len) as usize];
                if out.body_len <= COALESCE {
                    let mut all = Vec::with_capacity(out.bytes.len() + part.len());
                    all.extend_from_slice(&out.bytes);
                    all.extend_from_slice(part);
                    send::write_all(stream, &all, stall).await?;
                } else {
                    send::write_all(stream, &out.bytes, stall).await?;
                    send::write_all(stream, part, stall).await?;
                }
                *sent = out.body_len;
                Ok(())
            }
        },
        _ => {
            let mut all = out.bytes.clone();
            if let Some(text) = &out.text {
                all.extend_from_slice(text.as_bytes());
            }
            send::write_all(stream, &all, stall).await
        }
    }
}

/// Closes after the last response: FIN first, then read and drop what the client still sends
/// (bounded), so the close does not reset a response the client has not read yet.
async fn linger(mut stream: TcpStream) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let deadline = tokio::time::Instant::now() + LINGER_TIME;
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    while drained < LINGER_BYTES {
        match timeout_at(deadline, stream.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => drained += n,
            _ => return,
        }
    }
}
