//! What the status page says about the serving snapshot, taken from it at request time.

use std::collections::BTreeMap;

use netboot_manifest::MacAddr;

use crate::install::{self, InstallStore, Next};
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
    /// Every host with an install lifecycle: where it stands now.
    pub installs: BTreeMap<MacAddr, Install>,
}

/// A lifecycle host's install state, as the status page and `/metrics` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Install {
    pub host: String,
    /// The generation the fleet installs.
    pub generation: u32,
    pub state: InstallState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallState {
    /// Its generation is reported: it boots `then`.
    Installed,
    /// Not reported yet: it boots the installer.
    Pending,
    /// The state cannot be read (or the server keeps none): it boots `then`.
    Unknown,
}

impl InstallState {
    pub fn as_str(self) -> &'static str {
        match self {
            InstallState::Installed => "installed",
            InstallState::Pending => "pending",
            InstallState::Unknown => "unknown",
        }
    }
}

impl Serving {
    /// `store`: the install state the server decides with; `None` when it keeps none.
    pub fn of(snapshot: &Snapshot, store: Option<&InstallStore>) -> Serving {
        let manifest = snapshot.manifest();
        let lifecycle = manifest.hosts.values().any(|h| h.install.is_some());
        // Read only when the fleet has a lifecycle host, as the server does.
        let state = store.filter(|_| lifecycle).map(InstallStore::current);
        let installs = manifest
            .hosts
            .iter()
            .filter_map(|(mac, host)| {
                let lifecycle = host.install.as_ref()?;
                let state = match &state {
                    Some(Ok(records)) => match install::next(lifecycle, records.get(mac)) {
                        Next::Install => InstallState::Pending,
                        Next::Then => InstallState::Installed,
                    },
                    Some(Err(_)) | None => InstallState::Unknown,
                };
                Some((
                    *mac,
                    Install {
                        host: host.name.clone(),
                        generation: lifecycle.generation,
                        state,
                    },
                ))
            })
            .collect();
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
            installs,
        }
    }
}
