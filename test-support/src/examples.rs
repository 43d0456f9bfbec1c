//! Copies of the example fleets (`examples/<name>/`) for tests to build, explain and edit.
//!
//! The examples name files from Debian packages by their absolute paths (iPXE's loaders, the
//! installer, memtest86+, GRUB's rescue ISO). Two ways to copy one:
//!
//! - [`copy`] points every such path at a stand-in under the copy's own `debian-packages/`,
//!   shaped like the real file where the build checks it (a kernel's header, a PE image, an
//!   ISO's El Torito catalog), so outputs (sizes, hashes) depend on nothing installed and
//!   every test can run anywhere;
//! - [`copy_as_shipped`] leaves the fleet as an operator gets it, for the tests that build the
//!   examples against the real files ([`debian_packages_installed`] says whether they can).

use std::path::{Path, PathBuf};

use crate::dir_tree::copy_dir_without;
use crate::stand_in;

/// Where the stand-ins for package files go in a [`copy`], relative to its fleet.
pub const STAND_INS: &str = "debian-packages";

const D_I: &str = "/usr/lib/debian-installer/images/12";

/// Every package file an example names, with the stand-in [`copy`] writes for it.
fn package_files() -> Vec<(String, Vec<u8>)> {
    let text = |what: &str| format!("stand-in for {what}\n").into_bytes();
    vec![
        (
            "/usr/lib/ipxe/undionly.kpxe".into(),
            text("/usr/lib/ipxe/undionly.kpxe"),
        ),
        ("/usr/lib/ipxe/ipxe.efi".into(), stand_in::efi_x64("iPXE")),
        (
            format!("{D_I}/amd64/text/debian-installer/amd64/linux"),
            stand_in::kernel("Debian 12 installer kernel (amd64)\n"),
        ),
        (
            format!("{D_I}/amd64/text/debian-installer/amd64/initrd.gz"),
            text("the Debian 12 installer initrd (amd64)"),
        ),
        (
            format!("{D_I}/arm64/text/debian-installer/arm64/linux"),
            stand_in::arm64_kernel("Debian 12 installer kernel (arm64)\n"),
        ),
        (
            format!("{D_I}/arm64/text/debian-installer/arm64/initrd.gz"),
            text("the Debian 12 installer initrd (arm64)"),
        ),
        (
            "/boot/memtest86+x64.efi".into(),
            stand_in::efi_x64("memtest86+"),
        ),
        (
            "/boot/memtest86+x64.bin".into(),
            stand_in::kernel("memtest86+\n"),
        ),
        (
            "/usr/lib/grub-rescue/grub-rescue-cdrom.iso".into(),
            stand_in::iso(true, false),
        ),
    ]
}

/// The Debian packages the examples' files come from, as `apt-get install` takes them.
pub const DEBIAN_PACKAGES: &str =
    "ipxe debian-installer-12-netboot-amd64 debian-installer-12-netboot-arm64 memtest86+ grub-rescue-pc";

/// Whether every package file the examples name is on this machine.
pub fn debian_packages_installed() -> bool {
    package_files().iter().all(|(p, _)| Path::new(p).is_file())
}

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

/// Copies `examples/<name>` to `to` (without a local `build/` of it) as shipped; returns the
/// copy's `fleet.kdl`.
pub fn copy_as_shipped(name: &str, to: &Path) -> PathBuf {
    copy_dir_without(
        &crate::workspace().join("examples").join(name),
        to,
        &["build"],
    );
    to.join("fleet.kdl")
}

/// Copies `examples/<name>` to `to` with stand-ins for the package files; returns the copy's
/// `fleet.kdl`. Panics if the fleet names an absolute path this module has no stand-in for.
pub fn copy(name: &str, to: &Path) -> PathBuf {
    let fleet = copy_as_shipped(name, to);
    let mut text = std::fs::read_to_string(&fleet).unwrap();
    for (path, bytes) in package_files() {
        let quoted = format!("\"{path}\"");
        if !text.contains(&quoted) {
            continue;
        }
        let relative = format!("{STAND_INS}{path}");
        text = text.replace(&quoted, &format!("\"{relative}\""));
        let file = to.join(&relative);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, bytes).unwrap();
    }
    // Package files live under these; a fleet's other absolute strings (a label's disk) stay.
    assert!(
        !text.contains("\"/usr/") && !text.contains("\"/boot/"),
        "examples/{name}/fleet.kdl names a file test-support's examples.rs has no stand-in for"
    );
    std::fs::write(&fleet, text).unwrap();
    fleet
}

/// A build's files with what comes from the package files made independent of the machine:
/// in `manifest.json`, the size and sha256 of each package file (they change with Debian's
/// point releases) and the fleet's sha256 (a [`copy`]'s fleet names the stand-ins), and the
/// stand-ins' paths as the real ones. The generated scripts and menus are left as they are.
/// A [`copy`]'s build and a [`copy_as_shipped`]'s then agree, and one golden pins both.
pub fn normalise_build(
    mut files: std::collections::BTreeMap<String, Vec<u8>>,
) -> std::collections::BTreeMap<String, Vec<u8>> {
    use netboot_manifest::{Manifest, Source};
    let Some(json) = files.get("manifest.json") else {
        return files;
    };
    let mut m = Manifest::from_json(json).expect("manifest.json parses");
    m.fleet_sha256 = "[the fleet's sha256]".into();
    for entry in m.files.values_mut() {
        let Source::Artifact { path } = &mut entry.source else {
            continue;
        };
        if let Some(real) = path.strip_prefix(STAND_INS) {
            *path = real.to_string();
        }
        if path.starts_with('/') {
            entry.size = 0;
            entry.sha256 = "[a Debian package file's sha256]".into();
        }
    }
    files.insert("manifest.json".into(), m.to_json().into_bytes());
    files
}
