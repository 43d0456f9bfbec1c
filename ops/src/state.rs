//! `netboot state`: every machine with an install lifecycle, what it last reported installed
//! (when, from where), and which of its two profiles it boots next. Read-only: the state file
//! is read, never written.

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use netboot_compiler::ServerOverrides;
use netboot_manifest::MacAddr;
use netboot_runtime::install::{next, InstallRecord, InstallState, InstallStoreError, Next};
use netboot_runtime::pg::StateUrl;
use netboot_runtime::status::units;

use crate::install_state::{lifecycle_hosts, store};
use crate::loaded::{LoadError, Loaded};
use crate::report_format::Format;

/// Which state, against which fleet.
#[derive(Debug, Clone)]
pub struct StateOptions {
    /// A fleet (or a `.json` manifest); `None`: the records alone, without what comes next.
    pub fleet: Option<PathBuf>,
    pub state_dir: PathBuf,
    /// The state database, instead of the file in `state_dir`.
    pub state: Option<StateUrl>,
    pub format: Format,
}

/// Why there is no listing.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Damaged or unreadable: the server gives every lifecycle machine its `then` profile.
    #[error(transparent)]
    State(#[from] InstallStoreError),
}

/// One machine's row.
#[derive(Debug, serde::Serialize)]
pub struct Row {
    pub host: String,
    pub mac: MacAddr,
    /// The generation the fleet installs; `None` without a fleet or for a machine the fleet
    /// no longer gives a lifecycle.
    pub generation: Option<u32>,
    /// The generation last reported installed.
    pub reported: Option<u32>,
    /// When (UTC) and from which address it was reported.
    pub at: Option<String>,
    pub from: Option<String>,
    /// What `hosts/<mac>.ipxe` answers now; `None` without a fleet or a lifecycle.
    pub next: Option<Next>,
    /// The profile that is, by name.
    pub profile: Option<String>,
}

/// The listing, rendered.
#[derive(Debug)]
pub struct Listed {
    pub text: String,
    pub rows: Vec<Row>,
}

/// Lists the install state under `state_dir`, against the fleet when one is given.
pub fn state(options: &StateOptions) -> Result<Listed, StateError> {
    let store =
        store(&options.state_dir, options.state.as_ref()).map_err(InstallStoreError::from)?;
    let records = store.load()?;
    let loaded = match &options.fleet {
        Some(fleet) => Some(Loaded::load(fleet, &ServerOverrides::default())?),
        None => None,
    };
    let rows = rows(loaded.as_ref(), &records);
    let text = match options.format {
        Format::Human => render(&rows, loaded.is_some(), &store.describe()),
        Format::Json => serde_json::to_string_pretty(&rows).expect("rows always serialise") + "\n",
    };
    Ok(Listed { text, rows })
}

/// The fleet's lifecycle machines first (by host name), then records of machines the fleet
/// does not give a lifecycle (by MAC), so nothing in the file is hidden.
fn rows(loaded: Option<&Loaded>, records: &InstallState) -> Vec<Row> {
    let reported = |r: Option<&InstallRecord>| {
        (
            r.map(|r| r.generation),
            r.map(|r| units::utc(UNIX_EPOCH + Duration::from_secs(r.at))),
            r.map(|r| r.address.to_string()),
        )
    };
    let mut rows = Vec::new();
    let mut listed = Vec::new();
    if let Some(loaded) = loaded {
        for (mac, host, install) in lifecycle_hosts(&loaded.manifest) {
            let record = records.get(&mac);
            let (reported, at, from) = reported(record);
            let next = next(install, record);
            rows.push(Row {
                host: host.name.clone(),
                mac,
                generation: Some(install.generation),
                reported,
                at,
                from,
                next: Some(next),
                profile: Some(match next {
                    Next::Install => install.profile.clone(),
                    Next::Then => install.then.clone(),
                }),
            });
            listed.push(mac);
        }
        rows.sort_by(|a, b| a.host.cmp(&b.host));
    }
    for (mac, record) in records.iter().filter(|(m, _)| !listed.contains(m)) {
        let (reported, at, from) = reported(Some(record));
        rows.push(Row {
            host: record.host.clone(),
            mac: *mac,
            generation: None,
            reported,
            at,
            from,
            next: None,
            profile: None,
        });
    }
    rows
}

/// `fleet`: whether a fleet was given, so a record it does not match can be called out.
fn render(rows: &[Row], fleet: bool, path: &str) -> String {
    if rows.is_empty() {
        return format!("no machine with an install lifecycle, nothing reported in {path}\n");
    }
    let dash = || "-".to_string();
    let mut table = vec![[
        "HOST".to_string(),
        "MAC".to_string(),
        "GENERATION".to_string(),
        "REPORTED".to_string(),
        "WHEN (UTC)".to_string(),
        "BOOTS NEXT".to_string(),
    ]];
    table.extend(rows.iter().map(|r| {
        [
            r.host.clone(),
            r.mac.to_string(),
            r.generation.map_or_else(dash, |g| g.to_string()),
            r.reported.map_or_else(dash, |g| g.to_string()),
            match (&r.at, &r.from) {
                (Some(at), Some(from)) => format!("{at} from {from}"),
                _ => dash(),
            },
            match (r.next, &r.profile) {
                (Some(Next::Install), Some(p)) => format!("install {p}"),
                (Some(Next::Then), Some(p)) => format!("then {p}"),
                _ if fleet => "not a lifecycle machine of this fleet".to_string(),
                _ => "- (give the fleet to see)".to_string(),
            },
        ]
    }));
    let widths: Vec<usize> = (0..6)
        .map(|i| table.iter().map(|row| row[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &table {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            line += &format!("{cell:<width$}  ");
        }
        out += line.trim_end();
        out += "\n";
    }
    out
}
