//! How much of a response may wait in the kernel unsent: [`LOW_WATER`] beyond what TCP has on
//! the wire (`TCP_NOTSENT_LOWAT`); sendfile(2) adds more once less than that is left.
//!
//! Without a limit, sendfile fills the whole send buffer (up to 4 MiB on Debian) and the kernel
//! sends each segment the window lets out from inside the processing of the client's ACK. When
//! the client is on the same host (loopback, or a bridge to local VMs) that processing runs in
//! the client's own receive call, chained with its copy, and the whole costs more CPU. Measured
//! with the bench crate on 2 cores (release build, this server against the one before it in
//! the same run, 5 repetitions):
//! - boot storm, 100 UEFI / 100 BIOS machines: 1.40× / 1.49× faster, server and machines
//!   together spending 0.73× / 0.68× the CPU per MB;
//! - one 256 MiB download 1.56× faster, 100 × 64 MiB 1.14×.
//!
//! Smaller limits were faster still on loopback (16 KiB: the storms 1.58× / 1.73×), but with a
//! 10 Gbit/s link between two namespaces (tbf, 20 downloads) 16 and 32 KiB lost 5-6 % of the
//! line rate: the server has to come back to refill the queue every few microseconds. At 64 KiB
//! the link stayed as full as before (medians within the ±4 % that runs of one server vary
//! by there), and at 1 Gbit/s every size kept the line rate.
//!
//! Bodies are no longer sent under TCP_CORK (nginx's `tcp_nopush`), which had made one large
//! download over loopback as fast as nginx's. With a low-water mark it stalls: a corked tail
//! shorter than a segment stays unsent, and the kernel reports the socket writable only once
//! the unsent bytes are under half the mark. Loopback's segments are 64 KiB, so a lone download
//! could wait for a 200 ms timer (p90 0.24 s against 0.04 s for a 40 MiB file); uncorked, it
//! never does, and this limit alone is faster than the cork was.

use std::io;
use std::os::fd::AsRawFd;

use crate::socket_option;

pub const LOW_WATER: libc::c_int = 64 << 10;

/// Limits the unsent bytes on `stream` to [`LOW_WATER`]. A failure only loses the speed.
pub fn limit(stream: &impl AsRawFd) -> io::Result<()> {
    socket_option::set_int(
        stream,
        libc::IPPROTO_TCP,
        libc::TCP_NOTSENT_LOWAT,
        LOW_WATER,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn low_water(stream: &impl AsRawFd) -> libc::c_int {
        socket_option::get_int(stream, libc::IPPROTO_TCP, libc::TCP_NOTSENT_LOWAT).unwrap()
    }

    #[test]
    fn an_accepted_connection_keeps_at_most_the_low_water_unsent() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        // Unset (0): the system's `net.ipv4.tcp_notsent_lowat` applies, no limit on Debian.
        assert_eq!(low_water(&server), 0);
        limit(&server).unwrap();
        assert_eq!(low_water(&server), 64 * 1024);
    }
}
