//! The install state in PostgreSQL: a row per MAC in `netboot_install`, shared by every
//! runtime on the database. Every look reads the table (a few rows), so a report taken by one
//! server is what the next request to any server sees; a write is one statement, its rule
//! ("only a later generation replaces a record") in its `WHERE`.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use netboot_manifest::MacAddr;
use postgres::Row;

use super::state_file::{InstallRecord, InstallState};
use crate::pg::{Db, JobError, PgError, StateUrl};

/// Cheap to clone; every clone shares one connection.
#[derive(Clone, Debug)]
pub struct PgStore {
    db: Db,
    /// The last read's failure, so it is logged once rather than on every request.
    failing: Arc<Mutex<Option<String>>>,
}

const COLUMNS: &str = "mac::text, host, generation, reported_at, host(address)";

impl PgStore {
    /// Connects and creates the tables if missing; a database that is down fails here.
    pub fn open(url: &StateUrl) -> Result<PgStore, PgError> {
        Ok(PgStore {
            db: Db::open(url)?,
            failing: Arc::default(),
        })
    }

    pub fn url(&self) -> &StateUrl {
        self.db.url()
    }

    /// Every machine's record, as the database holds it now.
    pub fn load(&self) -> Result<InstallState, PgError> {
        self.db.run(|client| {
            let rows = client.query(&format!("SELECT {COLUMNS} FROM netboot_install"), &[])?;
            rows.iter().map(record).collect()
        })
    }

    /// Like [`PgStore::load`], the failure logged once (until a read works again) and
    /// given as text, as the file store does.
    pub fn current(&self) -> Result<InstallState, String> {
        let loaded = self.load().map_err(|e| e.to_string());
        let mut failing = self.failing.lock().unwrap_or_else(|p| p.into_inner());
        match &loaded {
            Err(why) if failing.as_ref() != Some(why) => {
                tracing::error!(
                    target: "netboot::install",
                    state = %self.db.url(), error = %why,
                    "install state unreadable: every machine with an install lifecycle boots its `then` profile"
                );
                *failing = Some(why.clone());
            }
            Err(_) => {}
            Ok(_) => *failing = None,
        }
        loaded
    }

    /// Records `record` for `mac` unless the database holds this generation or a later one;
    /// one statement, so two servers taking the same report write it once.
    pub fn record(&self, mac: MacAddr, record: InstallRecord) -> Result<bool, PgError> {
        self.db.run(move |client| {
            let written = client.execute(
                "INSERT INTO netboot_install (mac, host, generation, reported_at, address)
                 VALUES ($1::text::macaddr, $2, $3, $4, $5::text::inet)
                 ON CONFLICT (mac) DO UPDATE SET host = EXCLUDED.host,
                     generation = EXCLUDED.generation, reported_at = EXCLUDED.reported_at,
                     address = EXCLUDED.address
                 WHERE netboot_install.generation < EXCLUDED.generation",
                &[
                    &mac.to_string(),
                    &record.host,
                    &i64::from(record.generation),
                    &i64::try_from(record.at).unwrap_or(i64::MAX),
                    &record.address.to_string(),
                ],
            )?;
            Ok(written == 1)
        })
    }

    /// Forgets what `mac` reported; returns the record removed.
    pub fn forget(&self, mac: MacAddr) -> Result<Option<InstallRecord>, PgError> {
        self.db.run(move |client| {
            let row = client.query_opt(
                &format!(
                    "DELETE FROM netboot_install WHERE mac = $1::text::macaddr RETURNING {COLUMNS}"
                ),
                &[&mac.to_string()],
            )?;
            Ok(row.as_ref().map(record).transpose()?.map(|(_, r)| r))
        })
    }
}

fn record(row: &Row) -> Result<(MacAddr, InstallRecord), JobError> {
    let mac: String = row.try_get(0)?;
    let mac: MacAddr = mac
        .parse()
        .map_err(|e| JobError::Damaged(format!("netboot_install mac {mac:?}: {e}")))?;
    let generation: i64 = row.try_get(2)?;
    let at: i64 = row.try_get(3)?;
    let address: String = row.try_get(4)?;
    let damaged = |what: &str| JobError::Damaged(format!("netboot_install {mac}: {what}"));
    Ok((
        mac,
        InstallRecord {
            host: row.try_get(1)?,
            generation: u32::try_from(generation).map_err(|_| damaged("generation"))?,
            at: u64::try_from(at).map_err(|_| damaged("reported_at"))?,
            address: address.parse::<IpAddr>().map_err(|_| damaged("address"))?,
        },
    ))
}
