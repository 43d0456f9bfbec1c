#![no_main]
//! See `harness/dhcp.rs` for what is checked besides "never panics".

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use netboot_fuzz::dhcp::Harness;

static HARNESS: OnceLock<Harness> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    HARNESS.get_or_init(Harness::new).run(data);
});
