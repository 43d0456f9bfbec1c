//! Sending a whole window of DATA datagrams with as few system calls and as little per-packet
//! kernel work as the platform allows. On Linux a window whose datagrams share one size (all
//! but a shorter last one, which is how DATA blocks come) goes out as one UDP GSO send: the
//! kernel walks its stack once and cuts the datagrams at the end. Where GSO is refused the
//! window goes out with one `sendmmsg`.

use std::io;

use tokio::net::UdpSocket;

/// How a transfer's socket sends; remembers that GSO failed so it is tried only once.
#[derive(Debug)]
pub struct Sender {
    gso: bool,
}

impl Default for Sender {
    fn default() -> Self {
        Sender { gso: true }
    }
}

impl Sender {
    /// Sends the datagrams in `bytes` (datagram `i` ends at `ends[i]`), in order, on a
    /// connected socket.
    pub async fn send_all(
        &mut self,
        socket: &UdpSocket,
        bytes: &[u8],
        ends: &[usize],
    ) -> io::Result<()> {
        match ends.len() {
            0 => return Ok(()),
            1 => return socket.send(bytes).await.map(drop),
            _ => {}
        }
        imp::send_all(self, socket, bytes, ends).await
    }
}

/// Splits `ends` into runs that one GSO send can carry: equal-sized datagrams with at most a
/// shorter last one, at most `max_segments` of them and `max_bytes` in all. Returns the number
/// of datagrams in the first run (at least one).
pub fn gso_run(ends: &[usize], max_segments: usize, max_bytes: usize) -> usize {
    let Some(&first) = ends.first() else {
        return 0;
    };
    let size = first;
    let mut n = 1;
    let mut start = first;
    while n < ends.len() && n < max_segments {
        let len = ends[n] - start;
        if len > size || ends[n] > max_bytes {
            break;
        }
        n += 1;
        start = ends[n - 1];
        if len < size {
            break;
        }
    }
    n
}

mod imp {
    use std::io;
    use std::os::fd::AsRawFd;

    use tokio::io::Interest;
    use tokio::net::UdpSocket;

    use super::{gso_run, Sender};

    /// `sendmmsg` batch size.
    const BATCH: usize = 64;
    /// Linux's UDP_MAX_SEGMENTS, and a total that stays inside one IP datagram's length.
    const GSO_SEGMENTS: usize = 64;
    const GSO_BYTES: usize = 65_000;

