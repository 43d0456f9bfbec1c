//! Settling full-DHCP mode at start-up: the range checked against the server's subnet (and
//! each relayed subnet's range against that subnet), the lease file read back (or the lease
//! database connected), and the mask taken from the interface.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use super::answer::ServerIdentity;
use super::full::FullConfig;
use netboot_manifest::RelayedSubnet;

use super::lease::{Lease, LeaseTable, Pool, PoolError};
use super::lease_ranges::LeaseRanges;
use super::lease_store::{LeaseStore, PgLeases};
use super::leases_file::{self, LeasesFileError};
use crate::pg::{PgError, StateUrl};

/// The fleet's full-DHCP settings, as the manifest carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullSettings {
    pub first: Ipv4Addr,
    pub last: Ipv4Addr,
    pub lease_secs: u32,
    pub router: Option<Ipv4Addr>,
    pub dns: Vec<Ipv4Addr>,
    /// Subnets behind relays, each with its own range.
    pub relayed: Vec<RelayedSubnet>,
}

impl From<&netboot_manifest::FullDhcpConfig> for FullSettings {
    fn from(c: &netboot_manifest::FullDhcpConfig) -> FullSettings {
        FullSettings {
            first: c.first,
            last: c.last,
            lease_secs: c.lease_time,
            router: c.router,
            dns: c.dns.clone(),
            relayed: c.subnets.clone(),
        }
    }
}

/// Everything the full-DHCP loop needs: answers, and the leases where they are kept.
#[derive(Debug, Clone)]
pub struct FullDhcp {
    pub config: FullConfig,
    pub leases: LeaseStore,
}

