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
//!
//! Any local user can bind an abstract name. A name held by another unprivileged user whose
//! process has no UDP socket on the port is not a DHCP server, just a squatter keeping netboot
//! from starting: it is named in a warning and passed over. The probe connects without
//! blocking, so a squatter that never accepts cannot hang the start either.

use std::io;
use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
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
    /// Its user, in this user namespace.
    pub uid: u32,
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
        Ok(listener) => Some(listener),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => match probe(&name) {
            Probe::Held(Some(h)) if is_squatter(&h, port) => {
                warn_squatter(&h, &name);
                None
            }
            Probe::Held(holder) => return Err(taken(port, scope, holder)),
            Probe::NotAccepting => return Err(not_accepting(port, scope)),
            // Freed between the bind and the probe: a netboot just stopped. Try once more.
            Probe::Free => Some(UnixListener::bind_addr(&address)?),
        },
        Err(e) => return Err(e),
    };
    let table = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    for other in overlapping(&table, scope, port) {
        // The name may be listed after its holder closed it: only a live listener counts.
        let other_name = claim_name(&other, port);
        match probe(&other_name) {
            Probe::Held(Some(h)) if is_squatter(&h, port) => warn_squatter(&h, &other_name),
            Probe::Held(holder) => return Err(taken(port, &other, holder)),
            Probe::NotAccepting => return Err(not_accepting(port, &other)),
            Probe::Free => {}
        }
    }
    let listener = match listener {
        Some(listener) => {
            listener.set_nonblocking(true)?;
            Some(tokio::net::UnixListener::from_std(listener)?)
        }
        None => None,
    };
    Ok(PortClaim { listener })
}

/// A holder that cannot be a rival DHCP server: another unprivileged user, with no UDP socket
/// on the port. Root, or this process's own user, is taken at its word: a second netboot run
/// by either holds the claim for a moment before it binds the port.
fn is_squatter(holder: &Holder, port: u16) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let own = unsafe { libc::geteuid() };
    if holder.uid == 0 || holder.uid == own {
        return false;
    }
    let mut tables = String::new();
    for path in ["/proc/net/udp", "/proc/net/udp6"] {
        tables += &std::fs::read_to_string(path).unwrap_or_default();
    }
    !udp_port_owned_by(&tables, port, holder.uid)
}

fn warn_squatter(holder: &Holder, name: &str) {
    tracing::warn!(
        target: "netboot::dhcp",
        holder = %holder, uid = holder.uid, name = %name,
        "another user holds this port's claim without answering DHCP on it; going on without the claim"
    );
}

/// Whether `table` (the text of /proc/net/udp or udp6) lists a socket bound to `port` that
/// belongs to `uid`.
fn udp_port_owned_by(table: &str, port: u16, uid: u32) -> bool {
    table
        .lines()
        .filter(|line| !line.trim_start().starts_with("sl"))
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local = fields.get(1)?;
            let (_, hex_port) = local.rsplit_once(':')?;
            let bound = u16::from_str_radix(hex_port, 16).ok()?;
            let owner = fields.get(7)?.parse::<u32>().ok()?;
            Some((bound, owner))
        })
        .any(|(bound, owner)| bound == port && owner == uid)
}

/// The claim's name is held by something that accepts no connections: not a netboot (which
/// answers every probe), but the kernel names nobody without one.
fn not_accepting(port: u16, scope: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::AddrInUse,
        format!(
            "the claim on DHCP port {port} of {} ({}) is held by a process that accepts no \
             connections, so it is not a netboot; `ss -xlp | grep {PREFIX}` names it",
            describe(scope),
            claim_name(scope, port)
        ),
    )
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

/// What a probe of a claim's name found.
#[derive(Debug)]
enum Probe {
    /// Nobody listens (the name outlived its holder, or was never bound).
    Free,
    /// Somebody listens, but its backlog is full: a netboot accepts every probe at once, so
    /// this is something else, and the kernel cannot say who without a connection.
    NotAccepting,
    /// The listener, as the kernel names it (`None` when it is in a pid namespace we cannot see).
    Held(Option<Holder>),
}

/// Who listens on the abstract socket `name`, if anyone does and the kernel says.
fn probe(name: &str) -> Probe {
    let stream = match connect_without_waiting(name) {
        Ok(stream) => stream,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Probe::NotAccepting,
        Err(_) => return Probe::Free,
    };
    let Some((pid, uid)) = peer_cred(&stream) else {
        return Probe::Held(None);
    };
    let command = std::fs::read(format!("/proc/{pid}/cmdline"))
        .ok()
        .map(|raw| command_line(&raw))
        .filter(|c| !c.is_empty());
    Probe::Held(Some(Holder { pid, uid, command }))
}

