//! The lab `netboot test` and `netboot try` boot in, and the project's own VM tests share: a
//! private network (a network namespace of this process's own, a bridge and one tap per VM,
//! nothing on the host's interfaces), QEMU command lines for each firmware, each VM's serial
//! console captured to a file, and a PNG of its screen through QMP's `screendump`.
//!
//! Nothing here knows about fleets or manifests: the commands in `netboot-ops` put a server on
//! the bridge and judge what the VMs did.

pub mod firmware;
pub mod kvm_probe;
pub mod preflight;
pub mod private_net;
pub mod qemu;
pub mod qmp;
pub mod vm;

pub use firmware::{Accel, Firmware};
