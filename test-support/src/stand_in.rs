//! Small files shaped like the real boot files a fleet names, for tests: each carries the
//! header `netboot build` checks an artifact for (compiler/src/validate/artifact_contents.rs)
//! and, readable at its start, what it stands in for. Text stand-ins fail those checks.

/// An x86 Linux kernel: the boot protocol's `HdrS` at 0x202, as in a bzImage.
pub fn kernel(marker: &str) -> Vec<u8> {
    as_kernel(header_room(marker, 0x240))
}

/// `bytes` made an x86 Linux kernel in place (`HdrS` at 0x202; padded to reach it): for
/// tests whose kernel's contents matter (sizes, patterns), not only its header.
pub fn as_kernel(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.len() < 0x206 {
        bytes.resize(0x206, 0);
    }
    bytes[0x202..0x206].copy_from_slice(b"HdrS");
    bytes
}

/// An arm64 Linux kernel: the `Image` header's magic `ARM\x64` at 0x38.
pub fn arm64_kernel(marker: &str) -> Vec<u8> {
    let mut b = vec![0u8; 0x40];
    b[0x38..0x3c].copy_from_slice(b"ARM\x64");
    b.extend_from_slice(marker.as_bytes());
    b
}

/// An EFI executable for x86-64: the DOS header, `PE\0\0` and the COFF machine 0x8664.
pub fn efi_x64(marker: &str) -> Vec<u8> {
    pe(marker, 0x8664)
}

/// An EFI executable for arm64 (COFF machine 0xaa64).
pub fn efi_arm64(marker: &str) -> Vec<u8> {
    pe(marker, 0xaa64)
}

/// An ISO 9660 image whose El Torito catalog has a bootable image for BIOS and/or UEFI:
/// the volume descriptors at sectors 16 and 17 and the catalog at sector 18, nothing else.
pub fn iso(bios: bool, efi: bool) -> Vec<u8> {
    const SECTOR: usize = 2048;
    let mut b = vec![0u8; 19 * SECTOR];
    b[16 * SECTOR..16 * SECTOR + 7].copy_from_slice(b"\x01CD001\x01");
    let record = 17 * SECTOR;
    b[record..record + 7].copy_from_slice(b"\0CD001\x01");
    b[record + 7..record + 30].copy_from_slice(b"EL TORITO SPECIFICATION");
    b[record + 0x47..record + 0x4b].copy_from_slice(&18u32.to_le_bytes());
    let c = &mut b[18 * SECTOR..];
    // Validation entry (platform BIOS), its checksum making the 16 words sum to zero.
    c[0] = 1;
    c[30..32].copy_from_slice(&[0x55, 0xaa]);
    let sum = c[..32].chunks_exact(2).fold(0u16, |s, w| {
        s.wrapping_add(u16::from_le_bytes([w[0], w[1]]))
    });
    c[28..30].copy_from_slice(&0u16.wrapping_sub(sum).to_le_bytes());
    c[32] = if bios { 0x88 } else { 0 };
    // The last section: one EFI entry.
    c[64] = 0x91;
    c[65] = 0xef;
    c[66] = 1;
    c[96] = if efi { 0x88 } else { 0 };
    b
}

/// `len` zero bytes with `marker` at the start (where a boot sector's code would be).
fn header_room(marker: &str, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len.max(marker.len())];
    b[..marker.len()].copy_from_slice(marker.as_bytes());
    b
}

fn pe(marker: &str, machine: u16) -> Vec<u8> {
    let mut b = vec![0u8; 0x200];
    b[..2].copy_from_slice(b"MZ");
    b[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
    b[0x80..0x84].copy_from_slice(b"PE\0\0");
    b[0x84..0x86].copy_from_slice(&machine.to_le_bytes());
    // PE32+ optional header with no data directories.
    b[0x98..0x9a].copy_from_slice(&0x20bu16.to_le_bytes());
    b[0x100..0x100 + marker.len()].copy_from_slice(marker.as_bytes());
    b
}
