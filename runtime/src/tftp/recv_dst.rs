//! Receiving a request together with the address it was sent to. On a wildcard bind the
//! transfer must answer from the address the client asked (its next-server), not from
//! whichever address the kernel would pick for the route: PXE ROMs drop DATA from any other
//! address. Linux reports it with IP_PKTINFO / IPV6_RECVPKTINFO, and takes it back the same
//! way to send a refusal from it; if that fails the destination is unknown and the kernel's
//! choice stands.

use std::io;
use std::net::{IpAddr, SocketAddr};

use tokio::net::UdpSocket;

/// A listening socket that can tell where each datagram was sent.
pub struct Listener {
    socket: UdpSocket,
    pktinfo: bool,
}

impl Listener {
    /// Wraps `socket`, asking the kernel for destination addresses if it is bound to a
    /// wildcard address (a specific bind already answers from the right address).
    pub fn new(socket: UdpSocket) -> Listener {
        let wildcard = socket.local_addr().is_ok_and(|a| a.ip().is_unspecified());
        let pktinfo = wildcard && imp::enable(&socket).is_ok();
        Listener { socket, pktinfo }
    }

    pub fn socket(&self) -> &UdpSocket {
        &self.socket
    }

    /// The next datagram: its length, sender, and the local address it was sent to when known.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, Option<IpAddr>)> {
        if !self.pktinfo {
            let (n, peer) = self.socket.recv_from(buf).await?;
            return Ok((n, peer, None));
        }
        imp::recv(&self.socket, buf).await
    }

    /// Sends `datagram` to `peer` from `from` (the address a request was sent to) when known,
    /// so a refusal comes from the server the client asked, like its transfers do.
    pub async fn send_to(
        &self,
        datagram: &[u8],
        peer: SocketAddr,
        from: Option<IpAddr>,
    ) -> io::Result<()> {
        match from {
            Some(from) if self.pktinfo => imp::send_from(&self.socket, datagram, peer, from).await,
            _ => self.socket.send_to(datagram, peer).await.map(drop),
        }
    }
}

mod imp {
    use std::io;
    use std::mem::{size_of, zeroed};
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
    use std::os::fd::AsRawFd;

    use tokio::io::Interest;
    use tokio::net::UdpSocket;

    pub fn enable(socket: &UdpSocket) -> io::Result<()> {
        let (level, name) = match socket.local_addr()? {
            SocketAddr::V4(_) => (libc::IPPROTO_IP, libc::IP_PKTINFO),
            SocketAddr::V6(_) => (libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO),
        };
        crate::socket_option::set_int(socket, level, name, 1)
    }

