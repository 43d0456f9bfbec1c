//! Sending a whole window of DATA datagrams with as few system calls as the platform allows:
//! on Linux one `sendmmsg` per (up to) 64 datagrams instead of one `send` each, which is where
//! a windowed transfer spends its time on a fast LAN.

use std::io;

use tokio::net::UdpSocket;

/// Sends `datagrams`, in order, on a connected socket.
pub async fn send_all(socket: &UdpSocket, datagrams: &[&[u8]]) -> io::Result<()> {
    if datagrams.len() == 1 {
        return socket.send(datagrams[0]).await.map(drop);
    }
    imp::send_all(socket, datagrams).await
}

#[cfg(target_os = "linux")]
mod imp {
    use std::io;
    use std::os::fd::AsRawFd;

    use tokio::io::Interest;
    use tokio::net::UdpSocket;

    const BATCH: usize = 64;

    pub async fn send_all(socket: &UdpSocket, datagrams: &[&[u8]]) -> io::Result<()> {
        let mut rest = datagrams;
        while !rest.is_empty() {
            socket.writable().await?;
            match socket.try_io(Interest::WRITABLE, || sendmmsg(socket, rest)) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// One `sendmmsg` call for up to [`BATCH`] datagrams; returns how many went out.
    fn sendmmsg(socket: &UdpSocket, datagrams: &[&[u8]]) -> io::Result<usize> {
        let count = datagrams.len().min(BATCH);
        // SAFETY: all-zero is a valid value for these plain C structs (null pointers, zero
        // lengths).
        let mut iovecs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for i in 0..count {
            iovecs[i] = libc::iovec {
                iov_base: datagrams[i].as_ptr() as *mut libc::c_void,
                iov_len: datagrams[i].len(),
            };
            // The socket is connected: no destination address per message.
            msgs[i].msg_hdr.msg_iov = &mut iovecs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: `msgs[..count]` point at `iovecs`, which point at the borrowed datagrams;
        // all of them outlive the call, and the kernel only reads the buffers.
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

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::io;

    use tokio::net::UdpSocket;

    pub async fn send_all(socket: &UdpSocket, datagrams: &[&[u8]]) -> io::Result<()> {
        for d in datagrams {
            socket.send(d).await?;
        }
        Ok(())
    }
}
