//! Where full-DHCP leases live: the lease file under `--state-dir` (one server), or
//! PostgreSQL shared by several servers on one segment (`--state postgres://…`).
//!
//! Either way a packet is decided by the same pure [`LeaseTable`] rules, one table per range
//! ([`LeaseRanges`]: the server's own segment, then each relayed subnet); the store only says
//! which tables the decision sees and keeps what it changed. In PostgreSQL every range is
//! read, decided on and written back in one transaction that holds the lease lock row, so two
//! servers never decide on the same addresses at once, and the primary key on the address
//! refuses a second lease of one address whatever happens.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use netboot_manifest::MacAddr;
use postgres::Transaction;

use super::lease::{Lease, LeaseState, LeaseTable, Pool};
use super::lease_ranges::LeaseRanges;
use super::leases_file;
use crate::pg::{Db, JobError, PgError, StateUrl};

/// Log target of the lease events, as the DHCP server's.
const LOG: &str = "netboot::dhcp";

/// The leases of one server's ranges.
#[derive(Debug, Clone)]
pub enum LeaseStore {
    /// In memory, saved to `path` after every change worth keeping.
    File {
        table: LeaseRanges,
        path: PathBuf,
        /// The table version last written to disk.
        saved: u64,
    },
    Postgres(PgLeases),
}

impl LeaseStore {
    /// The leases read back from `path`, in `table` already.
    pub fn file(table: LeaseRanges, path: PathBuf) -> LeaseStore {
        let saved = table.version();
        LeaseStore::File { table, path, saved }
    }

    /// The server's own segment's range.
    pub fn pool(&self) -> &Pool {
        match self {
            LeaseStore::File { table, .. } => table.own().pool(),
            LeaseStore::Postgres(pg) => &pg.own,
        }
    }

    /// The file's path or the database's URL (password redacted), for log lines.
    pub fn describe(&self) -> String {
        match self {
            LeaseStore::File { path, .. } => path.display().to_string(),
            LeaseStore::Postgres(pg) => pg.db.url().to_string(),
        }
    }

    /// Runs `decide` on the leases as they stand now (seconds since 1970) and keeps what it
    /// changed. The file store always answers (a file that cannot be written is logged: the
    /// lease holds until a restart); the database store answers only what it committed.
    pub fn decide<T: Send + 'static>(
        &mut self,
        decide: impl FnOnce(&mut LeaseRanges, u64) -> T + Send + 'static,
    ) -> Result<T, PgError> {
        match self {
            LeaseStore::File { table, path, saved } => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let decision = decide(table, now);
                save(table, path, saved);
                Ok(decision)
            }
            LeaseStore::Postgres(pg) => pg.decide(decide),
        }
    }
}

/// Decided and saved under one lock, so the file never lags a lease already answered.
fn save(table: &LeaseRanges, path: &Path, saved: &mut u64) {
    let version = table.version();
    if version != *saved {
        match leases_file::save(path, &table.persistent()) {
            Ok(()) => *saved = version,
            Err(e) => {
                tracing::error!(target: LOG, error = %e, "leases not saved; a restart would forget them")
            }
        }
    }
}

/// Full-DHCP leases in the `netboot_lease` table, shared with every server on the database.
#[derive(Debug, Clone)]
pub struct PgLeases {
    db: Db,
    /// The server's own segment's range.
    own: Pool,
    /// The relayed subnets' ranges, in the fleet's order.
    relayed: Vec<Pool>,
    lease_secs: u32,
}

impl PgLeases {
    /// Connects and creates the tables if missing; a database that is down fails here.
    /// `relayed`: the relayed subnets' ranges, in the fleet's order.
    pub fn open(
        url: &StateUrl,
        own: Pool,
        relayed: Vec<Pool>,
        lease_secs: u32,
    ) -> Result<PgLeases, PgError> {
        Ok(PgLeases {
            db: Db::open(url)?,
            own,
            relayed,
            lease_secs,
        })
    }

    /// Every range, the own one first.
    fn pools(&self) -> Vec<Pool> {
        std::iter::once(&self.own)
            .chain(&self.relayed)
            .cloned()
            .collect()
    }

    /// The records in this server's ranges now (every state), for the start-up log.
    pub fn count(&self) -> Result<usize, PgError> {
        let pools = self.pools();
        self.db.run(move |client| {
            let mut tx = client.transaction()?;
            let mut n = 0;
            for pool in &pools {
                n += load(&mut tx, pool)?.len();
            }
            Ok(n)
        })
    }