    pub async fn recv(
        socket: &UdpSocket,
        buf: &mut [u8],
    ) -> io::Result<(usize, SocketAddr, Option<IpAddr>)> {
        loop {
            socket.readable().await?;
            match socket.try_io(Interest::READABLE, || recvmsg(socket, buf)) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => return other,
            }
        }
    }

    fn recvmsg(
        socket: &UdpSocket,
        buf: &mut [u8],
    ) -> io::Result<(usize, SocketAddr, Option<IpAddr>)> {
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr() as *mut libc::c_void,
            iov_len: buf.len(),
        };
        // SAFETY: all-zero is a valid sockaddr_storage and msghdr.
        let mut from: libc::sockaddr_storage = unsafe { zeroed() };
        let mut msg: libc::msghdr = unsafe { zeroed() };
        // Room for either pktinfo cmsg, 8-byte aligned.
        let mut control = [0u64; 16];
        msg.msg_name = &mut from as *mut _ as *mut libc::c_void;
        msg.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: every pointer in `msg` refers to a live local buffer of the stated size.
        let n = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let peer = sockaddr(&from)?;
        let mut dst = None;
        // SAFETY: the CMSG_* walk stays inside `control` as bounded by `msg_controllen`, which
        // the kernel set; each payload is read unaligned at its advertised type.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                let (level, kind) = ((*cmsg).cmsg_level, (*cmsg).cmsg_type);
                if level == libc::IPPROTO_IP && kind == libc::IP_PKTINFO {
                    let info: libc::in_pktinfo =
                        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const _);
                    // The local address the datagram counts as sent to: for a broadcast
                    // request, the receiving interface's own address, which can be bound.
                    let ip = Ipv4Addr::from(u32::from_be(info.ipi_spec_dst.s_addr));
                    dst = (!ip.is_unspecified()).then_some(IpAddr::V4(ip));
                } else if level == libc::IPPROTO_IPV6 && kind == libc::IPV6_PKTINFO {
                    let info: libc::in6_pktinfo =
                        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const _);
                    let ip = Ipv6Addr::from(info.ipi6_addr.s6_addr);
                    dst = (!ip.is_multicast()).then_some(IpAddr::V6(ip));
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        Ok((n as usize, peer, dst))
    }

    pub async fn send_from(
        socket: &UdpSocket,
        datagram: &[u8],
        peer: SocketAddr,
        from: IpAddr,
    ) -> io::Result<()> {
        loop {
            socket.writable().await?;
            match socket.try_io(Interest::WRITABLE, || {
                sendmsg_from(socket, datagram, peer, from)
            }) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => return other,
            }
        }
    }

    fn sendmsg_from(
        socket: &UdpSocket,
        datagram: &[u8],
        peer: SocketAddr,
        from: IpAddr,
    ) -> io::Result<()> {
        let mut iov = libc::iovec {
            iov_base: datagram.as_ptr() as *mut libc::c_void,
            iov_len: datagram.len(),
        };
        // SAFETY: all-zero is a valid value for these plain C structs.
        let mut to: libc::sockaddr_storage = unsafe { zeroed() };
        let mut msg: libc::msghdr = unsafe { zeroed() };
        let mut control = [0u64; 16];
        let to_len = match (peer, from) {
            (SocketAddr::V4(p), IpAddr::V4(_)) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: p.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from(*p.ip()).to_be(),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than sockaddr_in and suitably aligned.
                unsafe { std::ptr::write(&mut to as *mut _ as *mut libc::sockaddr_in, sin) };
                size_of::<libc::sockaddr_in>()
            }
            (SocketAddr::V6(p), IpAddr::V6(_)) => {
                // SAFETY: all-zero is a valid sockaddr_in6.
                let mut sin6: libc::sockaddr_in6 = unsafe { zeroed() };
                sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sin6.sin6_port = p.port().to_be();
                sin6.sin6_addr.s6_addr = p.ip().octets();
                sin6.sin6_scope_id = p.scope_id();
                // SAFETY: sockaddr_storage is larger than sockaddr_in6 and suitably aligned.
                unsafe { std::ptr::write(&mut to as *mut _ as *mut libc::sockaddr_in6, sin6) };
                size_of::<libc::sockaddr_in6>()
            }
            // Mixed families (a v4-mapped peer on a v6 socket): let the kernel choose.
            _ => {
                let n = socket.try_send_to(datagram, peer)?;
                return if n == datagram.len() {
                    Ok(())
                } else {
                    Err(io::ErrorKind::WriteZero.into())
                };
            }
        };
        msg.msg_name = &mut to as *mut _ as *mut libc::c_void;
        msg.msg_namelen = to_len as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        // SAFETY: the CMSG_* computations and writes stay inside `control` (128 bytes, more
        // than one pktinfo cmsg of either family needs, checked by the assert).
        unsafe {
            let (level, kind, len) = match from {
                IpAddr::V4(_) => (
                    libc::IPPROTO_IP,
                    libc::IP_PKTINFO,
                    size_of::<libc::in_pktinfo>(),
                ),
                IpAddr::V6(_) => (
                    libc::IPPROTO_IPV6,
                    libc::IPV6_PKTINFO,
                    size_of::<libc::in6_pktinfo>(),
                ),
            };
            msg.msg_controllen = libc::CMSG_SPACE(len as u32) as _;
            assert!(msg.msg_controllen as usize <= std::mem::size_of_val(&control));
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = level;
            (*cmsg).cmsg_type = kind;
            (*cmsg).cmsg_len = libc::CMSG_LEN(len as u32) as _;
            match from {
                IpAddr::V4(ip) => {
                    let mut info: libc::in_pktinfo = zeroed();
                    info.ipi_spec_dst.s_addr = u32::from(ip).to_be();
                    std::ptr::write_unaligned(libc::CMSG_DATA(cmsg) as *mut _, info);
                }
                IpAddr::V6(ip) => {
                    let mut info: libc::in6_pktinfo = zeroed();
                    info.ipi6_addr.s6_addr = ip.octets();
                    std::ptr::write_unaligned(libc::CMSG_DATA(cmsg) as *mut _, info);
                }
            }
        }
        // SAFETY: `msg` points at live local buffers; the kernel only reads them.
        let sent = unsafe { libc::sendmsg(socket.as_raw_fd(), &msg, libc::MSG_DONTWAIT) };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn sockaddr(storage: &libc::sockaddr_storage) -> io::Result<SocketAddr> {
        match storage.ss_family as libc::c_int {
            libc::AF_INET => {
                // SAFETY: the family says this storage holds a sockaddr_in.
                let a: libc::sockaddr_in =
                    unsafe { std::ptr::read(storage as *const _ as *const libc::sockaddr_in) };
                Ok(SocketAddr::V4(SocketAddrV4::new(
                    Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                    u16::from_be(a.sin_port),
                )))
            }
            libc::AF_INET6 => {
                // SAFETY: the family says this storage holds a sockaddr_in6.
                let a: libc::sockaddr_in6 =
                    unsafe { std::ptr::read(storage as *const _ as *const libc::sockaddr_in6) };
                Ok(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(a.sin6_addr.s6_addr),
                    u16::from_be(a.sin6_port),
                    a.sin6_flowinfo,
                    a.sin6_scope_id,
                )))
            }
            family => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("datagram from an address of family {family}"),
            )),
        }
    }
}
