//! QEMU command lines for the firmware the tests boot, and the wait for the initrd's marker.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Which firmware a VM runs: the lab crate's, which also makes the command lines.
pub use netboot_lab::Firmware;

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

/// The QEMU arguments for one VM on tap `tap` (run it inside the lan namespace): the lab
/// crate's headless command line (TCG, no monitor, no VGA, a reboot ends QEMU).
/// Files the VM needs of its own (the OVMF variable store) are made as `<scratch>-NAME`.
pub fn args(
    firmware: Firmware,
    tap: &str,
    mac: &str,
    serial: &Path,
    scratch: &Path,
) -> Vec<String> {
    let spec = netboot_lab::qemu::Spec::headless(firmware, tap, mac, serial, scratch);
    netboot_lab::qemu::args(&spec).unwrap_or_else(|e| panic!("prepare the VM's files: {e}"))
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
