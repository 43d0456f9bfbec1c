//! TFTP on loopback: the runtime's server over a hand-made manifest, and a bare client that
//! can do what real clients cannot be made to do (duplicate ACKs, silence, hostile requests).

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use netboot_runtime::tftp::{TftpConfig, TftpServer};
use netboot_runtime::Snapshot;

pub use crate::loopback::Running;
pub use crate::served_files::{pattern, File};

/// A snapshot serving `files` over TFTP only; disk files are written under `dir`.
pub fn snapshot(files: &[File], dir: &Path) -> Arc<Snapshot> {
    crate::served_files::snapshot(files, dir, crate::served_files::Over::Tftp)
}

/// A TFTP server on 127.0.0.1 with its own runtime; dropping it stops everything.
pub fn start(snap: Arc<Snapshot>) -> Running {
    start_with(snap, TftpConfig::default())
}

pub fn start_with(snap: Arc<Snapshot>, mut config: TftpConfig) -> Running {
    config.bind = "127.0.0.1:0".parse().unwrap();
    start_bound(snap, config)
}

/// Like [`start_with`] but on `config.bind` as given.
pub fn start_bound(snap: Arc<Snapshot>, config: TftpConfig) -> Running {
    Running::spawn(snap, |rx| async move {
        let server = TftpServer::bind(&config, rx)
            .await
            .expect("bind TFTP on loopback");
        let addr = server.local_addr().unwrap();
        (addr, server.run())
    })
}

/// A bare TFTP client on its own port.
pub struct Client {
    pub sock: UdpSocket,
    pub server: SocketAddr,
}

impl Client {
    pub fn new(server: SocketAddr) -> Client {
        Client::from_ip([127, 0, 0, 1], server)
    }

    /// A client on its own port of `ip`, a loopback address (the kernel answers for all of
    /// 127/8): how one test stands in for several machines.
    pub fn from_ip(ip: [u8; 4], server: SocketAddr) -> Client {
        let sock = UdpSocket::bind(SocketAddr::from((ip, 0))).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        Client { sock, server }
    }

    pub fn request(&self, opcode: u16, name: &[u8], mode: &str, options: &[(&str, &str)]) {
        let mut p = opcode.to_be_bytes().to_vec();
        p.extend_from_slice(name);
        p.push(0);
        p.extend_from_slice(mode.as_bytes());
        p.push(0);
        for (n, v) in options {
            p.extend_from_slice(n.as_bytes());
            p.push(0);
            p.extend_from_slice(v.as_bytes());
            p.push(0);
        }
        self.sock.send_to(&p, self.server).unwrap();
    }

    pub fn read(&self, name: &str, options: &[(&str, &str)]) {
        self.request(1, name.as_bytes(), "octet", options);
    }

    /// The next datagram and where it came from, or `None` after `wait`.
    pub fn recv_within(&self, wait: Duration) -> Option<(Vec<u8>, SocketAddr)> {
        self.sock.set_read_timeout(Some(wait)).unwrap();
        let mut buf = vec![0u8; 70_000];
        match self.sock.recv_from(&mut buf) {
            Ok((n, from)) => Some((buf[..n].to_vec(), from)),
            Err(_) => None,
        }
    }

    pub fn recv(&self) -> (Vec<u8>, SocketAddr) {
        self.recv_within(Duration::from_secs(5))
            .expect("the server answers within 5 s")
    }

    pub fn ack(&self, tid: SocketAddr, block: u16) {
        let mut p = 4u16.to_be_bytes().to_vec();
        p.extend_from_slice(&block.to_be_bytes());
        self.sock.send_to(&p, tid).unwrap();
    }
}

pub fn opcode(p: &[u8]) -> u16 {
    u16::from_be_bytes([p[0], p[1]])
}

pub fn block(p: &[u8]) -> u16 {
    u16::from_be_bytes([p[2], p[3]])
}

/// Asserts `p` is a TFTP ERROR with `code`.
pub fn expect_error(p: &[u8], code: u16) {
    assert_eq!(opcode(p), 5, "expected ERROR {code}, got {p:?}");
    assert_eq!(block(p), code, "{}", String::from_utf8_lossy(&p[4..]));
}

impl Client {
    /// Downloads `name` with blksize and windowsize negotiated, acknowledging each window's
    /// last block; returns the bytes.
    pub fn fetch(&self, name: &str, blksize: u16, windowsize: u16) -> Vec<u8> {
        let (b, w) = (blksize.to_string(), windowsize.to_string());
        self.read(name, &[("blksize", &b), ("windowsize", &w)]);
        let (oack, tid) = self.recv();
        assert_eq!(opcode(&oack), 6, "expected an OACK");
        self.ack(tid, 0);
        self.sock
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = vec![0u8; 4 + usize::from(blksize)];
        let mut got = Vec::new();
        let mut in_window = 0;
        let mut expect = 1u16;
        loop {
            let n = self.sock.recv(&mut buf).expect("DATA within 5 s");
            let p = &buf[..n];
            assert_eq!(opcode(p), 3);
            if block(p) != expect {
                // A retransmission the server sent before our ACK reached it (a loaded test
                // machine): already have it.
                continue;
            }
            expect = expect.wrapping_add(1);
            got.extend_from_slice(&p[4..]);
            in_window += 1;
            let done = p.len() < 4 + usize::from(blksize);
            if done || in_window == windowsize {
                self.ack(tid, block(p));
                in_window = 0;
            }
            if done {
                return got;
            }
        }
    }
}
