//! Every boot method in every shape the compiler renders (tests/methods/fleet.kdl), pinned
//! byte for byte: the examples do not use every shape (an `only` guard on a kernel, one
//! binary alone, wimboot's `bootmgr`, sanboot by URL). Regenerate after an intended change
//! with `UPDATE_GOLDEN=1 cargo test -p netboot-compiler --test methods`, then review the diff.

use std::path::PathBuf;

use netboot_compiler::{compile, ServerOverrides};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/methods")
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
fn every_method_renders_as_pinned() {
    let got = rendered();
    let path = dir().join("golden.txt");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    assert_eq!(got, want, "output differs from {}", path.display());
}
