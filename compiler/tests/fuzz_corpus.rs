//! Replays the compiler's fuzz corpus (`fuzz/corpus/compile/`) and any crash inputs kept under
//! `fuzz/artifacts/compile/` through the harness the `compile` fuzz target runs, so plain
//! `cargo test` checks them without a fuzzer.

#[path = "../../fuzz/harness/compile.rs"]
mod compile;

#[path = "../../fuzz/harness/replay.rs"]
mod replay;

#[test]
fn compile_corpus() {
    let h = compile::Harness::new();
    let count = replay::replay("compile", |b| h.run(b));
    assert!(count > 3, "no corpus for the compiler");
}

#[path = "../../fuzz/harness/pe_image.rs"]
mod pe_image;

#[test]
fn pe_image_corpus() {
    let count = replay::replay("pe_image", pe_image::run);
    assert!(count >= 5, "no corpus for the PE reader");
}
