//! A TFTP download client: a receiver state machine fed with packets and timeouts, and a thin
//! blocking socket loop around it.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::tftp_wire::{self, Packet};
use crate::udp_batch::{Batch, BATCH};
use crate::udp_buffers;

/// What the socket loop must do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing to send; keep reading.
    Wait,
    /// Send the read request again (no answer yet).
    ResendRequest,
    Ack(u16),
    /// Send this last acknowledgement and stop: the file is complete.
    Finish(u16),
    Fail(String),
}

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    AwaitFirst,
    Receiving,
    Done,
}

/// Receives one file, following what the server accepted of the requested options.
pub struct Receiver {
    requested_blksize: u16,
    requested_windowsize: u16,
    blksize: usize,
    windowsize: u16,
    phase: Phase,
    /// The next block number wanted (wraps after 65535 to 0, as tftpd-hpa and dnsmasq do).
    expected: u16,
    /// In-order blocks since the last acknowledgement.
    in_window: u16,
    /// Whether the current gap or duplicate run has been answered already: one ACK per gap,
    /// so a burst of out-of-order blocks does not become a burst of ACKs.
    gap_acked: bool,
    tsize: Option<u64>,
    bytes: u64,
    /// Whether the last datagram was the next block in order, whose payload (after the
    /// 4-byte header) is part of the file.
    took_block: bool,
}

impl Receiver {
    pub fn new(blksize: u16, windowsize: u16) -> Self {
        Receiver {
            requested_blksize: blksize,
            requested_windowsize: windowsize.max(1),
            blksize: 512,
            windowsize: 1,
            phase: Phase::AwaitFirst,
            expected: 1,
            in_window: 0,
            gap_acked: false,
            tsize: None,
            bytes: 0,
            took_block: false,
        }
    }

    pub fn on_packet(&mut self, buf: &[u8]) -> Step {
        self.took_block = false;
        let packet = match tftp_wire::parse(buf) {
            Ok(p) => p,
            Err(e) => return Step::Fail(e),
        };
        match packet {
            Packet::Error { code, message } => {
                Step::Fail(format!("server error {code}: {message}"))
            }
            Packet::Oack(options) => match self.phase {
                Phase::AwaitFirst => match self.accept(&options) {
                    Ok(()) => {
                        self.phase = Phase::Receiving;
                        Step::Ack(0)
                    }
                    Err(e) => Step::Fail(e),
                },
                // The server did not see our ACK 0 and sent the OACK again.
                Phase::Receiving if self.expected == 1 && self.bytes == 0 => Step::Ack(0),
                _ => Step::Wait,
            },
            Packet::Data { block, payload } => {
                if self.phase == Phase::AwaitFirst {
                    // No OACK: the server ignored every option (RFC 2347), so RFC 1350 rules.
                    self.phase = Phase::Receiving;
                }
                if self.phase == Phase::Done {
                    return Step::Wait;
                }
                self.on_data(block, payload)
            }
        }
    }

    fn on_data(&mut self, block: u16, payload: &[u8]) -> Step {
        if block != self.expected {
            if self.gap_acked {
                return Step::Wait;
            }
            self.gap_acked = true;
            self.in_window = 0;
            return Step::Ack(self.expected.wrapping_sub(1));
        }
        if payload.len() > self.blksize {
            return Step::Fail(format!(
                "block {block} carries {} bytes, more than the agreed blksize {}",
                payload.len(),
                self.blksize
            ));
        }
        self.took_block = true;
        self.bytes += payload.len() as u64;
        self.expected = self.expected.wrapping_add(1);
        self.in_window += 1;
        self.gap_acked = false;
        if payload.len() < self.blksize {
            self.phase = Phase::Done;
            if let Some(tsize) = self.tsize {
                if tsize != self.bytes {
                    return Step::Fail(format!(
                        "received {} bytes, tsize said {tsize}",
                        self.bytes
                    ));
                }
            }
            return Step::Finish(block);
        }
        if self.in_window >= self.windowsize {
            self.in_window = 0;
            return Step::Ack(block);
        }
        Step::Wait
    }

    fn accept(&mut self, options: &[(String, String)]) -> Result<(), String> {
        for (name, value) in options {
            let number: u64 = value
                .parse()
                .map_err(|_| format!("OACK option {name}={value:?} is not a number"))?;
            match name.as_str() {
                "blksize" if (8..=u64::from(self.requested_blksize)).contains(&number) => {
                    self.blksize = number as usize;
                }
                "windowsize" if (1..=u64::from(self.requested_windowsize)).contains(&number) => {
                    self.windowsize = number as u16;
                }
                "tsize" => self.tsize = Some(number),
                _ => {
                    return Err(format!(
                        "OACK option {name}={value} was not asked for or is out of range"
                    ))
                }
            }
        }
        Ok(())
    }

    pub fn on_timeout(&mut self) -> Step {
        match self.phase {
            Phase::AwaitFirst => Step::ResendRequest,
            Phase::Receiving => {
                self.in_window = 0;
                self.gap_acked = false;
                Step::Ack(self.expected.wrapping_sub(1))
            }
            Phase::Done => Step::Wait,
        }
    }

