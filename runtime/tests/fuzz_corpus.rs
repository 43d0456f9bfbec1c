//! Replays the fuzz corpus (`fuzz/corpus/<target>/`) and any crash inputs kept under
//! `fuzz/artifacts/<target>/` through the very harnesses the fuzz targets run, so plain
//! `cargo test` checks every input the fuzzers ever found interesting, without a fuzzer.

#[path = "../../fuzz/harness/dhcp.rs"]
mod dhcp;
#[path = "../../fuzz/harness/http.rs"]
mod http;
#[path = "../../fuzz/harness/tftp.rs"]
mod tftp;

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

/// Runs `check` on each input, naming the input that panics.
fn replay(target: &str, check: impl Fn(&[u8])) {
    for (path, bytes) in inputs(target) {
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
}

#[test]
fn dhcp_answer_corpus() {
    let h = dhcp::Harness::new();
    replay("dhcp_answer", |b| h.run(b));
}

#[test]
fn tftp_transfer_corpus() {
    let h = tftp::Harness::new();
    replay("tftp_transfer", |b| h.run(b));
}

#[test]
fn http_head_corpus() {
    let h = http::Harness::new();
    replay("http_head", |b| h.head(b));
}

#[test]
fn http_route_corpus() {
    let h = http::Harness::new();
    replay("http_route", |b| h.route(b));
}
