//! QEMU command lines for each firmware: one place that knows how SeaBIOS, OVMF's PXE and
//! HTTP Boot clients and Secure Boot are started, for `netboot test`, `netboot try` and the
//! project's own VM tests.

use std::io;
use std::path::{Path, PathBuf};

use crate::firmware::{Accel, Firmware};

/// The QEMU binary every VM runs.
pub const QEMU: &str = "qemu-system-x86_64";

pub const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
pub const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";
/// The Secure Boot build (SMM-protected variables) and a variable store with Microsoft's keys.
pub const OVMF_CODE_SECURE: &str = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd";
pub const OVMF_VARS_SECURE: &str = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd";
/// The iPXE option ROM SeaBIOS runs for the virtio NIC (package `ipxe-qemu`).
pub const IPXE_VIRTIO_ROM: &str = "/usr/lib/ipxe/qemu/pxe-virtio.rom";

/// Where the guest's serial console goes.
#[derive(Clone, Copy, Debug)]
pub enum Serial<'a> {
    /// Appended to a file, read while the VM runs.
    File(&'a Path),
    /// The terminal QEMU runs on, multiplexed with its monitor (Ctrl-A X quits).
    Stdio,
}

/// One VM's command line.
#[derive(Clone, Debug)]
pub struct Spec<'a> {
    pub firmware: Firmware,
    /// The tap device (already on the bridge) the NIC is plugged into.
    pub tap: &'a str,
    /// The NIC's MAC address, as `52:54:00:12:34:56`.
    pub mac: &'a str,
    pub serial: Serial<'a>,
    /// Files the VM needs of its own (the OVMF variable store) are made as `<scratch>-NAME`.
    pub scratch: &'a Path,
    pub accel: Accel,
    /// A QMP socket to listen on (for `screendump` and a clean quit); `None`: no monitor.
    pub qmp: Option<&'a Path>,
    /// A VGA card, so the screen can be dumped; without it the guest has no display at all.
    pub screen: bool,
    /// Whether the guest may reboot; `false` makes a reboot end QEMU (`-no-reboot`).
    pub reboot: bool,
    /// Guest RAM in MiB.
    pub memory_mib: u32,
}

/// RAM for the project's own VM tests: their kernel and busybox initrd need little.
pub const SMALL_MEMORY_MIB: u32 = 512;
/// RAM for the machines `netboot test` and `netboot try` boot, which may run a real
/// installer: Debian's stops at a "Low memory mode" question with 512 MiB. QEMU allocates it
/// only as the guest touches it.
pub const MACHINE_MEMORY_MIB: u32 = 1024;

impl<'a> Spec<'a> {
    /// A headless VM as the project's VM tests start them: TCG, no monitor, no VGA, a reboot
    /// ends it.
    pub fn headless(
        firmware: Firmware,
        tap: &'a str,
        mac: &'a str,
        serial: &'a Path,
        scratch: &'a Path,
    ) -> Spec<'a> {
        Spec {
            firmware,
            tap,
            mac,
            serial: Serial::File(serial),
            scratch,
            accel: Accel::Tcg,
            qmp: None,
            screen: false,
            reboot: false,
            memory_mib: SMALL_MEMORY_MIB,
        }
    }
}