    /// The file's bytes in the last datagram, if it was the next block in order.
    pub fn payload<'a>(&self, datagram: &'a [u8]) -> Option<&'a [u8]> {
        self.took_block.then(|| &datagram[4..])
    }

    pub fn negotiated(&self) -> (usize, u16) {
        (self.blksize, self.windowsize)
    }
}

/// One download to make.
#[derive(Clone, Debug)]
pub struct Request {
    pub server: SocketAddr,
    pub file: String,
    pub blksize: u16,
    pub windowsize: u16,
    /// How long to wait for a packet before retransmitting.
    pub timeout: Duration,
    /// Consecutive timeouts after which the download fails.
    pub retries: u32,
    /// The address to send from; see [`source_for`].
    pub source: IpAddr,
}

/// The address client `i` of a concurrent run sends from. Against a loopback server each
/// client gets its own loopback address (the kernel answers for all of 127/8), as each machine
/// of a boot storm has its own: servers that limit transfers per client address (netboot
/// allows 16) would otherwise see one host opening them all.
pub fn source_for(server: SocketAddr, i: usize) -> IpAddr {
    match server.ip() {
        IpAddr::V4(ip) if ip.is_loopback() => {
            let base = u32::from(Ipv4Addr::new(127, 0, 1, 1));
            IpAddr::V4(Ipv4Addr::from(base + (i as u32 % 0xff_0000)))
        }
        IpAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
        IpAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
    }
}

/// A finished download.
#[derive(Debug)]
pub struct Outcome {
    pub bytes: u64,
    pub sha256: [u8; 32],
    pub timeouts: u32,
    pub blksize: usize,
    pub windowsize: u16,
}

/// Downloads `req.file`, hashing as it goes.
pub fn fetch(req: &Request) -> Result<Outcome, String> {
    let local = SocketAddr::new(req.source, 0);
    let sock = UdpSocket::bind(local).map_err(|e| format!("bind: {e}"))?;
    // A window of 16 x 64 KiB blocks overflows the default receive buffer; every server gets
    // the same large buffer, so losses left are the server's pacing, not our socket.
    udp_buffers::enlarge_receive(&sock, 8 << 20);
    sock.set_read_timeout(Some(req.timeout))
        .map_err(|e| e.to_string())?;
    let request = tftp_wire::rrq(&req.file, req.blksize, req.windowsize, true);
    let mut rx = Receiver::new(req.blksize, req.windowsize);
    let size = usize::from(req.blksize).max(512) + 4;
    let mut first = vec![0u8; size];
    let mut batch = Batch::new(size);
    let mut hasher = Sha256::new();
    let mut peer: Option<SocketAddr> = None;
    let mut timeouts = 0u32;
    let mut consecutive = 0u32;
    sock.send_to(&request, req.server)
        .map_err(|e| format!("send request: {e}"))?;
    loop {
        // Until the server's transfer port is known, one datagram at a time with its source;
        // then the socket is connected to it. Lockstep has one datagram to read per round trip;
        // a window is read a batch per call.
        let single = peer.is_none() || rx.negotiated().1 == 1;
        let received = match peer {
            None => sock.recv_from(&mut first).map(|(n, from)| (n, Some(from))),
            Some(_) if single => sock.recv(&mut first).map(|n| (n, None)),
            Some(_) => batch.recv(&sock).map(|n| (n, None)),
        };
        let (count, from) = match received {
            Ok(r) => r,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                timeouts += 1;
                consecutive += 1;
                if consecutive > req.retries {
                    return Err(format!(
                        "no answer after {consecutive} timeouts ({} bytes in)",
                        rx.bytes
                    ));
                }
                match rx.on_timeout() {
                    Step::ResendRequest => {
                        sock.send_to(&request, req.server)
                            .map_err(|e| format!("send request: {e}"))?;
                    }
                    Step::Ack(block) => send_ack(&sock, peer, block)?,
                    _ => {}
                }
                continue;
            }
            Err(e) => return Err(format!("receive: {e}")),
        };
        if let Some(from) = from {
            if from.ip() != req.server.ip() {
                continue;
            }
            // The server answers from a fresh port (its transfer ID); only that port counts now.
            peer = Some(from);
            sock.connect(from).map_err(|e| format!("connect: {e}"))?;
        }
        consecutive = 0;
        // The blocks are hashed after the ACK is out: checking the download is the bench's
        // work, not the protocol's, and must not sit in the round trip it measures.
        let mut took = [false; BATCH];
        let mut finished = false;
        let n = if single { 1 } else { count };
        for (i, took) in took.iter_mut().enumerate().take(n) {
            let datagram = if single {
                &first[..count]
            } else {
                batch.get(i)
            };
            let step = rx.on_packet(datagram);
            *took = rx.payload(datagram).is_some();
            match step {
                Step::Wait | Step::ResendRequest => {}
                Step::Ack(block) => send_ack(&sock, peer, block)?,
                Step::Finish(block) => {
                    send_ack(&sock, peer, block)?;
                    finished = true;
                    break;
                }
                Step::Fail(e) => return Err(e),
            }
        }
        for (i, _) in took.iter().enumerate().take(n).filter(|(_, &t)| t) {
            let datagram = if single {
                &first[..count]
            } else {
                batch.get(i)
            };
            hasher.update(&datagram[4..]);
        }
        if finished {
            let (blksize, windowsize) = rx.negotiated();
            return Ok(Outcome {
                bytes: rx.bytes,
                sha256: hasher.finalize().into(),
                timeouts,
                blksize,
                windowsize,
            });
        }
    }
}

