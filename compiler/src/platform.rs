//! The firmware families the fleet boots.

/// The firmware family a binary runs on; iPXE's `${platform}` tells them apart at boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Bios,
    Efi,
}

impl Platform {
    pub fn keyword(self) -> &'static str {
        match self {
            Platform::Bios => "bios",
            Platform::Efi => "efi",
        }
    }

    /// The value of iPXE's `${platform}` on this firmware.
    pub fn ipxe_name(self) -> &'static str {
        match self {
            Platform::Bios => "pcbios",
            Platform::Efi => "efi",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Platform::Bios => "BIOS",
            Platform::Efi => "UEFI",
        }
    }
}