/// Connects to the abstract socket `name`, or gives up at once: a blocking connect waits for
/// as long as the listener's backlog is full, and a listener that never accepts keeps it full.
fn connect_without_waiting(name: &str) -> io::Result<UnixStream> {
    let socket = socket2::Socket::new(
        socket2::Domain::UNIX,
        socket2::Type::STREAM.nonblocking().cloexec(),
        None,
    )?;
    let mut path = vec![0u8];
    path.extend_from_slice(name.as_bytes());
    let address = socket2::SockAddr::unix(std::ffi::OsStr::from_bytes(&path))?;
    // A Unix socket connects at once or fails (EAGAIN when the backlog is full); it never
    // stays in progress.
    socket.connect(&address)?;
    Ok(socket.into())
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

/// The pid and uid of the process that listens at the other end (none when it lives in a pid
/// namespace this one cannot see: then there is no pid to name).
fn peer_cred(stream: &UnixStream) -> Option<(u32, u32)> {
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
    (rc == 0 && cred.pid > 0).then_some((cred.pid as u32, cred.uid))
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

    #[test]
    fn a_udp_socket_counts_only_on_its_port_and_for_its_owner() {
        let table = "\
   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  706: 00000000:0043 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 31337 2 0000000000000000 0
  707: 0100007F:FAF0 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 31338 2 0000000000000000 0
";
        assert!(udp_port_owned_by(table, 67, 0));
        assert!(!udp_port_owned_by(table, 67, 1000));
        assert!(udp_port_owned_by(table, 0xFAF0, 1000));
        assert!(!udp_port_owned_by(table, 4011, 0));
    }

    /// A listener on `name` run by `nobody` (python3 through setpriv), which accepts nobody:
    /// its backlog of one fills with the first connection.
    fn squatter(name: &str) -> std::process::Child {
        let script = format!(
            "import socket,sys,time\n\
             s=socket.socket(socket.AF_UNIX)\n\
             s.bind(b'\\0{name}')\n\
             s.listen(0)\n\
             print('ready',flush=True)\n\
             time.sleep(60)\n"
        );
        let mut child = std::process::Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "/usr/bin/python3",
                "-c",
            ])
            .arg(script)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("setpriv and python3");
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
        assert_eq!(line.trim(), "ready");
        child
    }

    /// `claim(port, Some(interface))` on a thread of its own, given at most 10 s.
    fn claim_within_10s(port: u16, interface: &'static str) -> io::Result<PortClaim> {
        let (done, result) = std::sync::mpsc::channel();
        let handle = tokio::runtime::Handle::current();
        std::thread::spawn(move || {
            let _guard = handle.enter();
            let _ = done.send(claim(port, Some(interface)));
        });
        result
            .recv_timeout(Duration::from_secs(10))
            .expect("claim returned")
    }

    #[tokio::test]
    async fn a_claim_squatted_by_another_user_is_passed_over() {
        if !netboot_test_support::unprivileged::running_as_root() {
            eprintln!("skipped: needs root, to run the squatter as another user");
            return;
        }
        let port = 20_000 + (std::process::id() % 20_000) as u16;
        let mut squatter = squatter(&claim_name("nb-sq0", port));
        let got = claim_within_10s(port, "nb-sq0");
        let _ = squatter.kill();
        let _ = squatter.wait();
        // Claimed without the name, which the squatter holds.
        assert!(got.expect("claimed").listener.is_none());
    }

    #[tokio::test]
    async fn a_claim_whose_holder_accepts_nothing_is_refused_at_once_and_said_so() {
        if !netboot_test_support::unprivileged::running_as_root() {
            eprintln!("skipped: needs root, to run the squatter as another user");
            return;
        }
        let port = 20_001 + (std::process::id() % 20_000) as u16;
        let mut squatter = squatter(&claim_name("nb-sq1", port));
        // Fill its backlog: a blocking connect would now wait for as long as it runs.
        let _pending: Vec<_> = (0..3)
            .filter_map(|_| connect_without_waiting(&claim_name("nb-sq1", port)).ok())
            .collect();
        let got = claim_within_10s(port, "nb-sq1");
        let _ = squatter.kill();
        let _ = squatter.wait();
        let err = got.expect_err("refused");
        assert!(
            err.to_string()
                .contains("accepts no connections, so it is not a netboot"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn port_zero_is_never_claimed() {
        let _first = claim(0, Some("nb-test0")).unwrap();
        let _second = claim(0, Some("nb-test0")).unwrap();
    }
}
