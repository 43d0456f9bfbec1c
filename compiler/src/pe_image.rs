//! Whether a file is a PE image, and whether it carries an Authenticode signature at all.
//!
//! Under Secure Boot, shim and GRUB refuse a kernel or EFI binary that is not signed ("bad
//! shim signature", at boot time, on the machine). The build cannot verify the certificate
//! chain against the machine's keys, but it can catch the common mistake early: a PE image
//! whose certificate table (data directory 4, "security") is empty was never signed. Only the
//! headers are read: DOS header `MZ` → `e_lfanew` → `PE\0\0` → optional header magic
//! (PE32 0x10b, PE32+ 0x20b) → the security entry. Pure over its input, so it is fuzzed.

/// How many leading bytes of a file [`inspect`] needs at most: real images put their headers
/// in the first few hundred bytes, and `e_lfanew` beyond this is treated as not a PE image.
pub const HEAD_LEN: usize = 4096;

/// What the headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeImage {
    /// Not a PE image (an initrd, a script, a BIOS binary, a truncated file).
    NotPe(NotPe),
    /// A PE image with no certificate table, or one that cannot be in the file.
    Unsigned,
    /// A PE image with a certificate table of `len` bytes inside the file. Whether the
    /// signature is valid, and trusted by the machine, is not checked here.
    Signed { len: u32 },
}

/// Why a file is not a PE image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotPe {
    #[error("it does not start with the DOS header `MZ`")]
    NoDosHeader,
    #[error("its DOS header points past the start of the file to a PE header that is not there")]
    NoPeHeader,
    #[error("its optional header has magic {0:#x}, neither PE32 (0x10b) nor PE32+ (0x20b)")]
    BadMagic(u16),
}

const DATA_DIRECTORY_SECURITY: u32 = 4;

/// Inspects `head`, the first bytes of a file (up to [`HEAD_LEN`]), whose full length is
/// `file_len`.
pub fn inspect(head: &[u8], file_len: u64) -> PeImage {
    match parse(head, file_len) {
        Ok(image) => image,
        Err(not) => PeImage::NotPe(not),
    }
}

/// The COFF header's machine type of the PE image in `head` (the first bytes of a file):
/// which CPU the image runs on.
pub fn machine(head: &[u8]) -> Result<Machine, NotPe> {
    let pe = pe_header(head)?;
    let raw = u16_at(head, pe + 4).ok_or(NotPe::NoPeHeader)?;
    Ok(Machine::from_raw(raw))
}

/// A PE image's machine type, as far as netboot's client kinds tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    /// IMAGE_FILE_MACHINE_AMD64: UEFI x64 machines.
    X64,
    /// IMAGE_FILE_MACHINE_I386: 32-bit UEFI, which no client kind here is.
    Ia32,
    /// IMAGE_FILE_MACHINE_ARM64: UEFI arm64 machines.
    Arm64,
    Other(u16),
}

impl Machine {
    fn from_raw(raw: u16) -> Machine {
        match raw {
            0x8664 => Machine::X64,
            0x14c => Machine::Ia32,
            0xaa64 => Machine::Arm64,
            other => Machine::Other(other),
        }
    }

    /// How messages name it.
    pub fn describe(self) -> String {
        match self {
            Machine::X64 => "x86-64".into(),
            Machine::Ia32 => "32-bit x86".into(),
            Machine::Arm64 => "arm64".into(),
            Machine::Other(raw) => format!("machine type {raw:#x}"),
        }
    }
}

/// Where the `PE\0\0` signature is, after checking the DOS header that points at it.
fn pe_header(head: &[u8]) -> Result<usize, NotPe> {
    if head.get(..2) != Some(b"MZ") {
        return Err(NotPe::NoDosHeader);
    }
    let pe = u32_at(head, 0x3c).ok_or(NotPe::NoPeHeader)? as usize;
    if head.get(pe..pe.saturating_add(4)) != Some(b"PE\0\0".as_slice()) {
        return Err(NotPe::NoPeHeader);
    }
    Ok(pe)
}

