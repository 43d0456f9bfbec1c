//! The live status page and metrics: what each machine did on its way to a kernel.
//!
//! The protocol loops report each step they log ([`Event`]: a DHCP answer, a finished or
//! failed transfer, a refusal, a reload) to an [`Events`] recorder. The HTTP server answers
//! the reserved paths from it ([`Page`]): `/` (HTML, reloads itself), `/metrics` (Prometheus
//! text) and `/status.json`; a manifest route of the same name wins over them.
//!
//! Machines are known by MAC. DHCP answers carry it; TFTP and HTTP see only an IP, which is
//! mapped to a MAC by the host script the client asks for (`hosts/52-54-….ipxe`), by an
//! earlier DHCP request from that IP, or by the kernel's ARP table ([`Neighbors`]); else the
//! page shows the IP alone until one of those names it.
//!
//! Everything here is pure but the ARP lookup: the timeline ([`timeline`]), the counters and
//! their text form ([`metrics`]), the HTML ([`page`], an askama template that escapes every
//! value it prints) and the JSON ([`json`], typed structs) are functions of recorded events and
//! the serving snapshot. Nothing here knows the HTTP server: it reports exchanges as events and
//! asks for a [`Page`].

pub mod escape;
pub mod event;
pub mod json;
pub mod metrics;
pub mod neighbors;
pub mod page;
pub mod pages;
pub mod recorder;
pub mod serving;
pub mod timeline;
pub mod units;

pub use event::Event;
pub use neighbors::{Neighbors, NoNeighbors, ProcArp};
pub use pages::Page;
pub use recorder::{Events, Limits, Machine, View};
pub use serving::{Install, InstallState, Serving};
pub use timeline::{Attempt, Stage};
