//! The install lifecycle at run time: per machine, the last generation it reported installed,
//! kept under `--state-dir` (or in PostgreSQL, [`InstallStore::Postgres`]) as an overlay on the
//! frozen manifest. It answers one question,
//! which of a host's two scripts `hosts/<mac>.ipxe` serves ([`decide::script_for`]), and
//! takes one kind of write, a done report ([`decide::done`]).
//!
//! Safety rule: when the state cannot be read, every lifecycle host gets its `then` script,
//! never the installer. Wiping a disk by accident is the worst failure netboot can have; a
//! machine that should have reinstalled and did not is only late.

mod backend;
pub mod decide;
mod pg_store;
pub mod state_file;
mod store;

pub use backend::{InstallStore, InstallStoreError};
pub use decide::{done, next, script_for, Done, Next};
pub use pg_store::PgStore;
pub use state_file::{InstallRecord, InstallState, StateFileError};
pub use store::FileStore;

/// The state file's name inside `--state-dir`.
pub const STATE_FILE: &str = "install-state.json";
