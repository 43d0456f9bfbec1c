//! One netboot per DHCP port and interface.
//!
//! The DHCP sockets set SO_REUSEADDR so that a DHCP server on the same machine bound to one
//! address (ISC dhcpd, Kea) can share port 67 with a proxy bound to 0.0.0.0. The same option
//! lets a second netboot bind the same port on the same interface, and then both answer every
//! DISCOVER, silently. So before binding, a server claims the port: it listens on an abstract
//! Unix socket named for the interface and port. The kernel frees the name when the process
//! dies (a crash leaves no stale lock file behind) and keeps names per network namespace, like
//! the ports themselves. A second server finds the name taken, connects to it and asks the
//! kernel who listens (SO_PEERCRED), so the refusal names the running server.

use std::io;
use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::time::Duration;

const PREFIX: &str = "netboot-dhcp-";
/// The scope of a server not bound to an interface: it answers on all of them.
const EVERY_INTERFACE: &str = "*";

/// Held while the server answers on the port; dropping it frees the claim.
#[derive(Debug)]
pub struct PortClaim {
    /// `None` for port 0: the kernel picks a free port, never one another socket holds.
    listener: Option<tokio::net::UnixListener>,
}

impl PortClaim {
    /// Accepts and closes the connections of servers asking who holds the port, so they never
    /// fill the listen backlog. Runs until dropped; cancel-safe, for a `select!` loop.
    pub async fn answer_probes(&self) {
        let Some(listener) = &self.listener else {
            return std::future::pending().await;
        };
        loop {
            if listener.accept().await.is_err() {
                // Out of descriptors, most likely: a probe can wait, the socket loop cannot.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Another netboot already answers DHCP where this one would.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "another netboot{} already answers DHCP on port {port} of {}; stop it first, or bind each \
     server to its own interface with --interface",
    holder.as_ref().map(|h| format!(" ({h})")).unwrap_or_default(),
    describe(scope)
)]
pub struct PortTaken {
    pub port: u16,
    /// The other server's interface, or `*` when it answers on every interface.
    pub scope: String,
    pub holder: Option<Holder>,
}

/// The process holding a claim, as the kernel and /proc tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    /// Its command line, when /proc shows it.
    pub command: Option<String>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.command {
            Some(command) => write!(f, "pid {}: {command}", self.pid),
            None => write!(f, "pid {}", self.pid),
        }
    }
}

fn describe(scope: &str) -> String {
    if scope == EVERY_INTERFACE {
        "every interface".into()
    } else {
        scope.to_string()
    }
}

/// Claims `port` on `interface` (every interface when `None`) for this process. Fails with a
/// [`PortTaken`] (kind `AddrInUse`) when another netboot answers there: on the same interface,
/// on every interface, or (when this one would answer on every interface) on any one.
///
/// Must run inside a tokio runtime.
pub fn claim(port: u16, interface: Option<&str>) -> io::Result<PortClaim> {
    if port == 0 {
        return Ok(PortClaim { listener: None });
    }
    let scope = interface.unwrap_or(EVERY_INTERFACE);
    let name = claim_name(scope, port);
    let address = SocketAddr::from_abstract_name(name.as_bytes())?;
    let listener = match UnixListener::bind_addr(&address) {
        Ok(listener) => listener,
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            return Err(taken(port, scope, holder_of(&name)));
        }
        Err(e) => return Err(e),
    };
    let table = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    for other in overlapping(&table, scope, port) {
        // The name may be listed after its holder closed it: only a live listener counts.
        if let Some(holder) = holder_of(&claim_name(&other, port)) {
            return Err(taken(port, &other, Some(holder)));
        }
    }
    listener.set_nonblocking(true)?;
    let listener = tokio::net::UnixListener::from_std(listener)?;
    Ok(PortClaim {
        listener: Some(listener),
    })
}

fn claim_name(scope: &str, port: u16) -> String {
    format!("{PREFIX}{scope}-{port}")
}

fn taken(port: u16, scope: &str, holder: Option<Holder>) -> io::Error {
    let taken = PortTaken {
        port,
        scope: scope.to_string(),
        holder,
    };
    io::Error::new(io::ErrorKind::AddrInUse, taken)
}

/// The other claims in `table` (the text of /proc/net/unix) that answer where a server with
/// `scope` would: a server on every interface overlaps all, one on an interface overlaps the
/// every-interface one. The same scope is left out: binding the name already decides that.
fn overlapping(table: &str, scope: &str, port: u16) -> Vec<String> {
    let suffix = format!("-{port}");
    let mut scopes: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().nth(7))
        .filter_map(|path| path.strip_prefix('@')?.strip_prefix(PREFIX))
        .filter_map(|rest| rest.strip_suffix(&suffix))
        .filter(|other| *other != scope)
        .filter(|other| scope == EVERY_INTERFACE || *other == EVERY_INTERFACE)
        .map(str::to_string)
        .collect();
    // Accepted connections are listed under the listener's name too.
    scopes.sort();
    scopes.dedup();
    scopes
}

