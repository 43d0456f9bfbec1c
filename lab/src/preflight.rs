//! What a lab needs from the machine, checked before anything starts, so a missing piece is
//! named with the package that has it instead of surfacing as a VM that never boots.

use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::firmware::Firmware;
use crate::qemu;

/// One thing the lab cannot run without.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// What is missing, with where it was looked for.
    pub what: String,
    /// How to get it.
    pub fix: String,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.fix)
    }
}

/// The pieces `firmware` needs: QEMU, `ip`, the firmware images and iPXE's ROM, and (for a
/// non-root user, who reaches it through a user namespace) read-write access to /dev/net/tun.
pub fn check(firmware: &[Firmware], uid: u32) -> Vec<Missing> {
    let mut missing = Vec::new();
    let mut need = |ok: bool, what: String, fix: &str| {
        if !ok {
            missing.push(Missing {
                what,
                fix: fix.to_string(),
            });
        }
    };
    need(
        on_path(qemu::QEMU),
        format!("{} is not on PATH", qemu::QEMU),
        "install the package qemu-system-x86",
    );
    need(
        on_path("ip"),
        "ip is not on PATH".into(),
        "install the package iproute2",
    );
    if firmware.contains(&Firmware::Bios) {
        need(
            Path::new(qemu::IPXE_VIRTIO_ROM).is_file(),
            format!(
                "{} (SeaBIOS's network boot ROM) is missing",
                qemu::IPXE_VIRTIO_ROM
            ),
            "install the package ipxe-qemu",
        );
    }
    if firmware
        .iter()
        .any(|f| f.is_uefi() && *f != Firmware::UefiSecureBoot)
    {
        for file in [qemu::OVMF_CODE, qemu::OVMF_VARS] {
            need(
                Path::new(file).is_file(),
                format!("{file} (UEFI firmware) is missing"),
                "install the package ovmf",
            );
        }
    }
    if firmware.contains(&Firmware::UefiSecureBoot) {
        for file in [qemu::OVMF_CODE_SECURE, qemu::OVMF_VARS_SECURE] {
            need(
                Path::new(file).is_file(),
                format!("{file} (UEFI Secure Boot firmware) is missing"),
                "install the package ovmf",
            );
        }
    }
    if let Some(m) = tun_problem(Path::new("/dev/net/tun"), uid) {
        missing.push(m);
    }
    missing
}

/// Why `uid` cannot open the tun device at `path`, or `None`. Root opens it whatever its mode;
/// anyone else needs it readable and writable, as Debian ships it (mode 0666).
pub fn tun_problem(path: &Path, uid: u32) -> Option<Missing> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            return Some(Missing {
                what: format!("{} cannot be read: {e}", path.display()),
                fix: "load the tun module (modprobe tun)".into(),
            })
        }
    };
    let mut groups: Vec<u32> = nix::unistd::getgroups()
        .map(|g| g.into_iter().map(|g| g.as_raw()).collect())
        .unwrap_or_default();
    groups.push(nix::unistd::getegid().as_raw());
    let owner = Owner {
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
    };
    tun_access(path, owner, uid, &groups)
}

/// A file's permission bits and owner.
#[derive(Debug, Clone, Copy)]
pub struct Owner {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The mode bits' verdict on `uid` (in `groups`) opening the tun device read-write: checked
/// from the bits rather than with access(2), which a root caller always passes.
pub fn tun_access(path: &Path, owner: Owner, uid: u32, groups: &[u32]) -> Option<Missing> {
    if uid == 0 {
        return None;
    }
    let bits = if owner.uid == uid {
        owner.mode >> 6
    } else if groups.contains(&owner.gid) {
        owner.mode >> 3
    } else {
        owner.mode
    } & 0o7;
    if bits & 0o6 == 0o6 {
        return None;
    }
    Some(Missing {
        what: format!(
            "{} is not accessible to uid {uid} (mode {:04o}, owner uid {})",
            path.display(),
            owner.mode,
            owner.uid
        ),
        fix: format!(
            "the VMs' taps need it readable and writable: make it mode 0666 as Debian ships it \
             (`chmod 0666 {}` as root, or a udev rule), or run as root",
            path.display()
        ),
    })
}

fn on_path(program: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        std::fs::metadata(dir.join(program)).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TUN: &str = "/dev/net/tun";

    #[test]
    fn a_tun_device_only_root_may_open_is_named_with_its_mode_and_the_fix() {
        let root_only = Owner {
            mode: 0o600,
            uid: 0,
            gid: 0,
        };
        assert!(tun_access(Path::new(TUN), root_only, 0, &[0]).is_none());
        let m = tun_access(Path::new(TUN), root_only, 1000, &[1000]).expect("refused");
        assert_eq!(
            m.what,
            "/dev/net/tun is not accessible to uid 1000 (mode 0600, owner uid 0)"
        );
        assert!(m.fix.contains("chmod 0666 /dev/net/tun"), "{m}");
        assert!(m.fix.contains("or run as root"), "{m}");
    }

    #[test]
    fn debian_s_mode_or_a_group_of_the_user_lets_it_in() {
        let debian = Owner {
            mode: 0o666,
            uid: 0,
            gid: 0,
        };
        assert!(tun_access(Path::new(TUN), debian, 1000, &[1000]).is_none());
        let group = Owner {
            mode: 0o660,
            uid: 0,
            gid: 108,
        };
        assert!(tun_access(Path::new(TUN), group, 1000, &[1000, 108]).is_none());
        assert!(tun_access(Path::new(TUN), group, 1000, &[1000]).is_some());
    }

    #[test]
    fn a_missing_tun_device_says_to_load_the_module() {
        let gone = tun_problem(Path::new("/nonexistent/tun"), 1000).expect("named");
        assert!(gone.fix.contains("modprobe tun"), "{gone}");
    }
}
