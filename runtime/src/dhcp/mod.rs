//! Proxy-DHCP: answers PXE and HTTP-boot clients on UDP 67 and 4011, never offers an address.
//! Full-DHCP mode ([`full`]) is the exception for isolated labs: there netboot is the only
//! DHCP server and hands out addresses from a range, with leases kept on disk.
//!
//! The protocol lives in pure functions over bytes ([`answer`], [`decide_full`]); both describe
//! their reply to one encoder, which also picks where it goes (`outgoing`, `destination`), and
//! [`DhcpServer`] is only the socket loop around them, with one path that sends either. The
//! client's side is here too, for the tools that play a client (`explain`, `doctor`): the packets
//! boot clients send ([`discover`]) and a reader for any server's reply ([`Offer`]), on the same
//! header and options reader as requests.
//!
//! A proxy coexists with the LAN's own DHCP server: it stays silent
//! for every client that is not a PXE, HTTP-boot or iPXE client, and its replies carry boot
//! information only (yiaddr is always 0.0.0.0).

mod answer;
mod classify;
mod client_packets;
mod destination;
mod full;
mod full_setup;
mod header;
mod lease;
mod lease_ranges;
mod lease_store;
pub mod leases_file;
mod offer;
mod options;
mod outgoing;
mod port_claim;
mod reply_frame;
mod request;
mod server;

pub use answer::{answer, Decision, Ignored, Reply, ServerIdentity};
pub use classify::{classify, Client, NotOurs, VendorClass};
pub use client_packets::{discover, request_4011};
pub use destination::destination;
pub use full::{decide_full, FullConfig, FullDecision, FullReply, Silence};
pub use full_setup::{netmask_of, FullDhcp, FullSettings, FullSetupError};
pub use lease::{Exhausted, Lease, LeaseState, LeaseTable, Pool, PoolError, Refusal};
pub use lease_ranges::{LeaseRanges, RangeId};
pub use lease_store::{LeaseStore, PgLeases};
pub use leases_file::LeasesFileError;
pub use offer::Offer;
pub use options::{OptionError, Options};
pub use port_claim::{Holder, PortTaken};
pub use reply_frame::dhcp_reply;
pub use request::{MalformedRequest, MessageType, Request};
pub use server::{DhcpConfig, DhcpServer};

/// The port a request arrived on; the same message means different things on each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// The DHCP server port: PXE clients broadcast their DISCOVER here.
    Dhcp67,
    /// The PXE boot server port: UEFI firmware and iPXE send their REQUEST here.
    Pxe4011,
}

impl Port {
    /// The standard port number, for logs.
    pub fn number(self) -> u16 {
        match self {
            Port::Dhcp67 => 67,
            Port::Pxe4011 => 4011,
        }
    }
}
