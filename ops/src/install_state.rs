//! What `state` and `reinstall` share: where the install state lives, and the machines of a
//! fleet that have an install lifecycle.

use std::path::{Path, PathBuf};

use netboot_manifest::{Host, InstallLifecycle, MacAddr, Manifest};
use netboot_runtime::install::{InstallStore, STATE_FILE};
use netboot_runtime::pg::PgError;
/// `--state`: the state database's URL (re-exported for the binary's arguments).
pub use netboot_runtime::pg::StateUrl;

/// `--state-dir`'s default, the same as `netboot serve`'s.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/netboot";

/// The state file inside `state_dir`, as the server reads and writes it.
pub fn state_path(state_dir: &Path) -> PathBuf {
    state_dir.join(STATE_FILE)
}

/// The server's install state: the state database when `--state` names one, else the state
/// file, written under the same lock as the server.
pub fn store(state_dir: &Path, state: Option<&StateUrl>) -> Result<InstallStore, PgError> {
    match state {
        Some(url) => InstallStore::postgres(url),
        None => Ok(InstallStore::file(state_path(state_dir))),
    }
}

/// Every host with an install lifecycle, by MAC.
pub fn lifecycle_hosts(
    manifest: &Manifest,
) -> impl Iterator<Item = (MacAddr, &Host, &InstallLifecycle)> {
    manifest
        .hosts
        .iter()
        .filter_map(|(mac, h)| Some((*mac, h, h.install.as_ref()?)))
}
