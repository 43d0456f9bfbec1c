//! The one DISCOVER doctor sends, and the listening for whoever answers.
//!
//! It leaves from port 68 on the chosen interface only (SO_BINDTODEVICE), broadcast to
//! 255.255.255.255:67, with the broadcast flag set so every server answers by broadcast.
//! Replies are read from an AF_PACKET socket on the same interface, which also tells each
//! responder's MAC; without one (no CAP_NET_RAW) the UDP socket is read and MACs stay unknown.

use std::hash::{BuildHasher, Hasher};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use netboot_manifest::{ClientKind, MacAddr};
use socket2::{Domain, Protocol, Socket, Type};

use netboot_runtime::dhcp::{dhcp_reply, discover, Offer};

/// One answer heard.
#[derive(Debug, Clone)]
pub struct Heard {
    pub from: Ipv4Addr,
    pub mac: Option<MacAddr>,
    pub offer: Offer,
}

/// A random transaction id, so only answers to this DISCOVER count.
pub fn random_xid() -> u32 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish() as u32
}

/// Sends one PXE DISCOVER of a `kind` client from `mac` on `interface` and collects the
/// replies to it for `listen`.
pub fn probe(
    interface: &str,
    kind: ClientKind,
    mac: MacAddr,
    xid: u32,
    listen: Duration,
) -> Result<Vec<Heard>, String> {
    let packet = PacketSocket::open(interface).ok();
    let udp = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
        .map_err(|e| format!("cannot open a UDP socket: {e}"))?;
    udp.set_reuse_address(true)
        .and_then(|()| udp.set_broadcast(true))
        .and_then(|()| udp.bind_device(Some(interface.as_bytes())))
        .map_err(|e| format!("cannot bind to interface {interface}: {e}"))?;
    udp.bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68).into())
        .map_err(|e| format!("cannot bind UDP port 68 (a DHCP client's port): {e}"))?;
    let request = discover(kind, mac, xid, 0);
    udp.send_to(&request, &SocketAddrV4::new(Ipv4Addr::BROADCAST, 67).into())
        .map_err(|e| format!("cannot send the DISCOVER on {interface}: {e}"))?;

    let deadline = Instant::now() + listen;
    let mut heard: Vec<Heard> = Vec::new();
    let mut buf = vec![0u8; 4096];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let wait = left
            .min(Duration::from_millis(200))
            .max(Duration::from_millis(1));
        let got = match &packet {
            Some(p) => p.recv(&mut buf, wait).map(|r| {
                r.and_then(|(n, mac)| {
                    dhcp_reply(&buf[..n]).map(|(ip, body)| (ip, Some(mac), body.to_vec()))
                })
            }),
            None => recv_udp(&udp, wait),
        };
        let Some((from, mac, body)) = got.map_err(|e| format!("while listening: {e}"))? else {
            continue;
        };
        let Some(offer) = Offer::parse(&body) else {
            continue;
        };
        if offer.xid != xid {
            continue;
        }
        let duplicate = heard
            .iter()
            .any(|h| h.from == from && h.mac == mac && h.offer == offer);
        if !duplicate {
            heard.push(Heard { from, mac, offer });
        }
    }
    Ok(heard)
}

type Received = Option<(Ipv4Addr, Option<MacAddr>, Vec<u8>)>;

fn recv_udp(udp: &Socket, wait: Duration) -> std::io::Result<Received> {
    udp.set_read_timeout(Some(wait))?;
    let mut uninit: Vec<std::mem::MaybeUninit<u8>> = vec![std::mem::MaybeUninit::uninit(); 4096];
    match udp.recv_from(&mut uninit) {
        Ok((n, from)) => {
            // SAFETY: recv_from initialised the first n bytes.
            let bytes: Vec<u8> = uninit[..n]
                .iter()
                .map(|b| unsafe { b.assume_init() })
                .collect();
            let ip = from
                .as_socket_ipv4()
                .map_or(Ipv4Addr::UNSPECIFIED, |a| *a.ip());
            Ok(Some((ip, None, bytes)))
        }
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// An AF_PACKET socket in cooked mode (IPv4 only) bound to one interface.
struct PacketSocket {
    fd: OwnedFd,
}

const ETH_P_IP: u16 = 0x0800;

impl PacketSocket {
    fn open(interface: &str) -> std::io::Result<PacketSocket> {
        let name = std::ffi::CString::new(interface)
            .map_err(|_| std::io::Error::other("interface name has a NUL byte"))?;
        // SAFETY: plain libc calls on a name we own; the fd is wrapped at once.
        unsafe {
            let index = libc::if_nametoindex(name.as_ptr());
            if index == 0 {
                return Err(std::io::Error::last_os_error());
            }
            let raw = libc::socket(
                libc::AF_PACKET,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                i32::from(ETH_P_IP.to_be()),
            );
            if raw < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let fd = OwnedFd::from_raw_fd(raw);
            let mut addr: libc::sockaddr_ll = std::mem::zeroed();
            addr.sll_family = libc::AF_PACKET as u16;
            addr.sll_protocol = ETH_P_IP.to_be();
            addr.sll_ifindex = index as i32;
            let rc = libc::bind(
                fd.as_raw_fd(),
                std::ptr::addr_of!(addr).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            );
            if rc < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(PacketSocket { fd })
        }
    }

    /// One datagram and its link-layer source, or `None` on timeout or for our own packets.
    fn recv(&self, buf: &mut [u8], wait: Duration) -> std::io::Result<Option<(usize, MacAddr)>> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = i32::try_from(wait.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: one pollfd we own; recvfrom writes at most buf.len() bytes and the address
        // into a sockaddr_ll sized as passed.
        unsafe {
            let ready = libc::poll(&mut pfd, 1, ms);
            if ready < 0 {
                let e = std::io::Error::last_os_error();
                return if e.kind() == std::io::ErrorKind::Interrupted {
                    Ok(None)
                } else {
                    Err(e)
                };
            }
            if ready == 0 {
                return Ok(None);
            }
            let mut addr: libc::sockaddr_ll = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            let n = libc::recvfrom(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                std::ptr::addr_of_mut!(addr).cast(),
                &mut len,
            );
            if n < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if addr.sll_pkttype == libc::PACKET_OUTGOING {
                return Ok(None);
            }
            let mut mac = [0u8; 6];
            mac.copy_from_slice(&addr.sll_addr[..6]);
            Ok(Some((n as usize, MacAddr(mac))))
        }
    }
}
