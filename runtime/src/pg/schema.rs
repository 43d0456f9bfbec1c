//! netboot's tables, created if missing when a server (or `netboot state`/`reinstall`)
//! connects, and the version row that says which netboot made them.
//!
//! The constraints carry the rules every runtime relies on: an address is leased once
//! (`netboot_lease`'s primary key), a machine has one install record (`netboot_install`'s).

use postgres::Client;

use super::JobError;

/// The schema this netboot reads and writes. A database holding another one is refused
/// rather than guessed at.
pub const VERSION: i32 = 1;

const TABLES: &str = "
CREATE TABLE IF NOT EXISTS netboot_schema (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version integer NOT NULL
);
CREATE TABLE IF NOT EXISTS netboot_install (
    mac macaddr PRIMARY KEY,
    host text NOT NULL,
    generation bigint NOT NULL CHECK (generation BETWEEN 0 AND 4294967295),
    reported_at bigint NOT NULL CHECK (reported_at >= 0),
    address inet NOT NULL
);
CREATE TABLE IF NOT EXISTS netboot_lease (
    address inet PRIMARY KEY CHECK (family(address) = 4 AND masklen(address) = 32),
    mac macaddr NOT NULL,
    state text NOT NULL CHECK (state IN ('offered', 'bound', 'declined')),
    expires bigint NOT NULL CHECK (expires >= 0)
);
CREATE TABLE IF NOT EXISTS netboot_lease_lock (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton)
);
INSERT INTO netboot_lease_lock VALUES (true) ON CONFLICT (singleton) DO NOTHING;
";

/// Any number, the same for every netboot ("netboot" in ASCII): two servers starting at once
/// must not race `CREATE TABLE IF NOT EXISTS` (PostgreSQL can fail one on its catalog's keys).
const CREATE_LOCK: i64 = 0x006e_6574_626f_6f74;

pub(super) fn ensure(client: &mut Client) -> Result<(), JobError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CREATE_LOCK])?;
    tx.batch_execute(TABLES)?;
    // A first start writes this netboot's version; a later one finds what the first wrote.
    tx.execute(
        "INSERT INTO netboot_schema (version) VALUES ($1) ON CONFLICT (singleton) DO NOTHING",
        &[&VERSION],
    )?;
    let found: i32 = tx
        .query_one("SELECT version FROM netboot_schema", &[])?
        .try_get(0)?;
    if found != VERSION {
        return Err(JobError::Schema {
            found,
            known: VERSION,
        });
    }
    tx.commit()?;
    Ok(())
}
