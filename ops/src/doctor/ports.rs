//! Who holds a port, read from /proc: the socket table of this network namespace
//! (/proc/net/udp, /proc/net/tcp) gives the inode, and /proc/PID/fd links name the process.

use std::path::Path;

/// A socket bound to the port, and the process holding it when it could be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub local: String,
    pub inode: u64,
    pub process: Option<(u32, String)>,
}

/// Sockets in a /proc/net/{udp,tcp} table bound to `port` (for TCP: listening only).
pub fn bound(table: &str, port: u16, tcp: bool) -> Vec<(String, u64)> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (local, state, inode) = (f.get(1)?, f.get(3)?, f.get(9)?);
            let (ip_hex, port_hex) = local.split_once(':')?;
            if u16::from_str_radix(port_hex, 16).ok()? != port {
                return None;
            }
            // TCP state 0A is LISTEN; UDP sockets have no such state worth filtering on.
            if tcp && *state != "0A" {
                return None;
            }
            let ip = u32::from_str_radix(ip_hex, 16).ok()?;
            // The kernel prints the address in host byte order (little-endian here).
            let addr = std::net::Ipv4Addr::from(u32::from_be(ip));
            Some((format!("{addr}:{port}"), inode.parse().ok()?))
        })
        .collect()
}

/// The process with a descriptor on socket `inode`, scanning `proc_root` (normally /proc).
pub fn owner(proc_root: &Path, inode: u64) -> Option<(u32, String)> {
    let want = format!("socket:[{inode}]");
    for entry in std::fs::read_dir(proc_root).ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == want.as_str()) {
                let comm = std::fs::read_to_string(entry.path().join("comm"))
                    .map(|c| c.trim().to_string())
                    .unwrap_or_else(|_| "?".into());
                return Some((pid, comm));
            }
        }
    }
    None
}

/// Every holder of `port` in this namespace, with its process where /proc tells.
pub fn holders(port: u16, tcp: bool) -> Vec<Holder> {
    let files: &[&str] = if tcp {
        &["/proc/net/tcp", "/proc/net/tcp6"]
    } else {
        &["/proc/net/udp", "/proc/net/udp6"]
    };
    let mut out = Vec::new();
    for file in files {
        let table = std::fs::read_to_string(file).unwrap_or_default();
        for (local, inode) in bound(&table, port, tcp) {
            let local = if file.ends_with('6') {
                format!("[::]:{port}")
            } else {
                local
            };
            out.push(Holder {
                process: owner(Path::new("/proc"), inode),
                local,
                inode,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  573: 00000000:0043 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 81234 2 0000000000000000 0
  574: 0100007F:0045 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 81235 2 0000000000000000 0
";
    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 999 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 1000 1 0000000000000000 100 0 0 10 0
";

    #[test]
    fn reads_the_bound_address_port_and_inode() {
        assert_eq!(
            bound(UDP, 67, false),
            vec![("0.0.0.0:67".to_string(), 81234)]
        );
        assert_eq!(
            bound(UDP, 69, false),
            vec![("127.0.0.1:69".to_string(), 81235)]
        );
        assert!(bound(UDP, 4011, false).is_empty());
    }

    #[test]
    fn tcp_counts_listeners_only() {
        assert_eq!(
            bound(TCP, 8080, true),
            vec![("0.0.0.0:8080".to_string(), 999)]
        );
    }

    #[test]
    fn garbage_lines_are_skipped() {
        assert!(bound("header\nnot a table\n1: zz:zz", 67, false).is_empty());
    }

    #[test]
    fn finds_its_own_socket_owner() {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = sock.local_addr().unwrap().port();
        let found = holders(port, false);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].process.as_ref().map(|p| p.0),
            Some(std::process::id())
        );
    }
}
