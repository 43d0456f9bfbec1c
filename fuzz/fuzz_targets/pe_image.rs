#![no_main]
//! See `harness/pe_image.rs` for what is checked besides "never panics".

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    netboot_fuzz::pe_image::run(data);
});
