//! Golden files under `tests/golden/`: what the tests expect, checked in and reviewed like code.
//!
//! One environment variable refreshes every golden, whichever helper compares it:
//! `SNAPSHOTS=overwrite cargo test` (snapbox's own variable, so the CLI command cases and the
//! helpers here agree); then review the diff. Comparisons are byte for byte: snapbox's
//! wildcards (`...`, `[..]`) are off, only line endings are normalised.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use snapbox::data::DataFormat;
use snapbox::{Assert, Data};

/// The variable that refreshes goldens, and the value that does it.
pub const REFRESH: (&str, &str) = ("SNAPSHOTS", "overwrite");

/// Where the golden files are.
pub fn dir() -> PathBuf {
    crate::workspace().join("tests/golden")
}

/// Whether this run rewrites goldens instead of comparing with them.
pub fn refreshing() -> bool {
    // The variable this replaced would otherwise be silently ignored.
    assert!(
        std::env::var_os("UPDATE_GOLDEN").is_none(),
        "UPDATE_GOLDEN is gone: {}={} refreshes every golden",
        REFRESH.0,
        REFRESH.1
    );
    std::env::var(REFRESH.0).as_deref() == Ok(REFRESH.1)
}

/// The snapbox assertion every golden comparison uses: exact, refreshed by [`REFRESH`].
pub fn assert() -> Assert {
    // Called for the UPDATE_GOLDEN check; snapbox reads the variable itself.
    refreshing();
    Assert::new().action_env(REFRESH.0).normalize_paths(false)
}

/// The golden file `tests/golden/<name>` as expected data: text, compared without wildcards.
pub fn file(name: &str) -> Data {
    expected(&dir().join(name))
}

fn expected(path: &Path) -> Data {
    Data::read_from(path, Some(DataFormat::Text)).raw()
}

/// Checks `actual` against `tests/golden/<name>` (or rewrites it when refreshing).
#[track_caller]
pub fn check_text(name: &str, actual: &str) {
    check_file(&dir().join(name), actual);
}

/// Checks `actual` against the golden file at `path`, for goldens kept beside a crate's own
/// tests (or rewrites it when refreshing).
#[track_caller]
pub fn check_file(path: &Path, actual: &str) {
    assert().eq(actual.to_string(), expected(path));
}

/// Compares a directory's files (as [`crate::dir_tree::read_tree`] reads them) with the
/// golden directory `tests/golden/<name>/`, returning what differs; when refreshing, replaces
/// the golden directory with `got` and returns nothing.
pub fn compare_tree(name: &str, got: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let golden = dir().join(name);
    if refreshing() {
        let _ = std::fs::remove_dir_all(&golden);
        for (rel, bytes) in got {
            let path = golden.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        return Vec::new();
    }
    let want = crate::dir_tree::read_tree(&golden);
    let names_got: Vec<&String> = got.keys().collect();
    let names_want: Vec<&String> = want.keys().collect();
    if names_got != names_want {
        return vec![format!(
            "{name}: files differ\n  got:  {names_got:?}\n  want: {names_want:?}"
        )];
    }
    got.iter()
        .filter(|(rel, bytes)| want.get(*rel) != Some(*bytes))
        .map(|(rel, bytes)| {
            format!(
                "{name}/{rel} differs from tests/golden:\n--- got ---\n{}",
                String::from_utf8_lossy(bytes)
            )
        })
        .collect()
}

/// A compile's output as one reviewable golden text: every generated file under a `=== ROUTE`
/// line, in route order, then the manifest.
pub fn compiled_text(generated: &BTreeMap<String, Vec<u8>>, manifest_json: &str) -> String {
    let mut out = String::new();
    for (route, bytes) in generated {
        out += &format!("=== {route}\n{}", String::from_utf8_lossy(bytes));
    }
    out += &format!("=== manifest.json\n{manifest_json}");
    out
}
