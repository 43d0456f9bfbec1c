//! Shared state in PostgreSQL (`netboot serve --state postgres://…`), so several runtimes
//! share one view of the install lifecycle and of full-DHCP leases.
//!
//! Concurrency is the database's: each write is one transaction, and the tables' constraints
//! (an address leased once, a row per MAC for the install state) hold whatever the runtimes
//! do. Nothing here locks in-process on behalf of other servers.
//!
//! The client is the synchronous `postgres` crate. Its calls block on a runtime of its own,
//! which must not run inside the server's tokio threads, so every query goes to one thread
//! per [`Db`] that owns the connection (see [`db`]). No TLS: the database is reached over a
//! unix socket or a trusted network.

mod db;
mod schema;
mod url;

pub use db::{Db, JobError};
pub use url::{redact, StateUrl};

/// Why the state database could not be used. Every message names the database by its URL,
/// password redacted.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("{0}")]
    Url(#[from] url::UrlError),
    #[error("cannot reach the state database {url}: {source}")]
    Connect {
        url: String,
        source: postgres::Error,
    },
    #[error("state database {url}: {source}")]
    Query {
        url: String,
        source: postgres::Error,
    },
    #[error("state database {url} did not answer within {secs} s")]
    Timeout { url: String, secs: u64 },
    #[error("state database {url} holds netboot schema version {found}; this netboot knows version {known}")]
    Schema { url: String, found: i32, known: i32 },
    #[error("state database {url} holds a row this netboot cannot read: {why}")]
    Damaged { url: String, why: String },
    #[error("state database {url}: its connection thread stopped")]
    Gone { url: String },
}
