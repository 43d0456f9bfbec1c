//! Support for the VM boot tests: a throwaway network lab in Linux network namespaces where
//! real firmware (SeaBIOS with iPXE, OVMF) boots under QEMU against `netboot serve` or against
//! a dnsmasq + python reference setup, and must reach a kernel and initrd of ours.
//!
//! ```text
//!  router ns: dnsmasq (plain DHCP, no PXE)  ─ eth0 10.77.N.1 ─┐
//!  server ns: netboot serve / control       ─ eth0 10.77.N.2 ─┤  lan ns: bridge br0
//!  QEMU (started in the lan ns) ─ tap0, tap1, …               ─┘
//! ```
//!
//! Everything a lab creates is owned by a value whose `Drop` removes it, so a failing test
//! leaves no namespace or process behind; leftovers of a killed run are removed by the next.
//! Nothing is routed out of the namespaces: the lab has no link to the host's network.
//!
//! Run them as root with `bash .ci/run`, or one file at a time:
//! `cargo test --test boot_netboot -- --include-ignored --test-threads=2`.
//! `NETBOOT_TEST_LOGS=1` (with `--nocapture`) prints every log of a passing lab too;
//! `NETBOOT_TEST_KEEP=1` keeps its work dir (daemon logs, serial consoles, `lan.pcap`);
//! `NETBOOT_TEST_ASSETS=DIR` moves the kernel/initrd cache from /var/cache/netboot-test.

// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code, unused_imports)]

pub mod assets;
pub mod control;
pub mod fleet;
pub mod impair;
pub mod lab;
pub mod netns;
pub mod process;
pub mod qemu;
pub mod restart;

pub use assets::Assets;
pub use lab::Lab;
pub use qemu::{Booted, Firmware};
