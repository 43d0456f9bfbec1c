//! Receive buffers for the UDP listening sockets, sized for a boot storm.
//!
//! Hundreds of machines powered on together send their DISCOVERs and read requests within a
//! few milliseconds. The kernel's default buffer (208 KiB, some 150 datagrams as the kernel
//! counts them) overflowed in the boot storm benchmark (500 machines): 776 datagrams dropped,
//! and each dropped DISCOVER cost its machine a firmware retransmission, one second or more.

use std::os::fd::AsRawFd;

use crate::socket_option;

/// Enough for a few thousand small datagrams.
pub const LISTENER_BYTES: i32 = 4 << 20;

/// Asks for a receive buffer of `bytes`. With CAP_NET_ADMIN (root), SO_RCVBUFFORCE passes the
/// `net.core.rmem_max` cap (208 KiB on Debian); without it SO_RCVBUF gets what the cap allows.
/// A smaller buffer only means drops under a storm, so this never fails the start-up.
pub fn enlarge(socket: &impl AsRawFd, bytes: i32) {
    for option in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        if socket_option::set_int(socket, libc::SOL_SOCKET, option, bytes).is_ok() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel reports twice what was set (its bookkeeping share); either way the buffer
    /// grew past the default whenever the process may raise it.
    #[test]
    fn grows_the_buffer_as_far_as_allowed() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let before = socket2::SockRef::from(&socket).recv_buffer_size().unwrap();
        enlarge(&socket, LISTENER_BYTES);
        let after = socket2::SockRef::from(&socket).recv_buffer_size().unwrap();
        let cap = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(0);
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        if root || cap > before {
            assert!(after > before, "{before} -> {after}");
        }
        assert!(after >= before);
    }
}
