//! What a file is, from its first bytes, in words for a diagnostic: "this is a gzip file, not
//! a kernel". Only formats someone could name by mistake in a boot fleet are known (the
//! compressions and archives initrds come in, executables, disk images, text); the checks
//! that need a format parse it themselves (`linux_image`, `el_torito`, `pe_image`).

/// Describes the file whose first bytes are `head` (as many as the caller read; an ISO 9660
/// image is recognised only if `head` reaches its volume descriptors at 32 KiB).
pub fn describe(head: &[u8]) -> &'static str {
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    if head.is_empty() {
        "an empty file"
    } else if at(0, b"\x1f\x8b") {
        "a gzip file (an initrd?)"
    } else if at(0, b"\xfd7zXZ\0") {
        "an xz file (an initrd?)"
    } else if at(0, b"\x28\xb5\x2f\xfd") {
        "a zstd file (an initrd?)"
    } else if at(0, b"\x04\x22\x4d\x18") || at(0, b"\x02\x21\x4c\x18") {
        "an lz4 file (an initrd?)"
    } else if at(0, b"BZh") {
        "a bzip2 file"
    } else if at(0, b"070701") || at(0, b"070702") || at(0, b"070707") {
        "a cpio archive (an initrd)"
    } else if at(0, b"\x7fELF") {
        "an ELF executable (an uncompressed vmlinux?), not a boot image"
    } else if at(0, b"MSWIM\0\0\0") {
        "a Windows WIM image"
    } else if at(0x202, b"HdrS") {
        "a Linux x86 kernel (bzImage)"
    } else if at(0x38, b"ARM\x64") {
        "a Linux arm64 kernel Image"
    } else if at(0, b"MZ") {
        "a PE image (an EFI executable)"
    } else if at(0x8001, b"CD001") {
        "an ISO 9660 image"
    } else if at(510, b"\x55\xaa") {
        "a disk image with a boot sector"
    } else if is_text(head) {
        "text"
    } else {
        "a file of no format netboot recognises"
    }
}

/// Printable ASCII and whitespace only (UTF-8 letters count too): a stand-in, a script, HTML.
fn is_text(head: &[u8]) -> bool {
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        // A multi-byte character cut at the end of what was read is still text.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    text.chars()
        .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t' | '\x0c'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_people_name_by_mistake() {
        assert_eq!(describe(b""), "an empty file");
        assert_eq!(describe(b"stand-in for a kernel\n"), "text");
        assert_eq!(describe("grüße\n".as_bytes()), "text");
        assert_eq!(describe(&[0x1f, 0x8b, 8, 0]), "a gzip file (an initrd?)");
        assert_eq!(describe(b"070701000000"), "a cpio archive (an initrd)");
        assert_eq!(
            describe(b"\x7fELF\x02\x01"),
            "an ELF executable (an uncompressed vmlinux?), not a boot image"
        );
        assert_eq!(
            describe(&[0, 1, 2, 0xff]),
            "a file of no format netboot recognises"
        );
        let mut mbr = vec![0u8; 512];
        mbr[510..].copy_from_slice(b"\x55\xaa");
        assert_eq!(describe(&mbr), "a disk image with a boot sector");
    }

    #[test]
    fn a_real_initrd_is_recognised() {
        // The first KiB of a Debian initrd.img: gzip-compressed.
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pe/initrd.img.head");
        let head = std::fs::read(path).unwrap();
        assert_eq!(describe(&head), "a gzip file (an initrd?)");
    }
}
