//! QEMU command lines for the firmware the tests boot, and the wait for the initrd's marker.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Which firmware and network boot client a VM uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    /// How long a boot to the marker may take under TCG on a busy 2-core machine.
    pub fn timeout(self) -> Duration {
        match self {
            Firmware::Bios => Duration::from_secs(180),
            Firmware::UefiPxe | Firmware::UefiHttp => Duration::from_secs(300),
            // shim fetches the 3.8 MB GRUB in 512-byte blocks, GRUB the kernel in 1 KiB ones.
            Firmware::UefiSecureBoot => Duration::from_secs(420),
        }
    }
}

/// A VM that reached the marker.
#[derive(Debug)]
pub struct Booted {
    /// The kernel command line the initrd printed.
    pub cmdline: String,
    /// Power-on to marker.
    pub elapsed: Duration,
    /// The whole serial console.
    pub serial: String,
}

impl Booted {
    /// The command line split into its words, for exact assertions on one parameter.
    pub fn cmdline_words(&self) -> Vec<&str> {
        self.cmdline.split_whitespace().collect()
    }
}

const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";
/// The Secure Boot build (SMM-protected variables) and a variable store with Microsoft's keys.
const OVMF_CODE_SECURE: &str = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd";
const OVMF_VARS_SECURE: &str = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd";

/// The QEMU arguments for one VM on tap `tap` (run it inside the lan namespace).
/// Files the VM needs of its own (the OVMF variable store) are made as `<scratch>-NAME`.
pub fn args(
    firmware: Firmware,
    tap: &str,
    mac: &str,
    serial: &Path,
    scratch: &Path,
) -> Vec<String> {
    let scratch_file = |name: &str| {
        let mut path = scratch.as_os_str().to_owned();
        path.push(format!("-{name}"));
        std::path::PathBuf::from(path)
    };
    let mut a: Vec<String> = [
        "-accel",
        "tcg",
        "-m",
        "512",
        "-smp",
        "1",
        "-display",
        "none",
        "-vga",
        "none",
        "-monitor",
        "none",
        "-no-reboot",
        "-nodefaults",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.push("-serial".into());
    a.push(format!("file:{}", serial.display()));
    a.push("-netdev".into());
    a.push(format!("tap,id=n0,ifname={tap},script=no,downscript=no"));
    // SeaBIOS leaves the NIC out of the boot order without bootindex (`-boot n` is not enough).
    let mut nic = format!("virtio-net-pci,netdev=n0,mac={mac},bootindex=1");
    if firmware == Firmware::Bios {
        // SeaBIOS's serial console: BIOS and iPXE messages reach the serial log, so a failed
        // boot shows where it stopped. The value is the port, 0x3f8, little-endian.
        let sercon = scratch_file("sercon-port");
        std::fs::write(&sercon, 0x3f8u16.to_le_bytes()).expect("write sercon-port");
        a.push("-fw_cfg".into());
        a.push(format!("name=etc/sercon-port,file={}", sercon.display()));
    } else {
        let (code, vars_template) = if firmware == Firmware::UefiSecureBoot {
            // Enforced only with SMM on and the flash marked secure, as the firmware expects.
            a.extend(["-machine", "q35,smm=on", "-global"].map(String::from));
            a.push("driver=cfi.pflash01,property=secure,value=on".into());
            (OVMF_CODE_SECURE, OVMF_VARS_SECURE)
        } else {
            (OVMF_CODE, OVMF_VARS)
        };
        let vars = scratch_file("OVMF_VARS.fd");
        std::fs::copy(vars_template, &vars)
            .unwrap_or_else(|e| panic!("copy {vars_template} to {}: {e}", vars.display()));
        a.push("-drive".into());
        a.push(format!(
            "if=pflash,format=raw,unit=0,readonly=on,file={code}"
        ));
        a.push("-drive".into());
        a.push(format!(
            "if=pflash,format=raw,unit=1,file={}",
            vars.display()
        ));
        // An empty romfile keeps iPXE's EFI ROM out, so OVMF's own network stack is the client.
        nic.push_str(",romfile=");
        // No DHCPv6 in the lab: skip OVMF's IPv6 PXE attempt and its long timeouts.
        a.push("-fw_cfg".into());
        a.push("name=opt/org.tianocore/IPv6PXESupport,string=n".into());
        if firmware == Firmware::UefiHttp {
            a.push("-fw_cfg".into());
            a.push("name=opt/org.tianocore/IPv4PXESupport,string=n".into());
        }
    }
    a.push("-device".into());
    a.push(nic);
    a
}

/// `qemu-system-x86_64` with `args`, inside `ns`.
pub fn command(ns: &crate::netns::Netns, args: &[String]) -> Command {
    let mut cmd = ns.command("qemu-system-x86_64");
    cmd.args(args);
    cmd
}

/// The marker's command line if the serial output holds a complete marker line.
pub fn find_marker(serial: &str) -> Option<String> {
    let start = serial.find(super::assets::MARKER)?;
    let rest = &serial[start + super::assets::MARKER.len()..];
    let end = rest.find('\n')?;
    Some(rest[..end].trim_end_matches('\r').trim().to_string())
}
