//! Which MAC address an IP belongs to, from the kernel's ARP table.
//!
//! TFTP and HTTP see only the client's IP. After a client has talked to us the kernel has
//! resolved its address to answer it, so `/proc/net/arp` (of the server's own network
//! namespace) names the machine. Behind a trait so tests can say what the table holds.

use std::net::{IpAddr, Ipv4Addr};

use netboot_manifest::MacAddr;

/// Looks an IP up in some neighbour table.
pub trait Neighbors: Send + Sync {
    fn mac_of(&self, ip: IpAddr) -> Option<MacAddr>;
}

/// The kernel's ARP table. Re-read at most every [`ProcArp::REFRESH`]: a lookup happens for
/// every HTTP and TFTP request from an IP not yet tied to a MAC (loopback clients never are),
/// and reading `/proc` per request halved the small-script request rate.
#[derive(Debug, Default)]
pub struct ProcArp {
    cache: std::sync::Mutex<Option<(std::time::Instant, String)>>,
}

impl ProcArp {
    pub const REFRESH: std::time::Duration = std::time::Duration::from_secs(1);
}

impl Neighbors for ProcArp {
    fn mac_of(&self, ip: IpAddr) -> Option<MacAddr> {
        let IpAddr::V4(ip) = ip else {
            return None;
        };
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let fresh = matches!(&*cache, Some((at, _)) if at.elapsed() < Self::REFRESH);
        if !fresh {
            let table = std::fs::read_to_string("/proc/net/arp").unwrap_or_default();
            *cache = Some((std::time::Instant::now(), table));
        }
        arp_lookup(cache.as_ref().map_or("", |(_, t)| t.as_str()), ip)
    }
}

/// A table that knows nobody: for tests and for systems without `/proc/net/arp`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoNeighbors;

impl Neighbors for NoNeighbors {
    fn mac_of(&self, _: IpAddr) -> Option<MacAddr> {
        None
    }
}

/// Finds `ip` in the text of `/proc/net/arp`:
///
/// ```text
/// IP address       HW type     Flags       HW address            Mask     Device
/// 10.77.1.50       0x1         0x2         52:54:00:e2:e0:01     *        eth0
/// ```
///
/// Incomplete entries (flags without ATF_COM, 0x2) have an all-zero address and are skipped.
pub fn arp_lookup(table: &str, ip: Ipv4Addr) -> Option<MacAddr> {
    const ATF_COM: u32 = 0x2;
    table.lines().skip(1).find_map(|line| {
        let mut fields = line.split_whitespace();
        let addr: Ipv4Addr = fields.next()?.parse().ok()?;
        let _hw_type = fields.next()?;
        let flags = u32::from_str_radix(fields.next()?.trim_start_matches("0x"), 16).ok()?;
        let mac: MacAddr = fields.next()?.parse().ok()?;
        (addr == ip && flags & ATF_COM != 0 && mac.0 != [0; 6]).then_some(mac)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
IP address       HW type     Flags       HW address            Mask     Device
10.77.1.50       0x1         0x2         52:54:00:e2:e0:01     *        eth0
10.77.1.51       0x1         0x0         00:00:00:00:00:00     *        eth0
10.77.1.1        0x1         0x6         52:54:00:aa:bb:cc     *        eth0
garbage line
";

    #[test]
    fn finds_complete_entries_only() {
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(
            arp_lookup(TABLE, ip("10.77.1.50")),
            Some("52:54:00:e2:e0:01".parse().unwrap())
        );
        assert_eq!(
            arp_lookup(TABLE, ip("10.77.1.1")),
            Some("52:54:00:aa:bb:cc".parse().unwrap())
        );
        assert_eq!(
            arp_lookup(TABLE, ip("10.77.1.51")),
            None,
            "incomplete entry"
        );
        assert_eq!(arp_lookup(TABLE, ip("10.77.1.99")), None, "absent");
        assert_eq!(arp_lookup("", ip("10.77.1.50")), None);
    }

    #[test]
    fn ipv6_is_never_in_the_arp_table() {
        assert_eq!(NoNeighbors.mac_of(Ipv4Addr::LOCALHOST.into()), None);
        assert_eq!(ProcArp::default().mac_of("::1".parse().unwrap()), None);
    }
}
