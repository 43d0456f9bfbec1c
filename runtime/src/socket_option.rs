//! Integer socket options that the standard library and socket2 do not name for us
//! (`SO_RCVBUFFORCE`, `TCP_NOTSENT_LOWAT`, `IP_PKTINFO`): one checked place for the `unsafe`.

use std::io;
use std::os::fd::AsRawFd;

pub fn set_int(
    socket: &impl AsRawFd,
    level: libc::c_int,
    option: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: a descriptor the caller holds open, and a pointer to a live c_int of the stated
    // length.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            option,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Only the tests read options back.
#[cfg(test)]
pub fn get_int(
    socket: &impl AsRawFd,
    level: libc::c_int,
    option: libc::c_int,
) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: a descriptor the caller holds open, and pointers to a live c_int and its length.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            level,
            option,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(value)
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_and_reads_back_an_option() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        set_int(&socket, libc::SOL_SOCKET, libc::SO_BROADCAST, 1).unwrap();
        assert_eq!(
            get_int(&socket, libc::SOL_SOCKET, libc::SO_BROADCAST).unwrap(),
            1
        );
        let bad = set_int(&socket, libc::SOL_SOCKET, -1, 1).unwrap_err();
        assert_eq!(bad.raw_os_error(), Some(libc::ENOPROTOOPT));
    }
}
