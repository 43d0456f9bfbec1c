//! The install state on disk: small JSON replaced atomically (written beside the target,
//! flushed, renamed over it, the directory flushed), the same approach as the full-DHCP lease
//! file. An embedded database would buy nothing here: a handful of records change a few times
//! a day, and one file that `cat` shows is easier to inspect, back up and repair.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use netboot_manifest::MacAddr;
use serde::{Deserialize, Serialize};

const FORMAT: u32 = 1;

/// What one machine last reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallRecord {
    /// Host name when it reported (for people; the key is the MAC).
    pub host: String,
    /// The generation it reported installed.
    pub generation: u32,
    /// Seconds since 1970.
    pub at: u64,
    /// The address the report came from.
    pub address: IpAddr,
}

/// Every machine's record, by MAC: a renamed host keeps its record, a new NIC installs anew.
pub type InstallState = BTreeMap<MacAddr, InstallRecord>;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OnDisk {
    format: u32,
    machines: InstallState,
}

#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    #[error("cannot read install state {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write install state {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("install state {path} is damaged ({why}); every machine with an install lifecycle boots its `then` profile until it is repaired or moved away")]
    Damaged { path: PathBuf, why: String },
    #[error("install state {path} disappeared after it was read; every machine with an install lifecycle boots its `then` profile until it is restored (or the server restarts, which reads a missing file as nothing installed)")]
    Vanished { path: PathBuf },
    #[error("there is no install state at {path}: no machine has reported an install")]
    Absent { path: PathBuf },
}

/// Reads `path`; a missing file is an empty state (nothing installed yet).
pub fn load(path: &Path) -> Result<InstallState, StateFileError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(InstallState::new()),
        Err(source) => {
            return Err(StateFileError::Read {
                path: path.into(),
                source,
            })
        }
    };
    parse(&bytes).map_err(|why| StateFileError::Damaged {
        path: path.into(),
        why,
    })
}

pub fn parse(bytes: &[u8]) -> Result<InstallState, String> {
    let disk: OnDisk = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if disk.format != FORMAT {
        return Err(format!(
            "format {}, this netboot reads format {FORMAT}",
            disk.format
        ));
    }
    Ok(disk.machines)
}

pub fn render(state: &InstallState) -> String {
    let disk = OnDisk {
        format: FORMAT,
        machines: state.clone(),
    };
    let mut text = serde_json::to_string_pretty(&disk).expect("install state always serialises");
    text.push('\n');
    text
}

/// Replaces `path` with `state` atomically, creating its directory if needed.
pub fn save(path: &Path, state: &InstallState) -> Result<(), StateFileError> {
    crate::atomic_file::replace(path, &render(state)).map_err(|source| StateFileError::Write {
        path: path.into(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn sample() -> InstallState {
        let mut s = InstallState::new();
        s.insert(
            MacAddr([0x52, 0x54, 0, 0, 0, 1]),
            InstallRecord {
                host: "web1".into(),
                generation: 2,
                at: 1_800_000_000,
                address: Ipv4Addr::new(10, 0, 0, 5).into(),
            },
        );
        s
    }

    #[test]
    fn saves_atomically_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/install-state.json");
        assert_eq!(load(&path).unwrap(), InstallState::new());
        save(&path, &sample()).unwrap();
        assert_eq!(load(&path).unwrap(), sample());
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["install-state.json"], "no temporary file is left");
    }

    #[test]
    fn damaged_files_are_named() {
        for (text, want) in [
            ("{", "EOF"),
            (r#"{"format": 2, "machines": {}}"#, "format 2"),
            (r#"{"format": 1}"#, "machines"),
            (
                r#"{"format": 1, "machines": {"52:54:00:00:00:zz": {"host": "a", "generation": 1, "at": 1, "address": "10.0.0.1"}}}"#,
                "MAC",
            ),
            (
                r#"{"format": 1, "machines": {"52:54:00:00:00:01": {"host": "a", "generation": -1, "at": 1, "address": "10.0.0.1"}}}"#,
                "expected u32",
            ),
        ] {
            let why = parse(text.as_bytes()).unwrap_err();
            assert!(why.contains(want), "{text}: {why}");
        }
    }
}