fn parse(head: &[u8], file_len: u64) -> Result<PeImage, NotPe> {
    let pe = pe_header(head)?;
    // COFF file header: 20 bytes after the signature, then the optional header.
    let optional = pe + 4 + 20;
    let magic = u16_at(head, optional).ok_or(NotPe::NoPeHeader)?;
    // Where NumberOfRvaAndSizes sits; the data directories follow it, 8 bytes each.
    let count_at = match magic {
        0x10b => optional + 92,
        0x20b => optional + 108,
        other => return Err(NotPe::BadMagic(other)),
    };
    let count = u32_at(head, count_at).ok_or(NotPe::NoPeHeader)?;
    if count <= DATA_DIRECTORY_SECURITY {
        return Ok(PeImage::Unsigned);
    }
    let entry = count_at + 4 + 8 * DATA_DIRECTORY_SECURITY as usize;
    let (Some(offset), Some(len)) = (u32_at(head, entry), u32_at(head, entry + 4)) else {
        return Err(NotPe::NoPeHeader);
    };
    // The security entry holds a file offset (not an RVA); a table that would end past the
    // file is as good as none, since the loader cannot read it.
    let inside = u64::from(offset) + u64::from(len) <= file_len;
    if offset == 0 || len == 0 || !inside {
        return Ok(PeImage::Unsigned);
    }
    Ok(PeImage::Signed { len })
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let bytes = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([bytes[0], bytes[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let bytes = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first KiB of real files (tests/pe/), with each file's real length.
    fn real(name: &str, len: u64) -> PeImage {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/pe")
            .join(name);
        let head = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        inspect(&head, len)
    }

    #[test]
    fn real_signed_images_are_signed() {
        // Debian's shim (Microsoft-signed) and the Debian 12 kernel (Debian-signed).
        assert_eq!(
            real("shimx64.efi.signed.head", 1_048_504),
            PeImage::Signed { len: 19368 }
        );
        assert_eq!(
            real("vmlinuz-6.1.0-57-amd64.head", 8_247_232),
            PeImage::Signed { len: 1472 }
        );
    }

    #[test]
    fn real_unsigned_images_are_unsigned() {
        // Debian's iPXE (security entry all zero), and the kernel above with it zeroed.
        assert_eq!(real("ipxe.efi.head", 850_528), PeImage::Unsigned);
        assert_eq!(real("vmlinuz.unsigned.head", 8_245_760), PeImage::Unsigned);
    }

    #[test]
    fn an_initrd_is_not_a_pe_image() {
        assert_eq!(
            real("initrd.img.head", 1_028_285),
            PeImage::NotPe(NotPe::NoDosHeader)
        );
    }

    #[test]
    fn a_certificate_table_past_the_end_of_the_file_is_no_signature() {
        // The signed kernel's table starts at 8245760 and is 1472 bytes: one byte short.
        assert_eq!(
            real("vmlinuz-6.1.0-57-amd64.head", 8_247_231),
            PeImage::Unsigned
        );
    }

    /// A minimal PE32 header with `count` data directories and the security entry given.
    fn pe32(count: u32, security: (u32, u32)) -> Vec<u8> {
        let mut b = vec![0u8; 512];
        b[..2].copy_from_slice(b"MZ");
        b[0x3c..0x40].copy_from_slice(&0x40u32.to_le_bytes());
        b[0x40..0x44].copy_from_slice(b"PE\0\0");
        let optional = 0x40 + 24;
        b[optional..optional + 2].copy_from_slice(&0x10bu16.to_le_bytes());
        b[optional + 92..optional + 96].copy_from_slice(&count.to_le_bytes());
        let entry = optional + 96 + 32;
        b[entry..entry + 4].copy_from_slice(&security.0.to_le_bytes());
        b[entry + 4..entry + 8].copy_from_slice(&security.1.to_le_bytes());
        b
    }

    #[test]
    fn machine_types_of_real_images() {
        let head = |name: &str| {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/pe")
                .join(name);
            std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        };
        assert_eq!(machine(&head("ipxe.efi.head")), Ok(Machine::X64));
        assert_eq!(
            machine(&head("vmlinuz-6.1.0-57-amd64.head")),
            Ok(Machine::X64)
        );
        assert_eq!(machine(&head("initrd.img.head")), Err(NotPe::NoDosHeader));
        let mut arm = pe32(16, (0, 0));
        arm[0x44..0x46].copy_from_slice(&0xaa64u16.to_le_bytes());
        assert_eq!(machine(&arm), Ok(Machine::Arm64));
        arm[0x44..0x46].copy_from_slice(&0x5064u16.to_le_bytes());
        assert_eq!(
            machine(&arm).map(Machine::describe),
            Ok("machine type 0x5064".into())
        );
    }

    #[test]
    fn pe32_headers_are_read_too() {
        assert_eq!(
            inspect(&pe32(16, (256, 64)), 512),
            PeImage::Signed { len: 64 }
        );
        assert_eq!(inspect(&pe32(16, (0, 0)), 512), PeImage::Unsigned);
        // Too few directories to have a security entry at all.
        assert_eq!(inspect(&pe32(4, (256, 64)), 512), PeImage::Unsigned);
    }

    #[test]
    fn broken_headers_are_not_pe_images() {
        assert_eq!(inspect(b"", 0), PeImage::NotPe(NotPe::NoDosHeader));
        assert_eq!(inspect(b"MZ", 2), PeImage::NotPe(NotPe::NoPeHeader));
        let mut far = pe32(16, (256, 64));
        far[0x3c..0x40].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(inspect(&far, 512), PeImage::NotPe(NotPe::NoPeHeader));
        let mut magic = pe32(16, (256, 64));
        magic[0x40 + 24] = 0x07;
        assert_eq!(inspect(&magic, 512), PeImage::NotPe(NotPe::BadMagic(0x107)));
        // Cut inside the data directories.
        assert_eq!(
            inspect(&pe32(16, (256, 64))[..0x40 + 24 + 100], 512),
            PeImage::NotPe(NotPe::NoPeHeader)
        );
    }
}
