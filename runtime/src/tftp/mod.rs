//! Read-only TFTP (RFC 1350) with option negotiation (RFC 2347), blksize (RFC 2348), timeout
//! and tsize (RFC 2349) and windowsize (RFC 7440), serving exactly the manifest's TFTP routes.
//!
//! The protocol is sans-IO: [`packet`] is the wire format, [`request`] decides what a datagram
//! at the listening port asks for, [`options`] settles the negotiation, and [`transfer`] is one
//! transfer's state machine over datagrams and time, and [`refusals`] budgets the ERROR replies
//! a spoofed flood could otherwise reflect. [`server`] is the thin tokio loop around them:
//! `active` keeps the table of transfers in flight (a repeated request is told from a new one),
//! `recv_dst` learns the address each request was sent to on a wildcard bind so replies come
//! from it, `send_window` hands each window to the kernel at once (UDP GSO, else
//! `sendmmsg`), and `busy_poll` lets a lone transfer with a fast client poll for its ACKs
//! rather than sleep between them.
//!
//! Memory is bounded per transfer (one window buffer, at most `max_window_bytes`, reused for
//! every window and retransmission), in total (`max_transfers`) and per client address
//! (`max_transfers_per_client`); time is bounded by the retransmission limit and by the
//! server's own give-up time whatever timeout a client negotiates, and only real progress
//! resets them.
//!
//! Why not a crate: `tftp_server` (on mio 0.6) serves a directory and has no options;
//! `async-tftp` takes a custom reader but runs on its own executor and has no windowsize;
//! `tftpd` is a directory daemon. Serving bytes from a snapshot's [`Body`](crate::Body), on the
//! runtime's tokio, with windowsize and bounded memory, needs its own few hundred lines.
//!
//! Names: a requested file name has its leading slashes removed (PXE ROMs send
//! `/undionly.kpxe` or `undionly.kpxe`) and is then looked up verbatim among the manifest's
//! routes; it is never used as a filesystem path. Only octet mode is served: netascii would
//! change the bytes and the size announced by tsize, and no boot loader asks for it.

mod active;
mod backoff;
mod busy_poll;
pub mod options;
pub mod packet;
mod recv_dst;
pub mod refusals;
pub mod request;
mod send_window;
pub mod server;
pub mod transfer;

pub use server::{TftpConfig, TftpServer};
