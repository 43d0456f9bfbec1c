//! The table of transfers in flight, keyed by the client's address and port.
//!
//! A second read request from the same address and port is either the client repeating a
//! request we already answered (our OACK or first DATA was lost or slow), or the client moving
//! on (a new file, or the same file again after it gave up or finished while our view lags
//! behind). A repeat has the same bytes and arrives while the client has not acknowledged
//! anything yet, or while it is still acknowledging this transfer's blocks: under a boot storm
//! our answer can take longer than the client's retransmission timer, so its repeat is read
//! after it has started acknowledging. The running transfer's own retransmission answers a
//! repeat, and it is dropped. Anything else is the client moving on: the old transfer is told
//! to stop and the new one starts. Some clients (tftp-hpa's interactive mode) send every
//! request from one port, so refusing those until the old transfer times out would stall them
//! for half a minute; a client that finished (our last block is out) or went quiet for
//! [`GAVE_UP_AFTER`] gets its new transfer at once.
//!
//! Each client address (IP, whatever its ports) may hold only a few places at once, so one host
//! sending read requests it never acknowledges cannot take every place for the half minute each
//! takes to time out and lock every other machine out of booting.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// A client whose last acknowledgement is older than this, sending its request again, has
/// given up on the transfer. A client still receiving acknowledges within its round trip, and
/// gives up only after several of its own timeouts without data.
pub const GAVE_UP_AFTER: Duration = Duration::from_secs(2);

/// What a transfer tells the listener about its client, to tell a repeated request from a new
/// one. Written by the transfer task on every acknowledgement; read under the table's lock.
#[derive(Debug)]
pub struct Progress {
    /// Milliseconds from `epoch` to the client's latest acknowledgement, plus one; 0 for none.
    last_ack: AtomicU64,
    /// Our last block has been sent: the client may be done and asking again.
    last_block_sent: AtomicBool,
    epoch: Instant,
}

impl Progress {
    fn new(epoch: Instant) -> Progress {
        Progress {
            last_ack: AtomicU64::new(0),
            last_block_sent: AtomicBool::new(false),
            epoch,
        }
    }

    /// The client acknowledged something at `now`; `last_block_sent` as the transfer says.
    pub fn acked(&self, now: Instant, last_block_sent: bool) {
        let ms = now.saturating_duration_since(self.epoch).as_millis() as u64;
        self.last_ack.store(ms + 1, Ordering::Release);
        self.last_block_sent
            .store(last_block_sent, Ordering::Release);
    }

    /// Whether the same request arriving at `now` is a repeat of the one this transfer answers.
    fn is_repeat(&self, now: Instant) -> bool {
        let last = self.last_ack.load(Ordering::Acquire);
        if last == 0 {
            return true;
        }
        if self.last_block_sent.load(Ordering::Acquire) {
            return false;
        }
        let since = Duration::from_millis(last - 1);
        now.saturating_duration_since(self.epoch + since) < GAVE_UP_AFTER
    }
}

/// The transfers in flight; cheap to share between the listener and the transfer tasks.
#[derive(Clone)]
pub struct Transfers {
    table: Arc<Mutex<Table>>,
    /// The zero of every [`Progress`] clock.
    epoch: Instant,
    /// Tickets alive, replaced ones included: read on every block, so kept outside the lock.
    in_flight: Arc<AtomicUsize>,
    max: usize,
    max_per_client: usize,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    entries: HashMap<SocketAddr, Entry>,
    /// Entries per client IP, kept with `entries` so admitting stays constant work.
    per_client: HashMap<IpAddr, usize>,
}

impl Table {
    fn insert(&mut self, peer: SocketAddr, entry: Entry) {
        self.entries.insert(peer, entry);
        *self.per_client.entry(peer.ip()).or_default() += 1;
    }

    fn remove(&mut self, peer: SocketAddr) {
        if self.entries.remove(&peer).is_none() {
            return;
        }
        if let Some(n) = self.per_client.get_mut(&peer.ip()) {
            *n -= 1;
            if *n == 0 {
                self.per_client.remove(&peer.ip());
            }
        }
    }

    fn held_by(&self, ip: IpAddr) -> usize {
        self.per_client.get(&ip).copied().unwrap_or(0)
    }
}

struct Entry {
    id: u64,
    request: Vec<u8>,
    progress: Arc<Progress>,
    cancel: Arc<Notify>,
}

/// What to do with a read request.
pub enum Admission {
    Start(Ticket),
    /// A repeat of the request a running transfer is answering.
    Duplicate,
    /// Too many transfers in flight.
    Busy,
    /// Too many transfers in flight for this client's IP.
    ClientBusy,
}

/// A transfer's place in the table, given back when dropped.
pub struct Ticket {
    table: Arc<Mutex<Table>>,
    in_flight: Arc<AtomicUsize>,
    peer: SocketAddr,
    id: u64,
    /// Updated by the transfer on every acknowledgement.
    pub progress: Arc<Progress>,
    /// Notified when a newer request from the same client replaces this transfer.
    pub cancel: Arc<Notify>,
}

impl Transfers {
    /// At most `max` transfers in flight, and `max_per_client` of them from one IP.
    pub fn new(max: usize, max_per_client: usize) -> Transfers {
        Transfers {
            table: Arc::default(),
            epoch: Instant::now(),
            in_flight: Arc::default(),
            max,
            max_per_client,
        }
    }

