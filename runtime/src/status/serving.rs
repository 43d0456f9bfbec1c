//! What the status page says about the serving snapshot, taken from it at request time.

use std::collections::BTreeMap;

use netboot_manifest::MacAddr;

use crate::snapshot::Snapshot;

/// The serving snapshot, as far as the status page and `/metrics` need it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Serving {
    /// Host names the fleet gives MACs.
    pub hosts: BTreeMap<MacAddr, String>,
    pub files: usize,
    pub fleet_sha256: String,
    /// Routes out of service and why.
    pub broken: Vec<(String, String)>,
}

impl Serving {
    pub fn of(snapshot: &Snapshot) -> Serving {
        let manifest = snapshot.manifest();
        Serving {
            hosts: manifest
                .hosts
                .iter()
                .map(|(mac, host)| (*mac, host.name.clone()))
                .collect(),
            files: manifest.files.len(),
            fleet_sha256: manifest.fleet_sha256.clone(),
            broken: snapshot
                .broken()
                .iter()
                .map(|(route, why)| (route.clone(), why.clone()))
                .collect(),
        }
    }
}
