//! What a VM test waits for: the initrd's marker on the serial console. The VMs themselves
//! are the lab crate's (`netboot_lab::vm`), started as `netboot test` starts its machines.

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

/// The marker's command line if the serial output holds a complete marker line.
pub fn find_marker(serial: &str) -> Option<String> {
    let start = serial.find(super::assets::MARKER)?;
    let rest = &serial[start + super::assets::MARKER.len()..];
    let end = rest.find('\n')?;
    Some(rest[..end].trim_end_matches('\r').trim().to_string())
}