    /// Decides on the read request `request` (the datagram as received) from `peer`, read at
    /// `now`.
    pub fn admit(&self, peer: SocketAddr, request: &[u8], now: Instant) -> Admission {
        let mut table = match self.table.lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(old) = table.entries.get(&peer) {
            if old.request == request && old.progress.is_repeat(now) {
                return Admission::Duplicate;
            }
            old.cancel.notify_one();
            table.remove(peer);
        }
        if table.entries.len() >= self.max {
            return Admission::Busy;
        }
        if table.held_by(peer.ip()) >= self.max_per_client {
            return Admission::ClientBusy;
        }
        table.next_id += 1;
        let id = table.next_id;
        let progress = Arc::new(Progress::new(self.epoch));
        let cancel = Arc::new(Notify::new());
        table.insert(
            peer,
            Entry {
                id,
                request: request.to_vec(),
                progress: Arc::clone(&progress),
                cancel: Arc::clone(&cancel),
            },
        );
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Admission::Start(Ticket {
            table: Arc::clone(&self.table),
            in_flight: Arc::clone(&self.in_flight),
            peer,
            id,
            progress,
            cancel,
        })
    }

    /// Transfers in flight.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.table.lock().map(|t| t.entries.len()).unwrap_or(0)
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Ticket {
    /// Whether this is the only transfer in flight.
    pub fn alone(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 1
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        let mut table = match self.table.lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        // A replaced transfer ends after its successor took the key: leave that one alone.
        if table
            .entries
            .get(&self.peer)
            .is_some_and(|e| e.id == self.id)
        {
            table.remove(self.peer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], port))
    }

    fn start(a: Admission) -> Ticket {
        match a {
            Admission::Start(t) => t,
            Admission::Duplicate => panic!("unexpected Duplicate"),
            Admission::Busy => panic!("unexpected Busy"),
            Admission::ClientBusy => panic!("unexpected ClientBusy"),
        }
    }

    #[test]
    fn a_repeated_request_is_a_duplicate_while_the_client_is_still_receiving() {
        let t = Transfers::new(8, 8);
        let t0 = Instant::now();
        let first = start(t.admit(peer(1), b"req", t0));
        assert!(matches!(t.admit(peer(1), b"req", t0), Admission::Duplicate));
        // Our answer was slow: the client's repeat is read after it began acknowledging.
        first.progress.acked(t0 + ms(100), false);
        assert!(matches!(
            t.admit(peer(1), b"req", t0 + ms(150)),
            Admission::Duplicate
        ));
        assert!(matches!(
            t.admit(peer(1), b"req", t0 + ms(100) + GAVE_UP_AFTER - ms(1)),
            Admission::Duplicate
        ));
        // Quiet for GAVE_UP_AFTER, then the same request: it gave up and starts over.
        let second = start(t.admit(peer(1), b"req", t0 + ms(100) + GAVE_UP_AFTER));
        assert_eq!(t.len(), 1);
        // The replaced transfer ending does not free its successor's place.
        drop(first);
        assert_eq!(t.len(), 1);
        // Our last block is out and acknowledged before it: the client may be done, and the
        // same request again (tftp-hpa from one port, its last ACK lost) is a new transfer.
        second.progress.acked(t0 + ms(5000), true);
        let third = start(t.admit(peer(1), b"req", t0 + ms(5001)));
        drop(second);
        drop(third);
        assert!(t.is_empty());
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[tokio::test]
    async fn a_different_request_replaces_and_cancels_the_old_transfer() {
        let t = Transfers::new(8, 8);
        let first = start(t.admit(peer(1), b"a", Instant::now()));
        let _second = start(t.admit(peer(1), b"b", Instant::now()));
        // notify_one stored a permit, so the old transfer sees it even if it was not waiting.
        let cancelled =
            tokio::time::timeout(std::time::Duration::from_secs(1), first.cancel.notified());
        assert!(cancelled.await.is_ok());
    }

    #[test]
    fn the_limit_counts_transfers_in_flight() {
        let t = Transfers::new(2, 2);
        let a = start(t.admit(peer(1), b"x", Instant::now()));
        let _b = start(t.admit(peer(2), b"x", Instant::now()));
        assert!(matches!(
            t.admit(peer(3), b"x", Instant::now()),
            Admission::Busy
        ));
        drop(a);
        let _c = start(t.admit(peer(3), b"x", Instant::now()));
    }

    #[test]
    fn a_transfer_is_alone_only_while_no_other_is_in_flight() {
        let t = Transfers::new(8, 8);
        let a = start(t.admit(peer(1), b"x", Instant::now()));
        assert!(a.alone());
        let b = start(t.admit(peer(2), b"x", Instant::now()));
        assert!(!a.alone() && !b.alone());
        drop(b);
        assert!(a.alone());
        // A replaced transfer still runs until it sees the cancel: it still counts.
        let c = start(t.admit(peer(1), b"y", Instant::now()));
        assert!(!c.alone());
        drop(a);
        assert!(c.alone());
    }

    #[test]
    fn one_client_ip_gets_only_its_share_of_the_places() {
        let t = Transfers::new(8, 2);
        let other = SocketAddr::from(([192, 0, 2, 2], 1));
        let a = start(t.admit(peer(1), b"x", Instant::now()));
        let _b = start(t.admit(peer(2), b"x", Instant::now()));
        // Another port of the same host is the same client.
        assert!(matches!(
            t.admit(peer(3), b"x", Instant::now()),
            Admission::ClientBusy
        ));
        let _c = start(t.admit(other, b"x", Instant::now()));
        // Replacing a transfer from the same port keeps the client's count.
        let _a2 = start(t.admit(peer(1), b"y", Instant::now()));
        assert!(matches!(
            t.admit(peer(3), b"x", Instant::now()),
            Admission::ClientBusy
        ));
        drop(a); // the replaced one ending frees nothing
        assert!(matches!(
            t.admit(peer(3), b"x", Instant::now()),
            Admission::ClientBusy
        ));
        drop(_a2);
        let _d = start(t.admit(peer(3), b"x", Instant::now()));
    }
}
