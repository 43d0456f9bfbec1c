//! Full-DHCP leases on disk, so a restart neither forgets who holds which address nor hands
//! a held address to a second machine.
//!
//! The file is small JSON (`{"format": 1, "leases": [...]}`) replaced atomically: written
//! beside the target, flushed to disk, then renamed over it, so a crash or power cut leaves
//! either the old file or the new one, never half of one.

use std::fs;
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use netboot_manifest::MacAddr;
use serde_json::{json, Value};

use super::lease::{Lease, LeaseState};

const FORMAT: u64 = 1;

/// Why a lease file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LeasesFileError {
    #[error("cannot read lease file {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write lease file {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("lease file {path} is damaged ({why}); move it away to start with no leases, but machines may then get addresses that are still in use")]
    Damaged { path: PathBuf, why: String },
}

/// Reads the leases in `path`; a missing file is an empty table (first start).
pub fn load(path: &Path) -> Result<Vec<Lease>, LeasesFileError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(LeasesFileError::Read {
                path: path.into(),
                source,
            })
        }
    };
    parse(&bytes).map_err(|why| LeasesFileError::Damaged {
        path: path.into(),
        why,
    })
}

/// Replaces `path` with `leases`, atomically, creating its directory if needed.
pub fn save(path: &Path, leases: &[Lease]) -> Result<(), LeasesFileError> {
    crate::atomic_file::replace(path, &render(leases)).map_err(|source| LeasesFileError::Write {
        path: path.into(),
        source,
    })
}

/// The file's text: sorted by address (the table's order), one lease per entry.
pub fn render(leases: &[Lease]) -> String {
    let list: Vec<Value> = leases
        .iter()
        .map(|l| {
            json!({
                "ip": l.ip.to_string(),
                "mac": l.mac.to_string(),
                "state": match l.state {
                    LeaseState::Bound => "bound",
                    LeaseState::Declined => "declined",
                    LeaseState::Offered => "offered",
                },
                "expires": l.expires,
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&json!({ "format": FORMAT, "leases": list }))
        .expect("JSON values always serialise");
    text.push('\n');
    text
}

/// Reads the file's text, naming the first thing wrong with it.
pub fn parse(bytes: &[u8]) -> Result<Vec<Lease>, String> {
    let root: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    match root.get("format").and_then(Value::as_u64) {
        Some(FORMAT) => {}
        Some(other) => {
            return Err(format!(
                "format {other}, this netboot reads format {FORMAT}"
            ))
        }
        None => return Err("no `format` number".into()),
    }
    let list = root
        .get("leases")
        .and_then(Value::as_array)
        .ok_or("no `leases` list")?;
    list.iter()
        .enumerate()
        .map(|(i, entry)| lease(entry).map_err(|why| format!("lease {}: {why}", i + 1)))
        .collect()
}

fn lease(entry: &Value) -> Result<Lease, String> {
    let text = |key: &str| {
        entry
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("no `{key}` text"))
    };
    let ip: Ipv4Addr = text("ip")?
        .parse()
        .map_err(|_| format!("`ip` {:?} is not an IPv4 address", text("ip").unwrap_or("")))?;
    let mac: MacAddr = text("mac")?.parse().map_err(|e| format!("`mac`: {e}"))?;
    let state = match text("state")? {
        "bound" => LeaseState::Bound,
        "declined" => LeaseState::Declined,
        "offered" => LeaseState::Offered,
        other => return Err(format!("`state` {other:?} is not bound or declined")),
    };
    let expires = entry
        .get("expires")
        .and_then(Value::as_u64)
        .ok_or("no `expires` time (seconds since 1970)")?;
    Ok(Lease {
        ip,
        mac,
        state,
        expires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Lease> {
        vec![
            Lease {
                ip: Ipv4Addr::new(10, 0, 0, 100),
                mac: MacAddr([0x52, 0x54, 0, 0, 0, 1]),
                state: LeaseState::Bound,
                expires: 1_800_000_000,
            },
            Lease {
                ip: Ipv4Addr::new(10, 0, 0, 101),
                mac: MacAddr([0x52, 0x54, 0, 0, 0, 2]),
                state: LeaseState::Declined,
                expires: 1_800_000_600,
            },
        ]
    }

    #[test]
    fn saves_atomically_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/leases.json");
        assert_eq!(load(&path).unwrap(), vec![], "a missing file is no leases");
        save(&path, &sample()).unwrap();
        assert_eq!(load(&path).unwrap(), sample());
        save(&path, &sample()[..1]).unwrap();
        assert_eq!(load(&path).unwrap(), sample()[..1].to_vec());
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["leases.json"], "no temporary file is left behind");
    }

    #[test]
    fn damaged_files_are_named_not_guessed() {
        let cases: &[(&str, &str)] = &[
            ("{", "not JSON"),
            (r#"{"leases": []}"#, "no `format`"),
            (r#"{"format": 2, "leases": []}"#, "format 2"),
            (r#"{"format": 1}"#, "no `leases`"),
            (
                r#"{"format": 1, "leases": [{"ip": "10.0.0.300", "mac": "52:54:00:00:00:01", "state": "bound", "expires": 1}]}"#,
                "lease 1: `ip`",
            ),
            (
                r#"{"format": 1, "leases": [{"ip": "10.0.0.3", "mac": "52:54:00:00:01", "state": "bound", "expires": 1}]}"#,
                "lease 1: `mac`",
            ),
            (
                r#"{"format": 1, "leases": [{"ip": "10.0.0.3", "mac": "52:54:00:00:00:01", "state": "lost", "expires": 1}]}"#,
                "`state` \"lost\"",
            ),
            (
                r#"{"format": 1, "leases": [{"ip": "10.0.0.3", "mac": "52:54:00:00:00:01", "state": "bound", "expires": -1}]}"#,
                "no `expires`",
            ),
        ];
        for (text, want) in cases {
            let why = parse(text.as_bytes()).unwrap_err();
            assert!(why.contains(want), "{text}: {why}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leases.json");
        fs::write(&path, "garbage").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(
            err.contains("damaged") && err.contains("leases.json"),
            "{err}"
        );
    }
}
