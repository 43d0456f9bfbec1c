//! The transfers in flight, HTTP and TFTP together, so a stopping server can give them a moment
//! to finish and name each one it cuts short (a client that saw its download break should find
//! why in the log, not a silence).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use netboot_manifest::Protocol;
use tokio::sync::watch;

/// The table of transfers in flight; cheap to clone (clones share the table).
#[derive(Debug, Clone)]
pub struct InFlight {
    table: Arc<watch::Sender<Table>>,
}

#[derive(Debug, Default)]
struct Table {
    next: u64,
    transfers: BTreeMap<u64, Transfer>,
}

/// One transfer in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub protocol: Protocol,
    pub ip: IpAddr,
    /// The route as the manifest names it.
    pub file: String,
    /// Bytes the transfer is to deliver.
    pub size: u64,
    pub started: Instant,
}

/// Keeps its transfer in the table until dropped, however the transfer ends.
#[derive(Debug)]
#[must_use = "the transfer leaves the table when this is dropped"]
pub struct Entered {
    id: u64,
    table: Arc<watch::Sender<Table>>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        self.table.send_modify(|t| {
            t.transfers.remove(&self.id);
        });
    }
}

impl Default for InFlight {
    fn default() -> Self {
        InFlight {
            table: Arc::new(watch::Sender::new(Table::default())),
        }
    }
}

impl InFlight {
    /// Records a transfer of `size` bytes of `file` to `ip` starting now.
    pub fn enter(&self, protocol: Protocol, ip: IpAddr, file: &str, size: u64) -> Entered {
        let transfer = Transfer {
            protocol,
            ip,
            file: file.to_owned(),
            size,
            started: Instant::now(),
        };
        let mut id = 0;
        self.table.send_modify(|t| {
            id = t.next;
            t.next += 1;
            t.transfers.insert(id, transfer);
        });
        Entered {
            id,
            table: Arc::clone(&self.table),
        }
    }

    /// The transfers in flight, oldest first.
    pub fn list(&self) -> Vec<Transfer> {
        self.table.borrow().transfers.values().cloned().collect()
    }

    /// Waits until no transfer is in flight, or `grace` has passed; returns the transfers
    /// still in flight then.
    pub async fn settle(&self, grace: Duration) -> Vec<Transfer> {
        let mut changes = self.table.subscribe();
        let idle = changes.wait_for(|t| t.transfers.is_empty());
        // The sender lives in `self`, so the wait can only end by the table emptying.
        let _ = tokio::time::timeout(grace, idle).await;
        self.list()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[test]
    fn a_transfer_is_listed_until_its_entry_is_dropped() {
        let in_flight = InFlight::default();
        let a = in_flight.enter(Protocol::Http, IP, "artifacts/kernel", 10);
        let b = in_flight.enter(Protocol::Tftp, IP, "undionly.kpxe", 20);
        let files: Vec<String> = in_flight.list().into_iter().map(|t| t.file).collect();
        assert_eq!(files, ["artifacts/kernel", "undionly.kpxe"]);
        drop(a);
        let files: Vec<String> = in_flight.list().into_iter().map(|t| t.file).collect();
        assert_eq!(files, ["undionly.kpxe"]);
        drop(b);
        assert!(in_flight.list().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn settle_returns_once_the_last_transfer_ends() {
        let in_flight = InFlight::default();
        let entered = in_flight.enter(Protocol::Http, IP, "artifacts/kernel", 10);
        let ends = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            drop(entered);
        });
        let started = tokio::time::Instant::now();
        assert!(in_flight.settle(Duration::from_secs(5)).await.is_empty());
        // Paused time: exactly when the transfer ended, not at the end of the grace.
        assert_eq!(started.elapsed(), Duration::from_secs(1));
        ends.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn settle_gives_up_after_the_grace_and_names_what_is_left() {
        let in_flight = InFlight::default();
        let _stuck = in_flight.enter(Protocol::Tftp, IP, "undionly.kpxe", 20);
        let started = tokio::time::Instant::now();
        let left = in_flight.settle(Duration::from_secs(5)).await;
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].file, "undionly.kpxe");
    }
}