    pub async fn send_all(
        sender: &mut Sender,
        socket: &UdpSocket,
        bytes: &[u8],
        ends: &[usize],
    ) -> io::Result<()> {
        let mut done = 0; // datagrams sent
        while done < ends.len() {
            let base = if done == 0 { 0 } else { ends[done - 1] };
            socket.writable().await?;
            let result = socket.try_io(Interest::WRITABLE, || {
                if sender.gso {
                    let rel: Vec<usize> = ends[done..].iter().map(|e| e - base).collect();
                    let n = gso_run(&rel, GSO_SEGMENTS, GSO_BYTES);
                    if n > 1 {
                        let size = rel[0];
                        match send_gso(socket, &bytes[base..base + rel[n - 1]], size) {
                            Ok(()) => return Ok(n),
                            Err(e) if refused_gso(&e) => sender.gso = false,
                            Err(e) => return Err(e),
                        }
                    }
                }
                sendmmsg(socket, bytes, &ends[done..], base)
            });
            match result {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Errors that mean "this kernel or device does not do UDP GSO", after which plain sends
    /// are used for the rest of the transfer.
    fn refused_gso(e: &io::Error) -> bool {
        matches!(
            e.raw_os_error(),
            Some(libc::EINVAL | libc::EIO | libc::ENOPROTOOPT | libc::EOPNOTSUPP)
        )
    }

    /// One send of `run`, which the kernel cuts into datagrams of `size` bytes.
    fn send_gso(socket: &UdpSocket, run: &[u8], size: usize) -> io::Result<()> {
        let mut iov = libc::iovec {
            iov_base: run.as_ptr() as *mut libc::c_void,
            iov_len: run.len(),
        };
        // Room for one cmsg carrying a u16, aligned as the kernel wants.
        let mut control = [0u64; 4];
        // SAFETY: all-zero is a valid msghdr.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        // SAFETY: CMSG_SPACE is a pure size computation.
        msg.msg_controllen = unsafe { libc::CMSG_SPACE(std::mem::size_of::<u16>() as u32) } as _;
        // SAFETY: `control` is large enough for one cmsg of a u16 (checked by the assert), so
        // CMSG_FIRSTHDR is non-null and its data area lies inside `control`.
        unsafe {
            assert!(msg.msg_controllen as usize <= std::mem::size_of_val(&control));
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_UDP;
            (*cmsg).cmsg_type = libc::UDP_SEGMENT;
            (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<u16>() as u32) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg) as *mut u16, size as u16);
        }
        // SAFETY: `msg` points at `iov` and `control`, which point at live buffers for the
        // duration of the call; the kernel only reads them.
        let sent = unsafe { libc::sendmsg(socket.as_raw_fd(), &msg, libc::MSG_DONTWAIT) };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        if sent as usize != run.len() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "short GSO send"));
        }
        Ok(())
    }

    /// One `sendmmsg` for up to [`BATCH`] of the datagrams ending at `ends` (offsets into
    /// `bytes`, the first starting at `base`); returns how many went out.
    fn sendmmsg(
        socket: &UdpSocket,
        bytes: &[u8],
        ends: &[usize],
        base: usize,
    ) -> io::Result<usize> {
        let count = ends.len().min(BATCH);
        // SAFETY: all-zero is a valid value for these plain C structs (null pointers, zero
        // lengths).
        let mut iovecs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        let mut start = base;
        for i in 0..count {
            let d = &bytes[start..ends[i]];
            start = ends[i];
            iovecs[i] = libc::iovec {
                iov_base: d.as_ptr() as *mut libc::c_void,
                iov_len: d.len(),
            };
            // The socket is connected: no destination address per message.
            msgs[i].msg_hdr.msg_iov = &mut iovecs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: `msgs[..count]` point at `iovecs`, which point into `bytes`; all of them
        // outlive the call, and the kernel only reads the buffers.
        let sent = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                msgs.as_mut_ptr(),
                count as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(sent as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::{gso_run, Sender};
    use tokio::net::UdpSocket;

    /// Both kernel paths (GSO and sendmmsg) deliver the same datagrams, in order, including a
    /// window longer than one GSO run and a short last datagram.
    #[tokio::test]
    async fn gso_and_sendmmsg_deliver_the_same_datagrams() {
        let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        tx.connect(rx.local_addr().unwrap()).await.unwrap();
        let mut bytes = Vec::new();
        let mut ends = Vec::new();
        for i in 0..70u32 {
            let len = if i == 69 { 100 } else { 1000 };
            bytes.extend((0..len).map(|j| (i * 7 + j) as u8));
            ends.push(bytes.len());
        }
        for gso in [true, false] {
            let mut sender = Sender { gso };
            sender.send_all(&tx, &bytes, &ends).await.unwrap();
            let mut buf = vec![0u8; 2000];
            let mut start = 0;
            for &end in &ends {
                let n = rx.recv(&mut buf).await.unwrap();
                assert_eq!(&buf[..n], &bytes[start..end], "gso {gso}");
                start = end;
            }
        }
    }

    #[test]
    fn runs_are_equal_sized_with_one_shorter_tail() {
        // Four 516-byte DATA datagrams then a 100-byte last one.
        let ends = [516, 1032, 1548, 2064, 2164];
        assert_eq!(gso_run(&ends, 64, 65_000), 5);
        assert_eq!(gso_run(&ends, 3, 65_000), 3);
        assert_eq!(gso_run(&ends, 64, 1600), 3);
        assert_eq!(gso_run(&[516], 64, 65_000), 1);
        assert_eq!(gso_run(&[], 64, 65_000), 0);
        // A longer datagram after a shorter one cannot share the run.
        assert_eq!(gso_run(&[516, 616, 1132], 64, 65_000), 2);
        assert_eq!(gso_run(&[100, 616], 64, 65_000), 1);
    }
}
