//! The proxy-DHCP test kit: a manifest to answer from, requests as firmware sends them, and
//! replies decoded for field-by-field assertions.

mod manifest;
mod packets;

pub use manifest::*;
pub use packets::*;
