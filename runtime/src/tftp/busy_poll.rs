//! Waiting for a lone fast client's ACK by polling its socket for a few tens of microseconds
//! instead of sleeping on it.
//!
//! Lockstep TFTP (windowsize 1, which is what every PXE ROM speaks) sends one block per round
//! trip, so its throughput is the inverse of the round trip. Measured on loopback, a
//! 1468-byte round trip took about 31 µs, and a good part of it was the server going to sleep
//! in `epoll_wait` after each block and being woken again: a context switch, plus an
//! inter-processor interrupt from the client's CPU when the server's is idle, which in a
//! virtual machine also means a VM exit. Polling the socket without sleeping removes all of
//! it, and the client's ACK finds no sleeper to wake. This is what the kernel's own
//! `SO_BUSY_POLL` does for NIC queues; loopback and UDP sockets have no such queue, so it is
//! done here.
//!
//! Polling burns the CPU it waits on, so it is bounded three ways: only a transfer that is
//! alone (with two or more in flight the worker threads have better things to do), only while
//! the client answers quickly (its smoothed round trip at most half of [`MAX_POLL`], so a slow
//! firmware or a long link never sees a spin), and never longer than a few round trips per ACK.

use std::io;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

/// The longest one ACK is polled for.
pub const MAX_POLL: Duration = Duration::from_micros(200);
/// The shortest poll worth starting: below this the first sleep would cost more.
const MIN_POLL: Duration = Duration::from_micros(20);

/// The policy: whether and how long to poll for the next ACK, from the round trips seen so far.
#[derive(Debug, Default, Clone)]
pub struct BusyPoll {
    /// Smoothed round trip (RFC 6298's 1/8 gain), from a send to the client's next datagram.
    srtt: Option<Duration>,
}

impl BusyPoll {
    /// How long to poll for the client's next datagram, or `None` to sleep on the socket at
    /// once. `alone` says whether this is the only transfer in flight.
    pub fn budget(&self, alone: bool) -> Option<Duration> {
        if !alone {
            return None;
        }
        match self.srtt {
            // Nothing measured yet: one full poll finds out.
            None => Some(MAX_POLL),
            Some(rtt) if rtt <= MAX_POLL / 2 => Some((rtt * 4).clamp(MIN_POLL, MAX_POLL)),
            Some(_) => None,
        }
    }

    /// The client's datagram arrived `rtt` after our last send.
    pub fn observe(&mut self, rtt: Duration) {
        self.srtt = Some(match self.srtt {
            None => rtt,
            Some(s) => (s * 7 + rtt) / 8,
        });
    }
}

/// Polls the (non-blocking, connected) socket for one datagram for at most `budget`.
/// `None` when nothing came in time; the caller then sleeps on the socket as usual.
pub fn recv(socket: &UdpSocket, buf: &mut [u8], budget: Duration) -> Option<io::Result<usize>> {
    imp::recv(socket, buf, Instant::now() + budget)
}

mod imp {
    use std::io;
    use std::os::fd::AsRawFd;
    use std::time::Instant;

    use tokio::net::UdpSocket;

    pub fn recv(socket: &UdpSocket, buf: &mut [u8], until: Instant) -> Option<io::Result<usize>> {
        // tokio's own try_recv returns WouldBlock without asking the kernel until its
        // readiness flag is set, which only the sleep we avoid would do: ask the kernel.
        let fd = socket.as_raw_fd();
        loop {
            // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the whole call.
            let n =
                unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
            if let Ok(n) = usize::try_from(n) {
                return Some(Ok(n));
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock => {}
                io::ErrorKind::Interrupted => continue,
                _ => return Some(Err(e)),
            }
            if Instant::now() >= until {
                return None;
            }
            std::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn a_transfer_that_is_not_alone_never_polls() {
        let mut p = BusyPoll::default();
        assert_eq!(p.budget(false), None);
        p.observe(us(10));
        assert_eq!(p.budget(false), None);
    }

    #[test]
    fn the_first_ack_is_polled_for_the_full_budget() {
        assert_eq!(BusyPoll::default().budget(true), Some(MAX_POLL));
    }

    #[test]
    fn a_fast_client_is_polled_for_a_few_round_trips() {
        let mut p = BusyPoll::default();
        p.observe(us(30));
        assert_eq!(p.budget(true), Some(us(120)));
        // Very fast: the floor keeps the poll long enough to catch jitter.
        let mut p = BusyPoll::default();
        p.observe(us(2));
        assert_eq!(p.budget(true), Some(MIN_POLL));
        // At the limit the poll is capped.
        let mut p = BusyPoll::default();
        p.observe(MAX_POLL / 2);
        assert_eq!(p.budget(true), Some(MAX_POLL));
    }

    #[test]
    fn a_slow_client_is_slept_on_and_polled_again_once_it_speeds_up() {
        let mut p = BusyPoll::default();
        p.observe(us(900)); // firmware on a real link, say
        assert_eq!(p.budget(true), None);
        for _ in 0..30 {
            p.observe(us(25));
        }
        let budget = p.budget(true).expect("polls again");
        assert!(budget > us(100) && budget < MAX_POLL, "{budget:?}");
    }

    #[test]
    fn one_stall_does_not_stop_polling_a_fast_client() {
        let mut p = BusyPoll::default();
        for _ in 0..10 {
            p.observe(us(30));
        }
        // The client was preempted once (the poll missed; the ACK came after a sleep).
        p.observe(us(300));
        assert!(p.budget(true).is_some());
    }

    #[tokio::test]
    async fn recv_returns_a_waiting_datagram_and_gives_up_on_silence() {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.connect(b.local_addr().unwrap()).await.unwrap();
        b.connect(a.local_addr().unwrap()).await.unwrap();
        let mut buf = [0u8; 16];
        assert!(recv(&a, &mut buf, us(50)).is_none());
        b.send(b"ack").await.unwrap();
        let n = recv(&a, &mut buf, Duration::from_secs(1))
            .expect("a datagram")
            .unwrap();
        assert_eq!(&buf[..n], b"ack");
        // Once read it is gone, and tokio's own receive path still works after it.
        assert!(recv(&a, &mut buf, us(50)).is_none());
        b.send(b"two").await.unwrap();
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"two");
    }
}
