//! Copies of the example fleets (`examples/<name>/`) for tests to build, explain and edit.
//!
//! The examples name Debian's loaders (`/usr/lib/ipxe/…`); a copy points them at stand-ins in
//! its own `debian-ipxe/`, so outputs (sizes, hashes) do not depend on the `ipxe` package
//! installed on the test machine.

use std::path::{Path, PathBuf};

use crate::dir_tree::copy_dir_without;

/// The loaders the examples take from Debian's `ipxe` package.
const DEBIAN_LOADERS: [&str; 2] = ["undionly.kpxe", "ipxe.efi"];

/// The names of the examples (directories of `examples/` with a `fleet.kdl`), sorted.
pub fn names() -> Vec<String> {
    let dir = crate::workspace().join("examples");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("fleet.kdl").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Copies `examples/<name>` to `to` (without a local `build/` of it) with stand-in loaders;
/// returns the copy's `fleet.kdl`.
pub fn copy(name: &str, to: &Path) -> PathBuf {
    copy_dir_without(
        &crate::workspace().join("examples").join(name),
        to,
        &["build"],
    );
    let fleet = to.join("fleet.kdl");
    let text = std::fs::read_to_string(&fleet).unwrap();
    std::fs::write(&fleet, text.replace("\"/usr/lib/ipxe/", "\"debian-ipxe/")).unwrap();
    std::fs::create_dir_all(to.join("debian-ipxe")).unwrap();
    for loader in DEBIAN_LOADERS {
        std::fs::write(
            to.join("debian-ipxe").join(loader),
            format!("stand-in for /usr/lib/ipxe/{loader}\n"),
        )
        .unwrap();
    }
    fleet
}
