//! Running `netboot` as a user without privileges, for tests of what a permission denies:
//! root reads and writes anything, so as root (CI) the command runs as `nobody` (65534) through
//! util-linux's `setpriv`; as anyone else it runs as that user. The files it must reach have to
//! be readable by everyone then (a temporary directory is 0700 until the test opens it up).

use std::process::Command;

/// `netboot`, to be run without root's powers.
pub fn netboot() -> Command {
    if running_as_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
        c.arg(crate::netboot_bin());
        c
    } else {
        Command::new(crate::netboot_bin())
    }
}

/// Whether this process runs as root (the owner of its own `/proc/self`).
pub fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}