/// The QEMU arguments for `spec` (run them in the network namespace that holds the tap).
pub fn args(spec: &Spec) -> io::Result<Vec<String>> {
    let scratch_file = |name: &str| {
        let mut path = spec.scratch.as_os_str().to_owned();
        path.push(format!("-{name}"));
        PathBuf::from(path)
    };
    let mut a: Vec<String> = vec!["-accel".into(), spec.accel.name().into()];
    a.extend(["-m".into(), spec.memory_mib.to_string()]);
    a.extend(["-smp", "1", "-display", "none"].map(String::from));
    a.push("-vga".into());
    a.push(if spec.screen { "std" } else { "none" }.into());
    a.extend(["-monitor", "none"].map(String::from));
    if !spec.reboot {
        a.push("-no-reboot".into());
    }
    a.push("-nodefaults".into());
    if let Some(qmp) = spec.qmp {
        a.push("-qmp".into());
        a.push(format!("unix:{},server=on,wait=off", qmp.display()));
    }
    a.push("-serial".into());
    a.push(match spec.serial {
        Serial::File(path) => format!("file:{}", path.display()),
        Serial::Stdio => "mon:stdio".into(),
    });
    a.push("-netdev".into());
    a.push(format!(
        "tap,id=n0,ifname={},script=no,downscript=no",
        spec.tap
    ));
    // SeaBIOS leaves the NIC out of the boot order without bootindex (`-boot n` is not enough).
    let mut nic = format!("virtio-net-pci,netdev=n0,mac={},bootindex=1", spec.mac);
    if spec.firmware == Firmware::Bios {
        // SeaBIOS's serial console: BIOS and iPXE messages reach the serial log, so a failed
        // boot shows where it stopped. The value is the port, 0x3f8, little-endian.
        let sercon = scratch_file("sercon-port");
        std::fs::write(&sercon, 0x3f8u16.to_le_bytes())?;
        a.push("-fw_cfg".into());
        a.push(format!("name=etc/sercon-port,file={}", sercon.display()));
        if spec.reboot {
            // With nothing to boot SeaBIOS waits 60 s before it tries again; a second makes a
            // failed boot show up as a new DHCP request while someone still watches.
            a.extend(["-boot", "reboot-timeout=1000"].map(String::from));
        }
    } else {
        let (code, vars_template) = if spec.firmware == Firmware::UefiSecureBoot {
            // Enforced only with SMM on and the flash marked secure, as the firmware expects.
            a.extend(["-machine", "q35,smm=on", "-global"].map(String::from));
            a.push("driver=cfi.pflash01,property=secure,value=on".into());
            (OVMF_CODE_SECURE, OVMF_VARS_SECURE)
        } else {
            (OVMF_CODE, OVMF_VARS)
        };
        let vars = scratch_file("OVMF_VARS.fd");
        std::fs::copy(vars_template, &vars).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("copy {vars_template} to {}: {e}", vars.display()),
            )
        })?;
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
        if spec.firmware == Firmware::UefiHttp {
            a.push("-fw_cfg".into());
            a.push("name=opt/org.tianocore/IPv4PXESupport,string=n".into());
        }
    }
    a.push("-device".into());
    a.push(nic);
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_headless_bios_vm_boots_the_nic_first_and_never_reboots() {
        let dir = std::env::temp_dir().join(format!("netboot-lab-qemu-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let serial = dir.join("serial.log");
        let scratch = dir.join("vm0");
        let spec = Spec::headless(
            Firmware::Bios,
            "tap0",
            "52:54:00:00:00:01",
            &serial,
            &scratch,
        );
        let a = args(&spec).unwrap();
        let line = a.join(" ");
        assert!(line.starts_with("-accel tcg -m 512 -smp 1 -display none -vga none -monitor none -no-reboot -nodefaults -serial file:"));
        assert!(
            line.ends_with("-device virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01,bootindex=1")
        );
        assert_eq!(
            std::fs::read(dir.join("vm0-sercon-port")).unwrap(),
            [0xf8, 0x03]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_test_vm_has_a_screen_a_qmp_socket_and_reboots_after_a_second() {
        let dir = std::env::temp_dir().join(format!("netboot-lab-qemu2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let serial = dir.join("serial.log");
        let qmp = dir.join("qmp.sock");
        let scratch = dir.join("vm0");
        let spec = Spec {
            qmp: Some(&qmp),
            screen: true,
            reboot: true,
            accel: Accel::Kvm,
            ..Spec::headless(
                Firmware::Bios,
                "tap0",
                "52:54:00:00:00:01",
                &serial,
                &scratch,
            )
        };
        let line = args(&spec).unwrap().join(" ");
        assert!(line.contains("-accel kvm"));
        assert!(line.contains("-vga std"));
        assert!(!line.contains("-no-reboot"));
        assert!(line.contains(&format!("-qmp unix:{},server=on,wait=off", qmp.display())));
        assert!(line.contains("-boot reboot-timeout=1000"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
