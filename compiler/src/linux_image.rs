//! Whether a file is a Linux kernel a boot loader can start, and for which architecture,
//! from its first bytes: the x86 boot protocol's `HdrS` at 0x202 (bzImage), the arm64 Image
//! header's magic `ARM\x64` at 0x38, or a PE image (the EFI stub, and arm64's EFI zboot,
//! which is only a PE image). A kernel with an EFI stub has both, and the boot header wins:
//! it names the architecture without asking the PE header. Pure over its input.

use crate::pe_image::{self, Machine};

/// How many leading bytes [`inspect`] needs at most (the PE headers).
pub const HEAD_LEN: usize = pe_image::HEAD_LEN;

/// A CPU architecture the fleet's client kinds run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Arch {
    /// BIOS and UEFI x64 machines (a bzImage boots on both).
    X86,
    Arm64,
}

impl Arch {
    pub fn describe(self) -> &'static str {
        match self {
            Arch::X86 => "x86",
            Arch::Arm64 => "arm64",
        }
    }
}

/// What a kernel file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinuxImage {
    /// A kernel for this architecture.
    Kernel(Arch),
    /// A PE image for a machine no client kind here is (32-bit x86 UEFI, RISC-V, …): an EFI
    /// stub kernel, but not one these machines can run.
    ForeignPe(Machine),
    /// gzip: the way Debian (and others) compress an arm64 `Image`, which arm64 iPXE and
    /// GRUB unpack; on x86 it is an initrd named by mistake.
    Gzip,
    /// Not a kernel at all.
    NotKernel,
}

/// Inspects `head`, the first bytes of a file (up to [`HEAD_LEN`]).
pub fn inspect(head: &[u8]) -> LinuxImage {
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    if at(0x202, b"HdrS") {
        return LinuxImage::Kernel(Arch::X86);
    }
    if at(0x38, b"ARM\x64") {
        return LinuxImage::Kernel(Arch::Arm64);
    }
    if at(0, b"\x1f\x8b") {
        return LinuxImage::Gzip;
    }
    match pe_image::machine(head) {
        // A 32-bit x86 EFI stub has the bzImage header too, so it never gets here.
        Ok(Machine::X64) => LinuxImage::Kernel(Arch::X86),
        Ok(Machine::Arm64) => LinuxImage::Kernel(Arch::Arm64),
        Ok(other) => LinuxImage::ForeignPe(other),
        Err(_) => LinuxImage::NotKernel,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/pe")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn real_kernels() {
        // Debian 12's amd64 kernel: a bzImage with an EFI stub.
        assert_eq!(
            inspect(&real("vmlinuz-6.1.0-57-amd64.head")),
            LinuxImage::Kernel(Arch::X86)
        );
        // The first KiB of Debian 12's arm64 installer kernel: an `Image` with an EFI stub.
        assert_eq!(
            inspect(&real("linux-arm64.head")),
            LinuxImage::Kernel(Arch::Arm64)
        );
    }

    #[test]
    fn what_is_not_a_kernel() {
        assert_eq!(inspect(&real("initrd.img.head")), LinuxImage::Gzip);
        assert_eq!(inspect(b"stand-in for a kernel\n"), LinuxImage::NotKernel);
        assert_eq!(inspect(b""), LinuxImage::NotKernel);
        // iPXE is a PE image for x86-64: as a `kernel`, iPXE boots it like an EFI stub.
        assert_eq!(
            inspect(&real("ipxe.efi.head")),
            LinuxImage::Kernel(Arch::X86)
        );
    }

    #[test]
    fn headers_built_by_hand() {
        let mut bz = vec![0u8; 0x300];
        bz[0x202..0x206].copy_from_slice(b"HdrS");
        assert_eq!(inspect(&bz), LinuxImage::Kernel(Arch::X86));
        let mut image = vec![0u8; 0x40];
        image[0x38..0x3c].copy_from_slice(b"ARM\x64");
        assert_eq!(inspect(&image), LinuxImage::Kernel(Arch::Arm64));
        // Cut before the magic: not enough to say.
        assert_eq!(inspect(&bz[..0x204]), LinuxImage::NotKernel);
    }
}
