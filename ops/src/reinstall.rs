//! `netboot reinstall HOST`: the emergency override. Forgets what one machine reported, so it
//! installs its current generation again on its next boot. The normal way to reinstall stays
//! a generation bump in the fleet, reviewed in git; this writes only the state file, under the
//! server's lock, and a running server sees the change on the machine's next request.

use std::path::PathBuf;

use netboot_compiler::ServerOverrides;
use netboot_runtime::install::{InstallRecord, InstallStoreError};
use netboot_runtime::pg::StateUrl;

use crate::install_state::{lifecycle_hosts, store};
use crate::loaded::{LoadError, Loaded};

#[derive(Debug, Clone)]
pub struct ReinstallOptions {
    /// The host's name in the fleet.
    pub host: String,
    /// The fleet (or a `.json` manifest) that names it.
    pub fleet: PathBuf,
    pub state_dir: PathBuf,
    /// The state database, instead of the file in `state_dir`.
    pub state: Option<StateUrl>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReinstallError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("no host `{0}` in the fleet")]
    UnknownHost(String),
    #[error("host `{0}` has no install lifecycle: it boots the same profile every time")]
    NoLifecycle(String),
    /// Damaged or unwritable: nothing was changed.
    #[error(transparent)]
    State(#[from] InstallStoreError),
}

/// What was done, for the operator.
#[derive(Debug)]
pub struct Reinstalled {
    pub text: String,
    /// The record removed; `None`: it had not reported, so it installs already.
    pub forgot: Option<InstallRecord>,
}

pub fn reinstall(options: &ReinstallOptions) -> Result<Reinstalled, ReinstallError> {
    let loaded = Loaded::load(&options.fleet, &ServerOverrides::default())?;
    let Some((mac, host, install)) =
        lifecycle_hosts(&loaded.manifest).find(|(_, h, _)| h.name == options.host)
    else {
        return Err(
            if loaded
                .manifest
                .hosts
                .values()
                .any(|h| h.name == options.host)
            {
                ReinstallError::NoLifecycle(options.host.clone())
            } else {
                ReinstallError::UnknownHost(options.host.clone())
            },
        );
    };
    let store =
        store(&options.state_dir, options.state.as_ref()).map_err(InstallStoreError::from)?;
    let forgot = store.forget(mac)?;
    let path = store.describe();
    let text = match &forgot {
        Some(record) => {
            tracing::warn!(
                target: "netboot::install",
                host = %host.name, %mac, forgot_generation = record.generation,
                generation = install.generation, path = %path,
                "install record forgotten by hand: the machine installs again on its next boot"
            );
            format!(
                "{}: forgot generation {} reported installed; it boots {} (generation {}) next\n",
                host.name, record.generation, install.profile, install.generation
            )
        }
        None => format!(
            "{}: nothing reported installed; it boots {} (generation {}) next already\n",
            host.name, install.profile, install.generation
        ),
    };
    Ok(Reinstalled { text, forgot })
}
