//! The VM boot tests' side of the lab: real firmware (SeaBIOS with iPXE, OVMF) boots under
//! QEMU against `netboot serve` or against a dnsmasq + python reference setup, and must reach
//! a kernel and initrd of ours. The namespaces themselves are [`crate::lab`].
//!
//! Run them as root with `bash .ci/run`, or one file at a time:
//! `cargo test --test boot_netboot -- --include-ignored --test-threads=2`.
//! `NETBOOT_TEST_ASSETS=DIR` moves the kernel/initrd cache from /var/cache/netboot-test.

pub mod assets;
pub mod control;
pub mod fleet;
pub mod impair;
pub mod qemu;
pub mod restart;

pub use crate::lab::Lab;
pub use assets::{Assets, Installer};
pub use qemu::{Booted, Firmware};
