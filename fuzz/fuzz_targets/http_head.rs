#![no_main]
//! See `harness/http.rs` for what is checked besides "never panics".

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use netboot_fuzz::http::Harness;

static HARNESS: OnceLock<Harness> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    HARNESS.get_or_init(Harness::new).head(data);
});
