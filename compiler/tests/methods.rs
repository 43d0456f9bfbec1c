//! Every boot method in every shape the compiler renders (tests/methods/fleet.kdl), pinned
//! byte for byte: the examples do not use every shape (an `only` guard on a kernel, one
//! binary alone, wimboot's `bootmgr`, sanboot by URL). Regenerate after an intended change
//! with `SNAPSHOTS=overwrite cargo test -p netboot-compiler --test methods`, then review the diff.

use std::path::PathBuf;

use netboot_compiler::{compile, ServerOverrides};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/methods")
}

/// Every generated file, then the manifest, in one reviewable text.
fn rendered() -> String {
    let compiled = compile(&dir().join("fleet.kdl"), &ServerOverrides::default())
        .unwrap_or_else(|f| panic!("{f}"));
    netboot_test_support::golden::compiled_text(&compiled.generated, &compiled.manifest.to_json())
}

#[test]
fn every_method_renders_as_pinned() {
    let got = rendered();
    let path = dir().join("golden.txt");
    netboot_test_support::golden::check_file(&path, &got);
}
