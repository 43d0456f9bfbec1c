//! Which firmware and network boot client a VM runs, and how it is emulated.

use std::fmt;
use std::time::Duration;

/// Which firmware and network boot client a VM uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Firmware {
    /// SeaBIOS running the NIC's iPXE option ROM: the first DHCP client is already iPXE.
    Bios,
    /// OVMF's own PXE client (NIC ROM disabled), which loads `ipxe.efi` over TFTP.
    UefiPxe,
    /// OVMF's own HTTP Boot client: PXE switched off through fw_cfg, so no TFTP at all.
    UefiHttp,
    /// OVMF's own PXE client with Secure Boot enforced (Microsoft's keys enrolled): it loads
    /// only signed binaries, so unsigned `ipxe.efi` is refused with `Access Denied`.
    UefiSecureBoot,
}

impl Firmware {
    /// Every firmware, in the order reports list them.
    pub const ALL: [Firmware; 4] = [
        Firmware::Bios,
        Firmware::UefiPxe,
        Firmware::UefiHttp,
        Firmware::UefiSecureBoot,
    ];

    /// How long a boot to the kernel's first words may take under TCG on a busy 2-core machine.
    pub fn timeout(self) -> Duration {
        match self {
            Firmware::Bios => Duration::from_secs(180),
            Firmware::UefiPxe | Firmware::UefiHttp => Duration::from_secs(300),
            // shim fetches the 3.8 MB GRUB in 512-byte blocks, GRUB the kernel in 1 KiB ones.
            Firmware::UefiSecureBoot => Duration::from_secs(420),
        }
    }

    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Firmware::Bios => "bios",
            Firmware::UefiPxe => "uefi",
            Firmware::UefiHttp => "uefi-http",
            Firmware::UefiSecureBoot => "uefi-secure-boot",
        }
    }

    /// The firmware called `name` ([`Firmware::name`]).
    pub fn parse(name: &str) -> Option<Firmware> {
        Firmware::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Whether the firmware is OVMF (UEFI), so it needs the OVMF flash images.
    pub fn is_uefi(self) -> bool {
        self != Firmware::Bios
    }
}

impl fmt::Display for Firmware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How QEMU runs the guest's code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    /// Hardware virtualisation through /dev/kvm.
    Kvm,
    /// Emulation: slower, but works everywhere (and where KVM is present but broken).
    Tcg,
}

impl Accel {
    /// KVM when it really runs a guest at hardware speed ([`crate::kvm_probe`]), else TCG.
    pub fn detect() -> Accel {
        match crate::kvm_probe::unusable_reason() {
            None => Accel::Kvm,
            Some(why) => {
                tracing::info!(target: "netboot::lab", reason = %why, "KVM not used: TCG");
                Accel::Tcg
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_firmware_parses_back_from_its_name() {
        for f in Firmware::ALL {
            assert_eq!(Firmware::parse(f.name()), Some(f));
        }
        assert_eq!(Firmware::parse("uefi-pxe"), None);
    }
}