    /// One transaction: take the lease lock, read the range, decide, write back the rows
    /// the decision changed, commit. The time is the database's, so servers whose clocks
    /// disagree still agree on when a lease ends.
    fn decide<T: Send + 'static>(
        &self,
        decide: impl FnOnce(&mut LeaseRanges, u64) -> T + Send + 'static,
    ) -> Result<T, PgError> {
        let (own, relayed, lease_secs) = (self.own.clone(), self.relayed.clone(), self.lease_secs);
        self.db.run(move |client| {
            let mut tx = client.transaction()?;
            // Every server's decisions queue here, in the database, until the holder commits.
            if tx.execute("SELECT 1 FROM netboot_lease_lock FOR UPDATE", &[])? != 1 {
                return Err(JobError::Damaged(
                    "netboot_lease_lock has no row (it is created with the tables)".into(),
                ));
            }
            let now: i64 = tx
                .query_one("SELECT extract(epoch FROM clock_timestamp())::bigint", &[])?
                .try_get(0)?;
            let now = u64::try_from(now)
                .map_err(|_| JobError::Damaged(format!("the database's clock reads {now}")))?;
            // Every range is read under the one lock: a decision only changes its own range,
            // but reading them all keeps one rule for every server, whatever its ranges.
            let mut table = |pool: &Pool| -> Result<LeaseTable, JobError> {
                let mut table = LeaseTable::new(pool.clone(), lease_secs);
                table.restore_shared(load(&mut tx, pool)?);
                Ok(table)
            };
            let own = table(&own)?;
            let relayed = relayed.iter().map(&mut table).collect::<Result<_, _>>()?;
            let mut ranges = LeaseRanges::new(own, relayed);
            let before: BTreeMap<Ipv4Addr, Lease> =
                ranges.records().into_iter().map(|l| (l.ip, l)).collect();
            let decision = decide(&mut ranges, now);
            let after: BTreeMap<Ipv4Addr, Lease> =
                ranges.records().into_iter().map(|l| (l.ip, l)).collect();
            for ip in before.keys().filter(|ip| !after.contains_key(ip)) {
                tx.execute(
                    "DELETE FROM netboot_lease WHERE address = $1::text::inet",
                    &[&ip.to_string()],
                )?;
            }
            for (ip, lease) in &after {
                let sql = match before.get(ip) {
                    Some(old) if old == lease => continue,
                    Some(_) => {
                        "UPDATE netboot_lease SET mac = $2::text::macaddr, state = $3, expires = $4
                         WHERE address = $1::text::inet"
                    }
                    // A plain INSERT: an address someone else holds is an error, never two rows.
                    None => {
                        "INSERT INTO netboot_lease (address, mac, state, expires)
                         VALUES ($1::text::inet, $2::text::macaddr, $3, $4)"
                    }
                };
                let expires = i64::try_from(lease.expires).unwrap_or(i64::MAX);
                tx.execute(
                    sql,
                    &[
                        &ip.to_string(),
                        &lease.mac.to_string(),
                        &state_name(lease.state),
                        &expires,
                    ],
                )?;
            }
            tx.commit()?;
            Ok(decision)
        })
    }
}

fn state_name(state: LeaseState) -> &'static str {
    match state {
        LeaseState::Offered => "offered",
        LeaseState::Bound => "bound",
        LeaseState::Declined => "declined",
    }
}

/// The records whose address is in `pool`'s range, parsed; a row netboot would not have
/// written is an error, not a guess.
fn load(tx: &mut Transaction<'_>, pool: &Pool) -> Result<Vec<Lease>, JobError> {
    let rows = tx.query(
        "SELECT host(address), mac::text, state, expires FROM netboot_lease
         WHERE address BETWEEN $1::text::inet AND $2::text::inet ORDER BY address",
        &[&pool.first().to_string(), &pool.last().to_string()],
    )?;
    rows.iter()
        .map(|row| {
            let ip: String = row.try_get(0)?;
            let mac: String = row.try_get(1)?;
            let state: String = row.try_get(2)?;
            let expires: i64 = row.try_get(3)?;
            let damaged = |what: &str| JobError::Damaged(format!("netboot_lease {ip}: {what}"));
            Ok(Lease {
                ip: ip.parse().map_err(|_| damaged("address"))?,
                mac: mac.parse::<MacAddr>().map_err(|_| damaged("mac"))?,
                state: match state.as_str() {
                    "offered" => LeaseState::Offered,
                    "bound" => LeaseState::Bound,
                    "declined" => LeaseState::Declined,
                    _ => return Err(damaged("state")),
                },
                expires: u64::try_from(expires).map_err(|_| damaged("expires"))?,
            })
        })
        .collect()
}
