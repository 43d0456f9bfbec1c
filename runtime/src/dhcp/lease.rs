//! The lease table of full-DHCP mode: which address belongs to which MAC, and until when.
//!
//! Pure: every operation takes the current time (seconds since the Unix epoch) as an argument,
//! so expiry, reuse and quarantine are unit tests without clocks or sockets. Persistence lives
//! in [`leases_file`](super::leases_file); the table only says when it has something new to
//! save ([`LeaseTable::version`]).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use netboot_manifest::MacAddr;

/// How long an offered address stays reserved for the client that was offered it. RFC 2131
/// leaves it to the server; clients REQUEST within a second or two.
pub const OFFER_HOLD_SECS: u64 = 60;
/// How long an address a client DECLINEd (someone else answers ARP for it) stays out of use.
pub const DECLINE_HOLD_SECS: u64 = 600;

/// The addresses full-DHCP may hand out: an inclusive range minus a few that must never be
/// leased (the server's own address, the router's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    first: u32,
    last: u32,
    reserved: BTreeSet<Ipv4Addr>,
}

/// Why a range cannot be a pool.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error("the range {first}-{last} is backwards: its first address is after its last")]
    Backwards { first: Ipv4Addr, last: Ipv4Addr },
}

impl Pool {
    pub fn new(
        first: Ipv4Addr,
        last: Ipv4Addr,
        reserved: impl IntoIterator<Item = Ipv4Addr>,
    ) -> Result<Pool, PoolError> {
        if u32::from(first) > u32::from(last) {
            return Err(PoolError::Backwards { first, last });
        }
        Ok(Pool {
            first: first.into(),
            last: last.into(),
            reserved: reserved.into_iter().collect(),
        })
    }

    /// Whether `ip` is ours to lease.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let n = u32::from(ip);
        (self.first..=self.last).contains(&n) && !self.reserved.contains(&ip)
    }

    pub fn first(&self) -> Ipv4Addr {
        self.first.into()
    }

    pub fn last(&self) -> Ipv4Addr {
        self.last.into()
    }
}

/// What a recorded address is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// Offered in reply to a DISCOVER, held briefly for the client's REQUEST.
    Offered,
    /// Acknowledged: the client uses it until `expires`. A released lease stays recorded as
    /// bound with `expires` set to the release time, so the client gets the same address back.
    Bound,
    /// A client saw the address in use by someone else; nobody gets it until `expires`.
    Declined,
}

/// One recorded address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub ip: Ipv4Addr,
    pub mac: MacAddr,
    pub state: LeaseState,
    /// Seconds since the Unix epoch.
    pub expires: u64,
}

impl Lease {
    fn active(&self, now: u64) -> bool {
        self.expires > now
    }
}

/// Why a REQUEST cannot be acknowledged (the server answers with a NAK).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0} is not in this server's range")]
    NotInPool(Ipv4Addr),
    #[error("{ip} is leased to {holder}")]
    Taken { ip: Ipv4Addr, holder: MacAddr },
    #[error("{0} was declined by a client (in use by another host) and is quarantined")]
    Quarantined(Ipv4Addr),
}

/// Every address of the range is leased, offered or quarantined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no free address left in the range")]
pub struct Exhausted;

/// Leases by address.
#[derive(Debug, Clone)]
pub struct LeaseTable {
    pool: Pool,
    lease_secs: u64,
    by_ip: BTreeMap<Ipv4Addr, Lease>,
    /// Bumped by every change worth saving (bindings, releases, declines; not offers).
    version: u64,
}