/// Why full-DHCP cannot start.
#[derive(Debug, thiserror::Error)]
pub enum FullSetupError {
    #[error("full DHCP: {0}")]
    Pool(#[from] PoolError),
    #[error("full DHCP: the range {first}-{last} is not on the server's subnet {network}/{prefix} (address {server}); clients would get addresses nobody can route")]
    OffSubnet {
        first: Ipv4Addr,
        last: Ipv4Addr,
        server: Ipv4Addr,
        network: Ipv4Addr,
        prefix: u32,
    },
    #[error("full DHCP: the router {router} is not on the server's subnet {network}/{prefix}")]
    RouterOffSubnet {
        router: Ipv4Addr,
        network: Ipv4Addr,
        prefix: u32,
    },
    #[error(
        "full DHCP: the range {first}-{last} is not inside its relayed subnet {network}/{prefix}"
    )]
    OffRelayedSubnet {
        first: Ipv4Addr,
        last: Ipv4Addr,
        network: Ipv4Addr,
        prefix: u8,
    },
    #[error("full DHCP: the relayed subnet {network}/{prefix} overlaps the server's own subnet {own}/{own_prefix} (address {server}); the server's own segment is served from the top-level range")]
    RelayedIsOwn {
        network: Ipv4Addr,
        prefix: u8,
        own: Ipv4Addr,
        own_prefix: u32,
        server: Ipv4Addr,
    },
    #[error("full DHCP: lease time must be at least 60 seconds, found {0}")]
    LeaseTime(u32),
    #[error("full DHCP: {0}")]
    LeasesFile(#[from] LeasesFileError),
    #[error("full DHCP: {0}")]
    Postgres(#[from] PgError),
    #[error("full DHCP: the server address {0} is on no interface of this machine, so its subnet mask is unknown")]
    NoMask(Ipv4Addr),
}

impl FullDhcp {
    /// Checks `settings` against the server's subnet and restores the leases in `lease_file`.
    /// Returns the leases dropped because the range no longer holds them, for the log.
    pub fn open(
        settings: &FullSettings,
        server: ServerIdentity,
        netmask: Ipv4Addr,
        lease_file: PathBuf,
    ) -> Result<(FullDhcp, Vec<Lease>), FullSetupError> {
        let (config, own, relayed) = checked(settings, server, netmask)?;
        let table = |pool| LeaseTable::new(pool, settings.lease_secs);
        let mut leases = LeaseRanges::new(table(own), relayed.into_iter().map(table).collect());
        let dropped = leases.restore(leases_file::load(&lease_file)?);
        let leases = LeaseStore::file(leases, lease_file);
        Ok((FullDhcp { config, leases }, dropped))
    }

    /// Like [`FullDhcp::open`], the leases in the state database at `url`, shared with the
    /// other servers on it. Nothing is dropped: records outside this range are other
    /// ranges', left as they are.
    pub fn open_shared(
        settings: &FullSettings,
        server: ServerIdentity,
        netmask: Ipv4Addr,
        url: &StateUrl,
    ) -> Result<FullDhcp, FullSetupError> {
        let (config, own, relayed) = checked(settings, server, netmask)?;
        let leases = PgLeases::open(url, own, relayed, settings.lease_secs)?;
        Ok(FullDhcp {
            config,
            leases: LeaseStore::Postgres(leases),
        })
    }
}

/// The answers every client gets, and the pools (the server's own, and the relayed subnets'
/// in order), once `settings` fit the server's subnet and each relayed one.
fn checked(
    settings: &FullSettings,
    server: ServerIdentity,
    netmask: Ipv4Addr,
) -> Result<(FullConfig, Pool, Vec<Pool>), FullSetupError> {
    if settings.lease_secs < 60 {
        return Err(FullSetupError::LeaseTime(settings.lease_secs));
    }
    let mask = u32::from(netmask);
    let network = Ipv4Addr::from(u32::from(server.addr) & mask);
    let broadcast = Ipv4Addr::from(u32::from(server.addr) | !mask);
    let prefix = mask.count_ones();
    let on_subnet = |ip: Ipv4Addr| u32::from(ip) & mask == u32::from(network);
    if !on_subnet(settings.first) || !on_subnet(settings.last) {
        return Err(FullSetupError::OffSubnet {
            first: settings.first,
            last: settings.last,
            server: server.addr,
            network,
            prefix,
        });
    }
    if let Some(router) = settings.router.filter(|r| !on_subnet(*r)) {
        return Err(FullSetupError::RouterOffSubnet {
            router,
            network,
            prefix,
        });
    }
    let mut reserved = vec![server.addr, network, broadcast];
    reserved.extend(settings.router);
    let own = Pool::new(settings.first, settings.last, reserved)?;
    let relayed = (settings.relayed.iter())
        .map(|subnet| relayed_pool(subnet, server.addr, netmask))
        .collect::<Result<_, _>>()?;
    Ok((
        FullConfig {
            server,
            netmask,
            router: settings.router,
            dns: settings.dns.clone(),
            lease_secs: settings.lease_secs,
            relayed: settings.relayed.clone(),
        },
        own,
        relayed,
    ))
}

/// The pool of a relayed subnet. The compiler checks the same for a fleet; a manifest may be
/// written by hand, and an address leased off its subnet is one nobody can route.
fn relayed_pool(
    subnet: &RelayedSubnet,
    server: Ipv4Addr,
    netmask: Ipv4Addr,
) -> Result<Pool, FullSetupError> {
    let (mask, own_mask) = (u32::from(subnet.netmask()), u32::from(netmask));
    // Two CIDR blocks overlap when the wider mask finds them equal.
    let wider = mask & own_mask;
    if u32::from(subnet.network) & wider == u32::from(server) & wider {
        return Err(FullSetupError::RelayedIsOwn {
            network: subnet.network,
            prefix: subnet.prefix,
            own: Ipv4Addr::from(u32::from(server) & own_mask),
            own_prefix: own_mask.count_ones(),
            server,
        });
    }
    if !subnet.contains(subnet.first) || !subnet.contains(subnet.last) {
        return Err(FullSetupError::OffRelayedSubnet {
            first: subnet.first,
            last: subnet.last,
            network: subnet.network,
            prefix: subnet.prefix,
        });
    }
    let network = Ipv4Addr::from(u32::from(subnet.network) & mask);
    let broadcast = Ipv4Addr::from(u32::from(subnet.network) | !mask);
    let mut reserved = vec![network, broadcast];
    reserved.extend(subnet.router);
    Ok(Pool::new(subnet.first, subnet.last, reserved)?)
}

/// The subnet mask of `address` on this machine's interfaces.
pub fn netmask_of(address: Ipv4Addr) -> Result<Ipv4Addr, FullSetupError> {
    let all = if_addrs::get_if_addrs().map_err(|_| FullSetupError::NoMask(address))?;
    all.iter()
        .find_map(|i| match &i.addr {
            if_addrs::IfAddr::V4(v4) if IpAddr::V4(v4.ip) == IpAddr::V4(address) => {
                Some(v4.netmask)
            }
            _ => None,
        })
        .ok_or(FullSetupError::NoMask(address))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(first: [u8; 4], last: [u8; 4]) -> FullSettings {
        FullSettings {
            first: first.into(),
            last: last.into(),
            lease_secs: 3600,
            router: None,
            dns: vec![],
            relayed: vec![],
        }
    }

    const SERVER: ServerIdentity = ServerIdentity {
        addr: Ipv4Addr::new(10, 0, 0, 1),
        http_port: 8080,
    };
    const MASK: Ipv4Addr = Ipv4Addr::new(255, 255, 255, 0);

    #[test]
    fn range_and_router_must_be_on_the_subnet() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("leases.json");
        let err = FullDhcp::open(
            &settings([10, 0, 1, 5], [10, 0, 1, 9]),
            SERVER,
            MASK,
            file.clone(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("not on the server's subnet 10.0.0.0/24"),
            "{err}"
        );
        let mut s = settings([10, 0, 0, 5], [10, 0, 0, 9]);
        s.router = Some(Ipv4Addr::new(192, 168, 0, 1));
        assert!(matches!(
            FullDhcp::open(&s, SERVER, MASK, file.clone()),
            Err(FullSetupError::RouterOffSubnet { .. })
        ));
        s.router = None;
        s.lease_secs = 5;
        assert!(matches!(
            FullDhcp::open(&s, SERVER, MASK, file),
            Err(FullSetupError::LeaseTime(5))
        ));
    }

    #[test]
    fn server_network_and_broadcast_are_never_leased() {
        let dir = tempfile::tempdir().unwrap();
        let (full, dropped) = FullDhcp::open(
            &settings([10, 0, 0, 0], [10, 0, 0, 255]),
            SERVER,
            MASK,
            dir.path().join("leases.json"),
        )
        .unwrap();
        assert!(dropped.is_empty());
        let pool = full.leases.pool();
        for ip in [[10, 0, 0, 0], [10, 0, 0, 1], [10, 0, 0, 255]] {
            assert!(!pool.contains(ip.into()), "{ip:?}");
        }
        assert!(pool.contains(Ipv4Addr::new(10, 0, 0, 2)));
    }

    fn relayed(network: [u8; 4], prefix: u8, first: [u8; 4], last: [u8; 4]) -> RelayedSubnet {
        RelayedSubnet {
            network: network.into(),
            prefix,
            first: first.into(),
            last: last.into(),
            router: None,
        }
    }

    #[test]
    fn each_relayed_subnet_gets_its_own_pool_inside_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("leases.json");
        let mut s = settings([10, 0, 0, 5], [10, 0, 0, 9]);
        s.relayed = vec![relayed(
            [10, 78, 0, 0],
            24,
            [10, 78, 0, 0],
            [10, 78, 0, 255],
        )];
        let (full, _) = FullDhcp::open(&s, SERVER, MASK, file.clone()).unwrap();
        let LeaseStore::File { table, .. } = &full.leases else {
            panic!("a file store");
        };
        let pool = table.get(super::super::RangeId::Relayed(0)).unwrap().pool();
        // The relayed subnet's network and broadcast addresses are never leased.
        for ip in [[10, 78, 0, 0], [10, 78, 0, 255], [10, 0, 0, 5]] {
            assert!(!pool.contains(ip.into()), "{ip:?}");
        }
        assert!(pool.contains(Ipv4Addr::new(10, 78, 0, 1)));
        assert_eq!(full.config.relayed, s.relayed);

        // A hand-written manifest is held to the compiler's rule.
        s.relayed = vec![relayed([10, 78, 0, 0], 24, [10, 78, 0, 5], [10, 78, 1, 5])];
        assert!(matches!(
            FullDhcp::open(&s, SERVER, MASK, file.clone()),
            Err(FullSetupError::OffRelayedSubnet { .. })
        ));
        // A "relayed" subnet that is the server's own, or holds it, or lies in it.
        for (network, prefix, first) in [
            ([10, 0, 0, 0], 24, [10, 0, 0, 20]),
            ([10, 0, 0, 0], 16, [10, 0, 1, 20]),
            ([10, 0, 0, 128], 25, [10, 0, 0, 130]),
        ] {
            s.relayed = vec![relayed(network, prefix, first, first)];
            let err = FullDhcp::open(&s, SERVER, MASK, file.clone()).unwrap_err();
            assert!(
                matches!(err, FullSetupError::RelayedIsOwn { .. }),
                "{network:?}/{prefix}: {err}"
            );
        }
    }

    #[test]
    fn loopback_has_a_mask() {
        assert_eq!(
            netmask_of(Ipv4Addr::LOCALHOST).unwrap(),
            Ipv4Addr::new(255, 0, 0, 0)
        );
        assert!(netmask_of(Ipv4Addr::new(192, 0, 2, 77)).is_err());
    }
}
