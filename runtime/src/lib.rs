//! The netboot runtime: serves a frozen [`Manifest`](netboot_manifest::Manifest) over
//! proxy-DHCP, TFTP and HTTP, and swaps in a new one atomically on reload.

pub mod address;
pub mod body;
pub mod dhcp;
pub mod http;
pub mod in_flight;
pub mod server;
pub mod snapshot;
pub mod status;
pub mod tftp;

pub use body::Body;
pub use snapshot::{Snapshot, SnapshotError};