fn send_ack(sock: &UdpSocket, peer: Option<SocketAddr>, block: u16) -> Result<(), String> {
    // Once the peer is known the socket is connected to it: `send` uses the cached route,
    // where `send_to` would look it up again for every ACK.
    if peer.is_some() {
        sock.send(&tftp_wire::ack(block))
            .map_err(|e| format!("send ack {block}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(block: u16, len: usize) -> Vec<u8> {
        let mut p = vec![0, 3];
        p.extend_from_slice(&block.to_be_bytes());
        p.resize(4 + len, 0xab);
        p
    }

    #[test]
    fn plain_transfer_acks_every_block_and_finishes_on_short_block() {
        let mut rx = Receiver::new(512, 1);
        let first = data(1, 512);
        assert_eq!(rx.on_packet(&first), Step::Ack(1));
        assert_eq!(rx.payload(&first), Some(&first[4..]));
        assert_eq!(rx.on_packet(&data(2, 100)), Step::Finish(2));
        assert_eq!(rx.bytes, 612);
        // A repeat of an old block is not part of the file.
        let again = data(1, 512);
        assert_eq!(rx.on_packet(&again), Step::Wait);
        assert_eq!(rx.payload(&again), None);
    }

    #[test]
    fn oack_sets_blksize_and_window_and_acks_zero() {
        let mut rx = Receiver::new(1468, 4);
        assert_eq!(
            rx.on_packet(b"\0\x06blksize\x001468\0windowsize\x004\0tsize\x002936\0"),
            Step::Ack(0)
        );
        assert_eq!(rx.on_packet(&data(1, 1468)), Step::Wait);
        assert_eq!(rx.on_packet(&data(2, 1468)), Step::Wait);
        assert_eq!(rx.on_packet(&data(3, 0)), Step::Finish(3));
    }

    #[test]
    fn window_is_acked_when_full() {
        let mut rx = Receiver::new(512, 2);
        rx.on_packet(b"\0\x06windowsize\x002\0");
        assert_eq!(rx.on_packet(&data(1, 512)), Step::Wait);
        assert_eq!(rx.on_packet(&data(2, 512)), Step::Ack(2));
    }

    #[test]
    fn a_gap_is_acked_once_at_the_last_block_in_order() {
        let mut rx = Receiver::new(512, 8);
        rx.on_packet(b"\0\x06windowsize\x008\0");
        assert_eq!(rx.on_packet(&data(1, 512)), Step::Wait);
        assert_eq!(rx.on_packet(&data(3, 512)), Step::Ack(1));
        assert_eq!(rx.on_packet(&data(4, 512)), Step::Wait);
        assert_eq!(rx.on_packet(&data(2, 512)), Step::Wait);
        assert_eq!(rx.bytes, 1024);
    }

    #[test]
    fn block_numbers_wrap_after_65535() {
        let mut rx = Receiver::new(512, 1);
        rx.expected = 65535;
        rx.phase = Phase::Receiving;
        assert_eq!(rx.on_packet(&data(65535, 512)), Step::Ack(65535));
        assert_eq!(rx.on_packet(&data(0, 512)), Step::Ack(0));
        assert_eq!(rx.on_packet(&data(1, 0)), Step::Finish(1));
    }

    #[test]
    fn refuses_oversized_blocks_unasked_options_and_wrong_tsize() {
        let mut rx = Receiver::new(512, 1);
        assert!(matches!(rx.on_packet(&data(1, 513)), Step::Fail(_)));
        let mut rx = Receiver::new(512, 1);
        assert!(matches!(
            rx.on_packet(b"\0\x06blksize\x001468\0"),
            Step::Fail(_)
        ));
        let mut rx = Receiver::new(512, 1);
        assert!(matches!(
            rx.on_packet(b"\0\x06windowsize\x002\0"),
            Step::Fail(_)
        ));
        let mut rx = Receiver::new(512, 1);
        rx.on_packet(b"\0\x06tsize\x00999\0");
        assert!(matches!(rx.on_packet(&data(1, 10)), Step::Fail(_)));
        let mut rx = Receiver::new(512, 1);
        assert!(matches!(rx.on_packet(b"\0\x05\0\x01nope\0"), Step::Fail(_)));
    }

    #[test]
    fn timeout_resends_request_then_last_ack() {
        let mut rx = Receiver::new(512, 1);
        assert_eq!(rx.on_timeout(), Step::ResendRequest);
        rx.on_packet(&data(1, 512));
        assert_eq!(rx.on_timeout(), Step::Ack(1));
    }
}
