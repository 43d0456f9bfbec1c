//! `netboot serve` with `dhcp "full"`: settling full-DHCP mode before the sockets open.
//!
//! Full mode hands out addresses, so it is held to stricter rules than proxy mode: it must be
//! bound to one interface (a full DHCP server answering on every interface would hand lab
//! addresses to the office LAN), and its leases live in `--state-dir` so a restart keeps them
//! (or in the state database given by `--state`, shared with the other servers on it).
//! Whether another DHCP server already answers on the segment is what `netboot doctor
//! --interface IF` finds out; at run time a client's REQUEST naming another server is logged
//! as a warning.

use std::path::Path;

use netboot_manifest::{DhcpMode, RelayedSubnet, Server};
use netboot_runtime::dhcp::{netmask_of, FullDhcp, FullSettings, LeaseStore, ServerIdentity};
use netboot_runtime::pg::StateUrl;
use netboot_runtime::server::ServeConfig;

/// The lease file's name inside `--state-dir`.
pub const LEASE_FILE: &str = "dhcp-leases.json";

/// Full-DHCP state for the runtime, or `None` when the fleet runs proxy or no DHCP.
pub fn open(
    state_dir: &Path,
    state: Option<&StateUrl>,
    config: &ServeConfig,
    server: &Server,
) -> Result<Option<FullDhcp>, String> {
    let DhcpMode::Full(settings) = &server.dhcp else {
        return Ok(None);
    };
    if !config.dhcp {
        return Ok(None);
    }
    let Some(interface) = &config.interface else {
        return Err(
            "full DHCP hands out addresses, so it must be bound to the lab's interface: \
             set `interface` in the server block or pass --interface"
                .into(),
        );
    };
    let netmask = netmask_of(config.address).map_err(|e| e.to_string())?;
    let identity = ServerIdentity {
        addr: config.address,
        http_port: config.http_port,
    };
    let settings_of_fleet = FullSettings::from(settings);
    let full = match state {
        Some(url) => FullDhcp::open_shared(&settings_of_fleet, identity, netmask, url)
            .map_err(|e| e.to_string())?,
        None => {
            let lease_file = state_dir.join(LEASE_FILE);
            let (full, dropped) = FullDhcp::open(&settings_of_fleet, identity, netmask, lease_file)
                .map_err(|e| e.to_string())?;
            for lease in dropped {
                tracing::warn!(
                    target: "netboot::dhcp",
                    mac = %lease.mac,
                    ip = %lease.ip,
                    "lease dropped: the address is no longer in the range"
                );
            }
            full
        }
    };
    let leases = match &full.leases {
        LeaseStore::File { table, .. } => table.persistent().len(),
        LeaseStore::Postgres(pg) => pg.count().map_err(|e| format!("full DHCP: {e}"))?,
    };
    tracing::info!(
        target: "netboot::dhcp",
        interface = %interface,
        range = %format!("{}-{}", settings.first, settings.last),
        relayed = %relayed(&settings.subnets),
        netmask = %netmask,
        leases,
        lease_file = %full.leases.describe(),
        "full DHCP: this server leases addresses; run `netboot doctor --interface {interface}` to make sure no other DHCP server answers here"
    );
    Ok(Some(full))
}

/// The relayed subnets and their ranges for the start-up line, `-` when there are none.
fn relayed(subnets: &[RelayedSubnet]) -> String {
    if subnets.is_empty() {
        return "-".into();
    }
    let each: Vec<String> = subnets
        .iter()
        .map(|s| format!("{}/{}:{}-{}", s.network, s.prefix, s.first, s.last))
        .collect();
    each.join(",")
}
