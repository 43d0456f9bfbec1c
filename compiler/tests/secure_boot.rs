//! A fleet with Secure Boot machines and others (tests/secure_boot/fleet.kdl): the chain's
//! loaders under `sb/`, the GRUB configs under `grub/` (dispatch, per host, default; menus,
//! submenus, one profile booted at once), the artifacts GRUB fetches served over TFTP and the
//! manifest's Secure Boot table, pinned byte for byte. Regenerate after an intended change
//! with `SNAPSHOTS=overwrite cargo test -p netboot-compiler --test secure_boot`, then review the diff.

use std::path::PathBuf;

use netboot_compiler::{compile, ServerOverrides};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/secure_boot")
}

/// Every generated file, then the manifest, in one reviewable text.
fn rendered() -> String {
    let compiled = compile(&dir().join("fleet.kdl"), &ServerOverrides::default())
        .unwrap_or_else(|f| panic!("{f}"));
    let mut out = String::new();
    for (route, bytes) in &compiled.generated {
        out += &format!("=== {route}\n{}", String::from_utf8_lossy(bytes));
    }
    out += &format!("=== manifest.json\n{}", compiled.manifest.to_json());
    out
}

#[test]
fn the_secure_boot_chain_renders_as_pinned() {
    let got = rendered();
    let path = dir().join("golden.txt");
    netboot_test_support::golden::check_file(&path, &got);
}
