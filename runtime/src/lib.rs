//! The netboot runtime: serves a frozen [`Manifest`](netboot_manifest::Manifest) over
//! proxy-DHCP, TFTP and HTTP, and swaps in a new one atomically on reload.

// The data paths are Linux system calls; a fallback elsewhere would be code no test runs.
#[cfg(not(target_os = "linux"))]
compile_error!("netboot-runtime is Linux-only: it serves with sendfile, sendmmsg, UDP GSO, IP_PKTINFO and SO_BINDTODEVICE");

pub mod address;
mod atomic_file;
pub mod body;
pub mod dhcp;
pub mod http;
pub mod in_flight;
pub mod install;
mod log_millis;
pub mod pg;
mod receive_buffer;
pub mod server;
pub mod snapshot;
mod socket_option;
pub mod status;
pub mod tftp;

pub use body::Body;
pub use snapshot::{Snapshot, SnapshotError};
