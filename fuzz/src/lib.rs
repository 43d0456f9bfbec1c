//! The harnesses behind the fuzz targets. Each lives in `harness/` as a self-contained module
//! so the crates' own tests (`runtime/tests/fuzz_corpus.rs`, `compiler/tests/fuzz_corpus.rs`)
//! include the very same file and replay the checked-in corpus in plain `cargo test`.

#[path = "../harness/compile.rs"]
pub mod compile;
#[path = "../harness/dhcp.rs"]
pub mod dhcp;
#[path = "../harness/http.rs"]
pub mod http;
#[path = "../harness/pe_image.rs"]
pub mod pe_image;
#[path = "../harness/tftp.rs"]
pub mod tftp;
