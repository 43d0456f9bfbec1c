//! Replays a fuzz target's checked-in corpus (`fuzz/corpus/<target>/`) and any crash inputs
//! kept under `fuzz/artifacts/<target>/` through its harness, for the crates' own tests
//! (`runtime/tests/fuzz_corpus.rs`, `compiler/tests/fuzz_corpus.rs`): plain `cargo test` checks
//! every input the fuzzers ever found interesting, without a fuzzer.

use std::path::{Path, PathBuf};

/// Every input of `target`, sorted; the corpus itself must not be empty.
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut found = Vec::new();
    for dir in ["corpus", "artifacts"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
            assert_ne!(dir, "corpus", "no corpus for {target}");
            continue;
        };
        for entry in entries {
            let path = entry.expect("readable corpus dir").path();
            if path.is_file() {
                let bytes = std::fs::read(&path).expect("readable corpus file");
                found.push((path, bytes));
            }
        }
    }
    found.sort();
    assert!(!found.is_empty(), "no corpus for {target}");
    found
}

/// Runs `check` on each input of `target`, naming the input that panics; returns how many ran.
pub fn replay(target: &str, check: impl Fn(&[u8])) -> usize {
    let inputs = inputs(target);
    let count = inputs.len();
    for (path, bytes) in inputs {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&bytes)));
        if let Err(e) = outcome {
            let why = e
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| e.downcast_ref::<&str>().copied())
                .unwrap_or("panic");
            panic!("{}: {why}", path.display());
        }
    }
    count
}