impl LeaseTable {
    pub fn new(pool: Pool, lease_secs: u32) -> LeaseTable {
        LeaseTable {
            pool,
            lease_secs: u64::from(lease_secs),
            by_ip: BTreeMap::new(),
            version: 0,
        }
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Changes since creation that a lease file should record.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Takes back leases read from disk. Ones outside the pool (the range shrank) or in
    /// states a file never holds are dropped and returned, so the caller can log them.
    pub fn restore(&mut self, leases: impl IntoIterator<Item = Lease>) -> Vec<Lease> {
        let mut dropped = Vec::new();
        for lease in leases {
            if !self.pool.contains(lease.ip) || lease.state == LeaseState::Offered {
                dropped.push(lease);
                continue;
            }
            if lease.state == LeaseState::Bound {
                self.by_ip.retain(|_, l| l.mac != lease.mac);
            }
            self.by_ip.insert(lease.ip, lease);
        }
        dropped
    }

    /// Takes back every record a shared database holds, offers included: another server's
    /// offer holds its address for that client here too. Records outside the pool are left
    /// out (and returned): they are another range's, not this table's to change.
    pub fn restore_shared(&mut self, leases: impl IntoIterator<Item = Lease>) -> Vec<Lease> {
        let mut outside = Vec::new();
        for lease in leases {
            if self.pool.contains(lease.ip) {
                self.by_ip.insert(lease.ip, lease);
            } else {
                outside.push(lease);
            }
        }
        outside
    }

    /// Every record, offers included, by address: what a shared database holds.
    pub fn records(&self) -> impl Iterator<Item = &Lease> {
        self.by_ip.values()
    }

    /// What a lease file should hold: bound (including released and expired, which keep a
    /// client's address stable) and declined records.
    pub fn persistent(&self) -> Vec<Lease> {
        self.by_ip
            .values()
            .filter(|l| l.state != LeaseState::Offered)
            .copied()
            .collect()
    }

    /// The client's current record, if any (declines are not the decliner's).
    pub fn lease_of(&self, mac: MacAddr) -> Option<&Lease> {
        self.by_ip
            .values()
            .find(|l| l.mac == mac && l.state != LeaseState::Declined)
    }

    /// Seconds of lease left for `ip` at `now`, for the ACK's option 51.
    pub fn remaining(&self, ip: Ipv4Addr, now: u64) -> Option<u64> {
        self.by_ip.get(&ip).map(|l| l.expires.saturating_sub(now))
    }

    /// Whether `mac` may take `ip` at `now`.
    fn check(&self, mac: MacAddr, ip: Ipv4Addr, now: u64) -> Result<(), Refusal> {
        if !self.pool.contains(ip) {
            return Err(Refusal::NotInPool(ip));
        }
        match self.by_ip.get(&ip) {
            Some(l) if l.state == LeaseState::Declined && l.active(now) => {
                Err(Refusal::Quarantined(ip))
            }
            Some(l) if l.mac != mac && l.state != LeaseState::Declined && l.active(now) => {
                Err(Refusal::Taken { ip, holder: l.mac })
            }
            _ => Ok(()),
        }
    }

    /// Picks an address for a DISCOVER and holds it for the client: its own current or past
    /// address first, then the one it asks for (option 50), then the lowest never-used one,
    /// then the one that expired longest ago.
    pub fn offer(
        &mut self,
        mac: MacAddr,
        requested: Option<Ipv4Addr>,
        now: u64,
    ) -> Result<Ipv4Addr, Exhausted> {
        if let Some(own) = self.lease_of(mac).copied() {
            if self.check(mac, own.ip, now).is_ok() {
                match self.by_ip.get_mut(&own.ip) {
                    // A bound (or released) record stays bound, so it stays on disk; it is
                    // only held long enough for the REQUEST.
                    Some(l) if l.state == LeaseState::Bound => {
                        l.expires = l.expires.max(now + OFFER_HOLD_SECS);
                    }
                    _ => self.hold(mac, own.ip, now),
                }
                return Ok(own.ip);
            }
        }
        let ip = requested
            .filter(|&ip| self.check(mac, ip, now).is_ok())
            .or_else(|| self.never_used())
            .or_else(|| self.longest_expired(now))
            .ok_or(Exhausted)?;
        self.hold(mac, ip, now);
        Ok(ip)
    }

    fn hold(&mut self, mac: MacAddr, ip: Ipv4Addr, now: u64) {
        let changed = self.forget_mac(mac, ip);
        self.by_ip.insert(
            ip,
            Lease {
                ip,
                mac,
                state: LeaseState::Offered,
                expires: now + OFFER_HOLD_SECS,
            },
        );
        if changed {
            self.version += 1;
        }
    }

    /// Removes every record of `mac` except the one for `keep`; tells whether a persistent
    /// one went.
    fn forget_mac(&mut self, mac: MacAddr, keep: Ipv4Addr) -> bool {
        let before = self.persistent().len();
        self.by_ip
            .retain(|&ip, l| ip == keep || l.mac != mac || l.state == LeaseState::Declined);
        self.persistent().len() != before
    }

    fn never_used(&self) -> Option<Ipv4Addr> {
        // Records are few next to a large range: walk the range and stop at the first gap.
        (self.pool.first..=self.pool.last)
            .map(Ipv4Addr::from)
            .find(|ip| self.pool.contains(*ip) && !self.by_ip.contains_key(ip))
    }

    fn longest_expired(&self, now: u64) -> Option<Ipv4Addr> {
        self.by_ip
            .values()
            .filter(|l| !l.active(now))
            .min_by_key(|l| (l.expires, l.ip))
            .map(|l| l.ip)
    }

    /// Binds `ip` to `mac` for a full lease (REQUEST in any state, which also renews).
    pub fn bind(&mut self, mac: MacAddr, ip: Ipv4Addr, now: u64) -> Result<Lease, Refusal> {
        self.check(mac, ip, now)?;
        self.forget_mac(mac, ip);
        let lease = Lease {
            ip,
            mac,
            state: LeaseState::Bound,
            expires: now + self.lease_secs,
        };
        self.by_ip.insert(ip, lease);
        self.version += 1;
        Ok(lease)
    }

    /// The client chose another server's offer: our held address is free again.
    pub fn withdraw_offer(&mut self, mac: MacAddr) -> Option<Ipv4Addr> {
        let ip = self
            .by_ip
            .values()
            .find(|l| l.mac == mac && l.state == LeaseState::Offered)?
            .ip;
        self.by_ip.remove(&ip);
        Some(ip)
    }

    /// DHCPRELEASE: the lease ends now, but stays on record so the client gets the same
    /// address next time if nobody took it. Only the holder can release.
    pub fn release(&mut self, mac: MacAddr, ip: Ipv4Addr, now: u64) -> bool {
        match self.by_ip.get_mut(&ip) {
            Some(l) if l.mac == mac && l.state == LeaseState::Bound => {
                l.expires = l.expires.min(now);
                self.version += 1;
                true
            }
            _ => false,
        }
    }

    /// DHCPDECLINE: the client found `ip` in use by another host. Only the client we gave it
    /// to can take it out of service, so a stray DECLINE cannot empty the pool.
    pub fn decline(&mut self, mac: MacAddr, ip: Ipv4Addr, now: u64) -> bool {
        match self.by_ip.get_mut(&ip) {
            Some(l) if l.mac == mac && l.state != LeaseState::Declined => {
                l.state = LeaseState::Declined;
                l.expires = now + DECLINE_HOLD_SECS;
                self.version += 1;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xa]);
    const B: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xb]);
    const C: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xc]);

    fn ip(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 0, last)
    }

    /// 10.0.0.10-10.0.0.12 with .11 reserved: two usable addresses.
    fn table() -> LeaseTable {
        LeaseTable::new(Pool::new(ip(10), ip(12), [ip(11)]).unwrap(), 3600)
    }

    #[test]
    fn pool_bounds_and_reservations() {
        let pool = Pool::new(ip(10), ip(12), [ip(11)]).unwrap();
        assert!(pool.contains(ip(10)) && pool.contains(ip(12)));
        assert!(!pool.contains(ip(11)) && !pool.contains(ip(9)) && !pool.contains(ip(13)));
        assert_eq!(
            Pool::new(ip(12), ip(10), []),
            Err(PoolError::Backwards {
                first: ip(12),
                last: ip(10)
            })
        );
    }

    #[test]
    fn offer_skips_reserved_and_holds_the_address() {
        let mut t = table();
        assert_eq!(t.offer(A, None, 0), Ok(ip(10)));
        // B cannot get A's held offer, and .11 is reserved.
        assert_eq!(t.offer(B, None, 1), Ok(ip(12)));
        assert_eq!(t.offer(C, None, 2), Err(Exhausted));
        // Offers are not worth saving.
        assert_eq!(t.version(), 0);
        // Once the hold lapses, the address goes to whoever asks.
        assert_eq!(t.offer(C, None, OFFER_HOLD_SECS + 1), Ok(ip(10)));
    }

    #[test]
    fn a_client_keeps_its_address_and_gets_the_one_it_asks_for() {
        let mut t = table();
        assert_eq!(t.offer(A, Some(ip(12)), 0), Ok(ip(12)));
        t.bind(A, ip(12), 0).unwrap();
        // Asking for another address does not move a client that has one.
        assert_eq!(t.offer(A, Some(ip(10)), 10), Ok(ip(12)));
        assert_eq!(t.lease_of(A).unwrap().state, LeaseState::Bound);
        // A requested address outside the pool is not offered.
        assert_eq!(t.offer(B, Some(ip(200)), 10), Ok(ip(10)));
    }

    #[test]
    fn bind_refuses_others_addresses_and_foreign_ones() {
        let mut t = table();
        let lease = t.bind(A, ip(10), 100).unwrap();
        assert_eq!(lease.expires, 3700);
        assert_eq!(
            t.bind(B, ip(10), 200),
            Err(Refusal::Taken {
                ip: ip(10),
                holder: A
            })
        );
        assert_eq!(t.bind(B, ip(11), 200), Err(Refusal::NotInPool(ip(11))));
        assert_eq!(
            t.bind(B, Ipv4Addr::new(192, 168, 1, 5), 200),
            Err(Refusal::NotInPool(Ipv4Addr::new(192, 168, 1, 5)))
        );
        // Renewal extends; after expiry another client may take it.
        assert_eq!(t.bind(A, ip(10), 3000).unwrap().expires, 6600);
        assert!(t.bind(B, ip(10), 6600).is_ok());
        assert!(t.lease_of(A).is_none(), "A's old record went to B");
    }

    #[test]
    fn moving_a_client_forgets_its_old_address() {
        let mut t = table();
        t.bind(A, ip(10), 0).unwrap();
        t.bind(A, ip(12), 1).unwrap();
        assert_eq!(t.persistent().len(), 1);
        assert_eq!(t.lease_of(A).unwrap().ip, ip(12));
    }

    #[test]
    fn release_frees_but_remembers() {
        let mut t = table();
        t.bind(A, ip(10), 0).unwrap();
        assert!(!t.release(B, ip(10), 5), "only the holder releases");
        let v = t.version();
        assert!(t.release(A, ip(10), 5));
        assert!(t.version() > v);
        // Another client gets a never-used address first.
        assert_eq!(t.offer(B, None, 6), Ok(ip(12)));
        t.bind(B, ip(12), 6).unwrap();
        // A comes back and gets its old address, held for its REQUEST and still on record.
        assert_eq!(t.offer(A, None, 7), Ok(ip(10)));
        assert_eq!(t.persistent().len(), 2);
        assert_eq!(t.offer(C, None, 8), Err(Exhausted));
        // Once that hold lapses, the released address goes to whoever asks.
        assert_eq!(t.offer(C, None, 8 + OFFER_HOLD_SECS), Ok(ip(10)));
    }

    #[test]
    fn decline_quarantines_for_everyone() {
        let mut t = table();
        assert_eq!(t.offer(A, None, 0), Ok(ip(10)));
        assert!(
            !t.decline(B, ip(10), 1),
            "a stranger cannot decline A's address"
        );
        assert!(t.decline(A, ip(10), 1));
        assert_eq!(t.bind(B, ip(10), 2), Err(Refusal::Quarantined(ip(10))));
        assert_eq!(
            t.offer(A, None, 2),
            Ok(ip(12)),
            "A is offered another address"
        );
        assert!(t.bind(B, ip(10), 1 + DECLINE_HOLD_SECS).is_ok());
    }

    #[test]
    fn withdraw_offer_when_the_client_chose_another_server() {
        let mut t = table();
        t.offer(A, None, 0).unwrap();
        assert_eq!(t.withdraw_offer(A), Some(ip(10)));
        assert_eq!(t.withdraw_offer(A), None);
        assert_eq!(t.offer(B, None, 1), Ok(ip(10)));
    }

    #[test]
    fn a_shared_table_keeps_offers_and_leaves_other_ranges_alone() {
        let mut t = table();
        let offered = Lease {
            ip: ip(10),
            mac: A,
            state: LeaseState::Offered,
            expires: 60,
        };
        let elsewhere = Lease {
            ip: ip(50),
            mac: B,
            state: LeaseState::Bound,
            expires: 100,
        };
        assert_eq!(t.restore_shared([offered, elsewhere]), vec![elsewhere]);
        assert_eq!(t.records().copied().collect::<Vec<_>>(), vec![offered]);
        // Another server's offer holds the address for its client.
        assert_eq!(t.offer(B, Some(ip(10)), 1), Ok(ip(12)));
        assert_eq!(t.offer(A, None, 2), Ok(ip(10)));
    }

    #[test]
    fn restore_drops_leases_outside_the_pool() {
        let mut t = table();
        let keep = Lease {
            ip: ip(12),
            mac: A,
            state: LeaseState::Bound,
            expires: 100,
        };
        let outside = Lease { ip: ip(50), ..keep };
        let dropped = t.restore([keep, outside]);
        assert_eq!(dropped, vec![outside]);
        assert_eq!(t.persistent(), vec![keep]);
        assert_eq!(t.remaining(ip(12), 40), Some(60));
        assert_eq!(
            t.bind(B, ip(12), 50),
            Err(Refusal::Taken {
                ip: ip(12),
                holder: A
            })
        );
    }
}
