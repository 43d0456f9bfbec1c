//! Scaffolding shared by netboot's tests, written once: hand-made manifests and the runtime's
//! servers on loopback with bare clients to talk to them, the log-event capture, and (for the
//! end-to-end tests of the `netboot` binary) fleets in temporary directories, `netboot serve`
//! on loopback, the network-namespace lab with its VMs, and golden files.
//!
//! Each test binary uses a different part; being a library, unused parts cost no warnings.

use std::path::{Path, PathBuf};

pub mod chromium;
pub mod daemon;
pub mod dhcp;
pub mod dir_tree;
pub mod examples;
pub mod fleet_dir;
pub mod golden;
pub mod http;
pub mod junit;
pub mod lab;
pub mod lifecycle;
pub mod log_events;
pub mod loopback;
pub mod netns;
pub mod nginx;
pub mod origin;
pub mod ports;
pub mod postgres;
pub mod programs;
pub mod rng;
pub mod served;
pub mod served_files;
pub mod stand_in;
pub mod tftp;
pub mod unprivileged;
pub mod vm;
pub mod whole_runtime;

/// The workspace's root directory (examples/, tests/, the golden files).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("test-support lives inside the workspace")
        .to_path_buf()
}

/// The `netboot` binary of this build. Cargo names it in `CARGO_BIN_EXE_netboot` for the root
/// package's integration tests; anywhere else it is beside the test executable's `deps/`.
pub fn netboot_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("CARGO_BIN_EXE_netboot") {
        return path.into();
    }
    let mut dir = std::env::current_exe().expect("the test executable's own path");
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join(format!("netboot{}", std::env::consts::EXE_SUFFIX))
}
