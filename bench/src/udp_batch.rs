//! Reading many datagrams per system call: a windowed TFTP transfer delivers up to a window of
//! blocks at once, and a client that makes one `recv` per block spends more time in system
//! calls than the server does sending them in one GSO write. Every server is read the same way.

use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;

/// Datagrams read per call at most.
pub const BATCH: usize = 32;

/// Reusable buffers for `recvmmsg` on a connected socket.
pub struct Batch {
    bufs: Vec<Vec<u8>>,
    lens: Vec<usize>,
}

impl Batch {
    /// Room for `BATCH` datagrams of up to `size` bytes each.
    pub fn new(size: usize) -> Batch {
        Batch {
            bufs: vec![vec![0u8; size]; BATCH],
            lens: vec![0; BATCH],
        }
    }

    /// Waits (up to the socket's read timeout) for one datagram, then takes every other one
    /// already queued, up to `BATCH`. Returns how many; a timeout is `WouldBlock`/`TimedOut`.
    pub fn recv(&mut self, sock: &UdpSocket) -> io::Result<usize> {
        let mut iov: Vec<libc::iovec> = self
            .bufs
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            })
            .collect();
        let mut msgs: Vec<libc::mmsghdr> = iov
            .iter_mut()
            .map(|v| {
                // SAFETY: an all-zero mmsghdr is a valid "no name, no control" header.
                let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
                m.msg_hdr.msg_iov = v;
                m.msg_hdr.msg_iovlen = 1;
                m
            })
            .collect();
        // SAFETY: every header points at a live iovec over a live buffer of the stated length,
        // and `msgs` outlives the call.
        let n = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                msgs.as_mut_ptr(),
                msgs.len() as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        for (len, m) in self.lens.iter_mut().zip(&msgs[..n]) {
            *len = m.msg_len as usize;
        }
        Ok(n)
    }

    /// Datagram `i` of the last [`Batch::recv`].
    pub fn get(&self, i: usize) -> &[u8] {
        &self.bufs[i][..self.lens[i]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn reads_every_queued_datagram_in_one_call_and_times_out_when_empty() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        a.connect(b.local_addr().unwrap()).unwrap();
        b.connect(a.local_addr().unwrap()).unwrap();
        a.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        for i in 0..5u8 {
            b.send(&[i; 3]).unwrap();
        }
        let mut batch = Batch::new(16);
        let mut got = Vec::new();
        while got.len() < 5 {
            let n = batch.recv(&a).unwrap();
            got.extend((0..n).map(|i| batch.get(i).to_vec()));
        }
        assert_eq!(got, (0..5u8).map(|i| vec![i; 3]).collect::<Vec<_>>());
        let e = batch.recv(&a).unwrap_err();
        assert!(matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ));
    }
}
