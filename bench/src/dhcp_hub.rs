//! One DHCP socket shared by every simulated machine of a storm, and a receiver thread that
//! hands each reply to the machine waiting for its transaction id.
//!
//! dnsmasq in proxy mode answers a DISCOVER by broadcast to the client port (a machine without
//! an address cannot take a unicast), so every machine's OFFER arrives at the one socket bound
//! to 0.0.0.0:<client port>; port-4011 answers go back to the request's source, so the 4011
//! requests leave from that same socket and their answers land there too.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::dhcp_wire::{self, Reply};
use crate::udp_buffers;

type Routes = Arc<Mutex<HashMap<u32, Sender<Reply>>>>;

/// The shared socket and its receiver thread; dropping it stops the thread.
pub struct Hub {
    sock: Arc<UdpSocket>,
    routes: Routes,
    stop: Arc<AtomicBool>,
    /// Replies no machine was waiting for (late duplicates, another run's stragglers).
    strays: Arc<AtomicU64>,
    receiver: Option<JoinHandle<()>>,
}

impl Hub {
    pub fn bind(addr: SocketAddr) -> Result<Hub, String> {
        let sock = UdpSocket::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
        sock.set_broadcast(true).map_err(|e| e.to_string())?;
        // 500 OFFERs can arrive in one burst.
        udp_buffers::enlarge_receive(&sock, 4 << 20);
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(|e| e.to_string())?;
        let sock = Arc::new(sock);
        let routes: Routes = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let strays = Arc::new(AtomicU64::new(0));
        let receiver = {
            let (sock, routes, stop, strays) = (
                Arc::clone(&sock),
                Arc::clone(&routes),
                Arc::clone(&stop),
                Arc::clone(&strays),
            );
            thread::Builder::new()
                .name("dhcp-hub".into())
                .spawn(move || receive(&sock, &routes, &stop, &strays))
                .map_err(|e| format!("spawn the DHCP receiver: {e}"))?
        };
        Ok(Hub {
            sock,
            routes,
            stop,
            strays,
            receiver: Some(receiver),
        })
    }

    pub fn strays(&self) -> u64 {
        self.strays.load(Ordering::Relaxed)
    }

    /// Sends `packet` to `to` and waits for a reply with `xid` that `wanted` accepts,
    /// retransmitting after each wait of `schedule` (firmware backs off 1 s, 2 s, 4 s...), and
    /// never past `deadline`. Other replies with the same xid are skipped.
    pub fn exchange(
        &self,
        xid: u32,
        packet: &[u8],
        to: SocketAddr,
        schedule: &[Duration],
        deadline: Instant,
        wanted: impl Fn(&Reply) -> bool,
    ) -> Result<Reply, String> {
        let rx = self.register(xid);
        let result = self.wait(&rx, packet, to, schedule, deadline, wanted);
        self.lock().remove(&xid);
        result
    }

    fn wait(
        &self,
        rx: &Receiver<Reply>,
        packet: &[u8],
        to: SocketAddr,
        schedule: &[Duration],
        deadline: Instant,
        wanted: impl Fn(&Reply) -> bool,
    ) -> Result<Reply, String> {
        for (attempt, wait) in schedule.iter().enumerate() {
            self.sock
                .send_to(packet, to)
                .map_err(|e| format!("send to {to}: {e}"))?;
            let until = (Instant::now() + *wait).min(deadline);
            loop {
                let left = until.saturating_duration_since(Instant::now());
                match rx.recv_timeout(left) {
                    Ok(reply) if wanted(&reply) => return Ok(reply),
                    Ok(_) => continue,
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => {
                        return Err("the DHCP receiver stopped".into())
                    }
                }
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no answer from {to} before the deadline ({} tries)",
                    attempt + 1
                ));
            }
        }
        Err(format!(
            "no answer from {to} after {} tries",
            schedule.len()
        ))
    }

    fn register(&self, xid: u32) -> Receiver<Reply> {
        let (tx, rx) = mpsc::channel();
        self.lock().insert(xid, tx);
        rx
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Sender<Reply>>> {
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(receiver) = self.receiver.take() {
            let _ = receiver.join();
        }
    }
}

fn receive(sock: &UdpSocket, routes: &Routes, stop: &AtomicBool, strays: &AtomicU64) {
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::Relaxed) {
        let n = match sock.recv_from(&mut buf) {
            Ok((n, _)) => n,
            // The read timeout (so `stop` is seen) or any other error: read again.
            Err(_) => continue,
        };
        // Our own broadcasts and requests are not replies; neither is garbage.
        let Ok(reply) = dhcp_wire::parse_reply(&buf[..n]) else {
            continue;
        };
        let route = routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&reply.xid)
            .cloned();
        match route {
            Some(tx) => {
                let _ = tx.send(reply);
            }
            None => {
                strays.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply as a server would send it, for the hub's real socket on loopback.
    fn offer(xid: u32) -> Vec<u8> {
        let mut p = vec![0u8; 236];
        p[0] = 2;
        p[4..8].copy_from_slice(&xid.to_be_bytes());
        p.extend_from_slice(&dhcp_wire::COOKIE);
        p.extend_from_slice(&[53, 1, 2, 255]);
        p
    }

    #[test]
    fn routes_replies_by_xid_on_a_real_socket() {
        let hub = Hub::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let hub_addr = hub.sock.local_addr().unwrap();
        // A "server" that answers every request with two replies: another xid, then the same.
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let server_addr = server.local_addr().unwrap();
        let answering = thread::spawn(move || {
            let mut buf = [0u8; 1500];
            let (n, from) = server.recv_from(&mut buf).unwrap();
            let xid = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
            assert_eq!(from, hub_addr);
            assert_eq!(n, 8);
            server.send_to(&offer(xid + 1), from).unwrap();
            server.send_to(&offer(xid), from).unwrap();
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        let reply = hub
            .exchange(
                0x42,
                &[1, 1, 6, 0, 0, 0, 0, 0x42],
                server_addr,
                &[Duration::from_secs(10)],
                deadline,
                |_| true,
            )
            .unwrap();
        answering.join().unwrap();
        assert_eq!(reply.xid, 0x42);
        assert_eq!(reply.message_type, Some(2));
    }

    #[test]
    fn gives_up_after_the_schedule() {
        let hub = Hub::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        // Nobody listens here (a bound socket that never answers).
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let err = hub
            .exchange(
                1,
                &[0],
                silent.local_addr().unwrap(),
                &[Duration::from_millis(10), Duration::from_millis(10)],
                Instant::now() + Duration::from_secs(10),
                |_| true,
            )
            .unwrap_err();
        assert!(err.contains("after 2 tries"), "{err}");
    }
}
