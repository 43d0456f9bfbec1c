//! Scaffolding shared by netboot's tests, written once: hand-made manifests and the runtime's
//! servers on loopback with bare clients to talk to them, the log-event capture, and (for the
//! end-to-end tests of the `netboot` binary) fleets in temporary directories, `netboot serve`
//! on loopback, the network-namespace lab with its VMs, and golden files.
//!
//! Each test binary uses a different part; being a library, unused parts cost no warnings.

use std::path::{Path, PathBuf};

pub mod dhcp;
pub mod http;
pub mod log_events;
pub mod loopback;
pub mod programs;
pub mod served_files;
pub mod tftp;

/// The workspace's root directory (examples/, tests/, the golden files).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("test-support lives inside the workspace")
        .to_path_buf()
}
