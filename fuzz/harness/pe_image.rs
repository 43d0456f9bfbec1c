//! `pe_image::inspect` on arbitrary bytes: the input's first 8 bytes are the file's length
//! (little-endian), the rest its head. Besides never panicking: a verdict of "signed" needs a
//! DOS and a PE header in the head and a certificate table that fits the file, and the verdict
//! does not change when the head is cut after `HEAD_LEN` bytes.

use netboot_compiler::pe_image::{inspect, PeImage, HEAD_LEN};

pub fn run(data: &[u8]) {
    let (len, head) = data.split_at(data.len().min(8));
    let mut bytes = [0u8; 8];
    bytes[..len.len()].copy_from_slice(len);
    let file_len = u64::from_le_bytes(bytes);
    let verdict = inspect(head, file_len);
    if let PeImage::Signed { len } = verdict {
        assert!(head.starts_with(b"MZ"), "signed without a DOS header");
        assert!(
            len > 0 && u64::from(len) <= file_len,
            "table of {len} in {file_len} bytes"
        );
    }
    let cut = &head[..head.len().min(HEAD_LEN)];
    assert_eq!(
        inspect(cut, file_len),
        verdict,
        "the verdict depends on bytes past HEAD_LEN"
    );
}
