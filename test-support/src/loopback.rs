//! A runtime server (TFTP, HTTP) running on 127.0.0.1 on a tokio runtime of its own, so a
//! blocking test can talk to it with plain sockets.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use netboot_runtime::Snapshot;
use tokio::sync::watch;

/// A server on loopback; dropping it stops the server and its runtime.
pub struct Running {
    pub addr: SocketAddr,
    /// Sends the server a new snapshot, as a reload does.
    pub snapshots: watch::Sender<Arc<Snapshot>>,
    /// The server's run loop, for [`Running::stop`].
    run: tokio::task::JoinHandle<()>,
    // Held so the server lives as long as this value.
    runtime: tokio::runtime::Runtime,
}

impl Running {
    /// Starts a server over `snap`: `bind` gets the snapshot channel and returns the bound
    /// address and the server's run loop.
    pub(crate) fn spawn<B, F, R>(snap: Arc<Snapshot>, bind: B) -> Running
    where
        B: FnOnce(watch::Receiver<Arc<Snapshot>>) -> F,
        F: Future<Output = (SocketAddr, R)>,
        R: Future<Output = ()> + Send + 'static,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (tx, rx) = watch::channel(snap);
        let (addr, run) = runtime.block_on(bind(rx));
        let run = runtime.spawn(run);
        Running {
            addr,
            snapshots: tx,
            run,
            runtime,
        }
    }

    /// Aborts the server's run loop, as `Runtime::stop` does, and waits until it is gone;
    /// the async runtime (and anything else still running on it) lives on.
    pub fn stop(&mut self) {
        self.run.abort();
        let _ = self.runtime.block_on(&mut self.run);
    }
}
