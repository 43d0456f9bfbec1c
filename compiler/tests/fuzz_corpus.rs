//! Replays the compiler's fuzz corpus (`fuzz/corpus/compile/`) and any crash inputs kept under
//! `fuzz/artifacts/compile/` through the harness the `compile` fuzz target runs, so plain
//! `cargo test` checks them without a fuzzer.

#[path = "../../fuzz/harness/compile.rs"]
mod compile;

use std::path::Path;

#[test]
fn compile_corpus() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut found = Vec::new();
    for dir in ["corpus", "artifacts"] {
        if let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join("compile")) {
            for entry in entries {
                let path = entry.expect("readable corpus dir").path();
                if path.is_file() {
                    found.push(path);
                }
            }
        }
    }
    found.sort();
    assert!(found.len() > 3, "no corpus for the compiler");
    let h = compile::Harness::new();
    for path in found {
        let bytes = std::fs::read(&path).expect("readable corpus file");
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.run(&bytes)));
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