/// Who listens on the abstract socket `name`, if anyone does and the kernel says.
fn holder_of(name: &str) -> Option<Holder> {
    let address = SocketAddr::from_abstract_name(name.as_bytes()).ok()?;
    let stream = UnixStream::connect_addr(&address).ok()?;
    let pid = peer_pid(&stream)?;
    let command = std::fs::read(format!("/proc/{pid}/cmdline"))
        .ok()
        .map(|raw| command_line(&raw))
        .filter(|c| !c.is_empty());
    Some(Holder { pid, command })
}

/// The arguments in /proc/PID/cmdline (NUL-separated) joined by spaces, with control
/// characters escaped: any local user can hold the name, and its command line must not be able
/// to write terminal escapes into our error message.
fn command_line(raw: &[u8]) -> String {
    raw.split(|b| *b == 0)
        .filter(|arg| !arg.is_empty())
        .map(|arg| {
            String::from_utf8_lossy(arg)
                .chars()
                .flat_map(|c| {
                    let escaped: Vec<char> = if c.is_control() {
                        c.escape_default().collect()
                    } else {
                        vec![c]
                    };
                    escaped
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The pid of the process that listens at the other end (0 when it lives in a pid namespace
/// this one cannot see: then there is no pid to name).
fn peer_pid(stream: &UnixStream) -> Option<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `cred`, a live ucred.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    (rc == 0 && cred.pid > 0).then_some(cred.pid as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 1001 @netboot-dhcp-lo-6767
0000000000000000: 00000003 00000000 00000000 0001 03 1002 @netboot-dhcp-lo-6767
0000000000000000: 00000002 00000000 00010000 0001 01 1003 @netboot-dhcp-*-6767
0000000000000000: 00000002 00000000 00010000 0001 01 1004 @netboot-dhcp-eth0-6767
0000000000000000: 00000002 00000000 00010000 0001 01 1005 @netboot-dhcp-eth0-67
0000000000000000: 00000002 00000000 00010000 0001 01 1006 /run/systemd/notify
0000000000000000: 00000003 00000000 00000000 0001 03 1007
";

    #[test]
    fn an_interface_overlaps_only_every_interface() {
        assert_eq!(overlapping(TABLE, "lo", 6767), vec!["*".to_string()]);
        assert_eq!(overlapping(TABLE, "eth1", 67), Vec::<String>::new());
    }

    #[test]
    fn every_interface_overlaps_each_interface_once() {
        assert_eq!(
            overlapping(TABLE, "*", 6767),
            vec!["eth0".to_string(), "lo".to_string()]
        );
        assert_eq!(overlapping(TABLE, "*", 67), vec!["eth0".to_string()]);
    }

    #[test]
    fn a_command_line_cannot_write_terminal_escapes() {
        assert_eq!(
            command_line(b"evil\0\x1b[2J\x1b]0;title\x07\0"),
            "evil \\u{1b}[2J\\u{1b}]0;title\\u{7}"
        );
    }

    #[test]
    fn the_command_line_is_joined_by_spaces() {
        assert_eq!(
            command_line(b"netboot\0serve\0fleet.kdl\0"),
            "netboot serve fleet.kdl"
        );
    }

    #[tokio::test]
    async fn a_second_claim_names_this_process_and_a_dropped_one_is_free_again() {
        let port = 40_000 + (std::process::id() % 20_000) as u16;
        let first = claim(port, Some("nb-test0")).unwrap();
        let err = claim(port, Some("nb-test0")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        let taken = err.get_ref().and_then(|e| e.downcast_ref::<PortTaken>());
        let taken = taken.expect("a PortTaken");
        assert_eq!(
            taken.holder.as_ref().map(|h| h.pid),
            Some(std::process::id())
        );
        assert!(
            err.to_string()
                .contains(&format!("port {port} of nb-test0")),
            "{err}"
        );
        // Every interface includes nb-test0.
        assert!(claim(port, None).is_err());
        // Another interface does not.
        drop(claim(port, Some("nb-test1")).unwrap());
        drop(first);
        drop(claim(port, Some("nb-test0")).unwrap());
    }

    #[tokio::test]
    async fn port_zero_is_never_claimed() {
        let _first = claim(0, Some("nb-test0")).unwrap();
        let _second = claim(0, Some("nb-test0")).unwrap();
    }
}
