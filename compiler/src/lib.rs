//! The fleet compiler: KDL fleet → checked fleet → boot plan → iPXE scripts → frozen manifest.
//!
//! Work in progress: the public contract the CLI and the runtime rely on is [`compile`] and
//! [`write_output`].

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

pub use netboot_manifest as manifest;
use netboot_manifest::Manifest;

/// Command-line overrides of the fleet's `server` block, applied before planning so generated
/// scripts name the address the server will really answer on.
#[derive(Debug, Clone, Default)]
pub struct ServerOverrides {
    pub interface: Option<String>,
    pub address: Option<Ipv4Addr>,
    pub http_port: Option<u16>,
    pub tftp_port: Option<u16>,
    pub no_dhcp: bool,
}

/// The result of a successful compile.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub manifest: Manifest,
    /// Generated file contents keyed by the `file` of their `Source::Generated`.
    pub generated: BTreeMap<String, Vec<u8>>,
    /// Every local file the compile read (fleet, templates, artifacts), absolute; what a
    /// watcher must watch to recompile on change.
    pub inputs: BTreeSet<PathBuf>,
}

/// Compiles the fleet at `path`. Placeholder until the compiler lands.
pub fn compile(_path: &Path, _overrides: &ServerOverrides) -> Result<Compiled, String> {
    Err("the compiler is not written yet".into())
}
