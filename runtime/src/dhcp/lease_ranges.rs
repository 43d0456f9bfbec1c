//! The lease tables of full DHCP, one per range: the server's own segment's, then one per
//! relayed subnet in the fleet's order. Each range is its own [`LeaseTable`], so a client is
//! only ever offered, bound or refused within the range of the segment it asked from; a
//! machine that moves to another subnet gets an address there, and its old lease runs out
//! where it was.

use std::net::Ipv4Addr;

use super::lease::{Lease, LeaseTable};

/// Which range a request is served from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeId {
    /// The server's own segment (no relay, or a relay on the server's own subnet).
    Own,
    /// The relayed subnet at this index of the fleet's `subnet` list.
    Relayed(usize),
}

/// Every range's table.
#[derive(Debug, Clone)]
pub struct LeaseRanges {
    own: LeaseTable,
    relayed: Vec<LeaseTable>,
}

impl LeaseRanges {
    /// `relayed` in the order of the relayed subnets they serve.
    pub fn new(own: LeaseTable, relayed: Vec<LeaseTable>) -> LeaseRanges {
        LeaseRanges { own, relayed }
    }

    /// The server's own segment's table.
    pub fn own(&self) -> &LeaseTable {
        &self.own
    }

    pub fn own_mut(&mut self) -> &mut LeaseTable {
        &mut self.own
    }

    /// The table of `range`; `None` for a relayed index with no table.
    pub fn get(&self, range: RangeId) -> Option<&LeaseTable> {
        match range {
            RangeId::Own => Some(&self.own),
            RangeId::Relayed(i) => self.relayed.get(i),
        }
    }

    pub fn get_mut(&mut self, range: RangeId) -> Option<&mut LeaseTable> {
        match range {
            RangeId::Own => Some(&mut self.own),
            RangeId::Relayed(i) => self.relayed.get_mut(i),
        }
    }

    /// Every table, the own one first.
    pub fn tables(&self) -> impl Iterator<Item = &LeaseTable> {
        std::iter::once(&self.own).chain(&self.relayed)
    }

    fn tables_mut(&mut self) -> impl Iterator<Item = &mut LeaseTable> {
        std::iter::once(&mut self.own).chain(&mut self.relayed)
    }

    /// Changes worth saving, over every table (each only grows).
    pub fn version(&self) -> u64 {
        self.tables().map(LeaseTable::version).sum()
    }

    /// What a lease file holds, by address: every table's persistent records.
    pub fn persistent(&self) -> Vec<Lease> {
        let mut all: Vec<Lease> = self.tables().flat_map(LeaseTable::persistent).collect();
        all.sort_by_key(|l| l.ip);
        all
    }

    /// Every record of every table, by address.
    pub fn records(&self) -> Vec<Lease> {
        let mut all: Vec<Lease> = self.tables().flat_map(|t| t.records().copied()).collect();
        all.sort_by_key(|l| l.ip);
        all
    }

    /// The table whose range holds `ip`.
    fn holding(&mut self, ip: Ipv4Addr) -> Option<&mut LeaseTable> {
        self.tables_mut().find(|t| t.pool().contains(ip))
    }

    /// Takes back leases read from a file, each into the table whose range holds it. Ones in
    /// no range, or in states a file never holds, are dropped and returned for the log.
    pub fn restore(&mut self, leases: impl IntoIterator<Item = Lease>) -> Vec<Lease> {
        let mut dropped = Vec::new();
        for lease in leases {
            match self.holding(lease.ip) {
                Some(table) => dropped.extend(table.restore([lease])),
                None => dropped.push(lease),
            }
        }
        dropped
    }

    /// Takes back a shared database's records, offers included, each into its range's table;
    /// records in no range of this server are left out and returned.
    pub fn restore_shared(&mut self, leases: impl IntoIterator<Item = Lease>) -> Vec<Lease> {
        let mut outside = Vec::new();
        for lease in leases {
            match self.holding(lease.ip) {
                Some(table) => outside.extend(table.restore_shared([lease])),
                None => outside.push(lease),
            }
        }
        outside
    }
}

impl From<LeaseTable> for LeaseRanges {
    /// The server's own range alone (a fleet with no relayed subnets).
    fn from(own: LeaseTable) -> LeaseRanges {
        LeaseRanges::new(own, Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dhcp::lease::{LeaseState, Pool};
    use netboot_manifest::MacAddr;

    const A: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xa]);

    fn ranges() -> LeaseRanges {
        let own = Pool::new([10, 0, 0, 10].into(), [10, 0, 0, 12].into(), []).unwrap();
        let relayed = Pool::new([10, 78, 0, 10].into(), [10, 78, 0, 12].into(), []).unwrap();
        LeaseRanges::new(
            LeaseTable::new(own, 3600),
            vec![LeaseTable::new(relayed, 3600)],
        )
    }

    fn lease(ip: [u8; 4]) -> Lease {
        Lease {
            ip: ip.into(),
            mac: A,
            state: LeaseState::Bound,
            expires: 100,
        }
    }

    #[test]
    fn leases_go_back_to_the_table_of_their_range() {
        let mut r = ranges();
        let (own, relayed, nowhere) = (
            lease([10, 0, 0, 11]),
            lease([10, 78, 0, 12]),
            lease([10, 79, 0, 1]),
        );
        assert_eq!(r.restore([relayed, nowhere, own]), vec![nowhere]);
        assert_eq!(r.own().persistent(), vec![own]);
        assert_eq!(
            r.get(RangeId::Relayed(0)).unwrap().persistent(),
            vec![relayed]
        );
        // One client may hold a lease in each range: it moved between subnets.
        assert_eq!(r.persistent(), vec![own, relayed]);
        assert!(r.get(RangeId::Relayed(1)).is_none());
    }

    #[test]
    fn each_range_offers_its_own_addresses_and_counts_its_changes() {
        let mut r = ranges();
        let relayed = r.get_mut(RangeId::Relayed(0)).unwrap();
        assert_eq!(relayed.offer(A, None, 0), Ok([10, 78, 0, 10].into()));
        relayed.bind(A, [10, 78, 0, 10].into(), 0).unwrap();
        assert_eq!(r.version(), 1);
        assert_eq!(
            r.get_mut(RangeId::Own).unwrap().offer(A, None, 1),
            Ok([10, 0, 0, 10].into())
        );
        assert_eq!(r.records().len(), 2);
        assert_eq!(r.persistent().len(), 1, "offers are not saved");
    }
}
