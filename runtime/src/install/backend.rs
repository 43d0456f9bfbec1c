//! Where the install state lives: the file under `--state-dir` (the default), or PostgreSQL
//! shared by several servers (`--state postgres://…`). The lifecycle's decisions
//! ([`super::decide`]) are the same for both; only the reads and writes differ.

use std::path::PathBuf;

use netboot_manifest::MacAddr;

use super::pg_store::PgStore;
use super::state_file::{self, InstallRecord, InstallState, StateFileError};
use super::store::FileStore;
use crate::pg::{PgError, StateUrl};

/// Cheap to clone; every clone sees the same state.
#[derive(Clone, Debug)]
pub enum InstallStore {
    File(FileStore),
    Postgres(PgStore),
}

/// Why the install state could not be read or written; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum InstallStoreError {
    #[error(transparent)]
    File(#[from] StateFileError),
    #[error(transparent)]
    Postgres(#[from] PgError),
}

impl InstallStore {
    /// The state file at `path`; nothing is read until a lifecycle host asks.
    pub fn file(path: PathBuf) -> InstallStore {
        InstallStore::File(FileStore::new(path))
    }

    /// The state database at `url`, connected now (a database that is down fails here).
    pub fn postgres(url: &StateUrl) -> Result<InstallStore, PgError> {
        Ok(InstallStore::Postgres(PgStore::open(url)?))
    }

    /// Where it lives, for people: the file's path or the URL (password redacted).
    pub fn describe(&self) -> String {
        match self {
            InstallStore::File(f) => f.path().display().to_string(),
            InstallStore::Postgres(p) => p.url().to_string(),
        }
    }

    /// The state now. A failure is `Err` with the reason (logged once per change): the
    /// caller gives every lifecycle machine its `then` profile.
    pub fn current(&self) -> Result<InstallState, String> {
        match self {
            InstallStore::File(f) => f.current(),
            InstallStore::Postgres(p) => p.current(),
        }
    }

    /// The state as stored, read afresh and not logged (for `netboot state`).
    pub fn load(&self) -> Result<InstallState, InstallStoreError> {
        Ok(match self {
            InstallStore::File(f) => state_file::load(f.path())?,
            InstallStore::Postgres(p) => p.load()?,
        })
    }

    /// Records `record` for `mac` unless this generation or a later one is recorded
    /// already. Returns whether anything was written.
    pub fn record(&self, mac: MacAddr, record: InstallRecord) -> Result<bool, InstallStoreError> {
        Ok(match self {
            InstallStore::File(f) => f.record(mac, record)?,
            InstallStore::Postgres(p) => p.record(mac, record)?,
        })
    }

    /// Forgets what `mac` reported, so it installs again. Returns the record removed.
    pub fn forget(&self, mac: MacAddr) -> Result<Option<InstallRecord>, InstallStoreError> {
        Ok(match self {
            InstallStore::File(f) => f.forget(mac)?,
            InstallStore::Postgres(p) => p.forget(mac)?,
        })
    }
}
