//! Socket buffer sizing for the clients.

use std::os::fd::AsRawFd;

/// Asks for a receive buffer of `bytes`; as root SO_RCVBUFFORCE passes net.core.rmem_max, so the
/// machine's sysctls need no change. Failure leaves the default buffer (the run still measures).
pub fn enlarge_receive(sock: &impl AsRawFd, bytes: i32) {
    for option in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: setsockopt with a valid fd and a pointer to a live i32 of the stated length.
        let rc = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                (&bytes as *const i32).cast(),
                std::mem::size_of::<i32>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            return;
        }
    }
}
