//! Whether an output directory may be replaced: `build -o DIR` deletes what DIR held, so it
//! does that only to an empty directory or to one that is provably an earlier build.
//!
//! "Holds a manifest.json" was once the whole test, and a web project with its own
//! manifest.json, or a fleet's git repository holding a copied build manifest, was deleted
//! whole. Now every entry must be accounted for: the manifest must be netboot's (a `format`
//! number and `files` with sources), and every file below the directory must be the manifest
//! itself or one of the files it says the compiler generated. Anything else — a file the
//! manifest does not list, a symlink, a fifo — means the directory is someone's, and it stays.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Why a directory may not be replaced, in words for the operator.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("{} exists and is not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error(
        "refusing to replace {}: it holds the fleet ({}); choose an output directory of its own",
        .out.display(), .fleet_dir.display()
    )]
    HoldsTheFleet { out: PathBuf, fleet_dir: PathBuf },
    #[error(
        "refusing to replace {}: it is not empty and holds no manifest.json from an earlier build",
        .0.display()
    )]
    NoManifest(PathBuf),
    #[error(
        "refusing to replace {}: its manifest.json is not a netboot manifest ({reason})",
        .out.display()
    )]
    ForeignManifest { out: PathBuf, reason: String },
    #[error(
        "refusing to replace {}: {} is not a file of the earlier build its manifest.json describes",
        .out.display(), .stranger.display()
    )]
    Stranger { out: PathBuf, stranger: PathBuf },
    #[error("cannot inspect {}: {err}", .path.display())]
    Io { path: PathBuf, err: io::Error },
}

impl From<Refusal> for io::Error {
    fn from(refusal: Refusal) -> io::Error {
        let kind = match &refusal {
            Refusal::Io { err, .. } => err.kind(),
            _ => io::ErrorKind::AlreadyExists,
        };
        io::Error::new(kind, refusal.to_string())
    }
}

/// Checks that `out` (absolute, canonical parent) may be replaced by a new build of the fleet
/// in `fleet_dir` (absolute, canonical): it does not exist, is empty, or is an earlier build,
/// and it is neither the fleet's directory nor one of its ancestors.
pub fn may_replace(out: &Path, fleet_dir: &Path) -> Result<(), Refusal> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |err| Refusal::Io { path, err }
    };
    let meta = match fs::symlink_metadata(out) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        other => other.map_err(io_err(out))?,
    };
    if !meta.is_dir() {
        return Err(Refusal::NotADirectory(out.to_path_buf()));
    }
    if fleet_dir.starts_with(out) {
        return Err(Refusal::HoldsTheFleet {
            out: out.to_path_buf(),
            fleet_dir: fleet_dir.to_path_buf(),
        });
    }
    if fs::read_dir(out).map_err(io_err(out))?.next().is_none() {
        return Ok(());
    }
    let manifest_path = out.join("manifest.json");
    let text = match fs::read(&manifest_path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Refusal::NoManifest(out.to_path_buf()))
        }
        other => other.map_err(io_err(&manifest_path))?,
    };
    let generated = generated_files(&text).map_err(|reason| Refusal::ForeignManifest {
        out: out.to_path_buf(),
        reason,
    })?;
    match first_stranger(out, &generated).map_err(io_err(out))? {
        Some(stranger) => Err(Refusal::Stranger {
            out: out.to_path_buf(),
            stranger,
        }),
        None => Ok(()),
    }
}

/// The files a netboot manifest says the compiler wrote (relative paths), read loosely so an
/// earlier format version still counts as a build; an error says what is not netboot-like.
fn generated_files(json: &[u8]) -> Result<BTreeSet<PathBuf>, String> {
    let value: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| format!("not JSON: {e}"))?;
    if !value.get("format").is_some_and(serde_json::Value::is_u64) {
        return Err("no `format` version".into());
    }
    let files = value
        .get("files")
        .and_then(serde_json::Value::as_object)
        .ok_or("no `files` table")?;
    let mut out = BTreeSet::from([PathBuf::from("manifest.json")]);
    // A bundle's artifacts live inside it, at `sha256/<hex>` with `artifact_root` "." (a
    // build's root is never ".": that would be the fleet's own directory, which is refused).
    let bundle = value
        .get("artifact_root")
        .and_then(serde_json::Value::as_str)
        == Some(".");
    for (route, entry) in files {
        let source = entry
            .get("source")
            .ok_or_else(|| format!("file `{route}` has no `source`"))?;
        match source.get("kind").and_then(serde_json::Value::as_str) {
            Some("generated") => {
                let file = source
                    .get("file")
                    .and_then(serde_json::Value::as_str)
                    .ok_or_else(|| format!("generated file `{route}` has no `file`"))?;
                out.insert(PathBuf::from(file));
            }
            Some("artifact") => {
                let path = source.get("path").and_then(serde_json::Value::as_str);
                if let Some(path) = path.map(Path::new) {
                    if bundle && crate::bundle::is_content_path(path) {
                        out.insert(path.to_path_buf());
                    }
                }
            }
            _ => return Err(format!("file `{route}` has an unknown `source`")),
        }
    }
    Ok(out)
}

/// The first entry below `root` that is not a listed file or a directory on the way to one
/// (symlinks and special files never are). Iterative: the tree is anyone's, however deep.
fn first_stranger(root: &Path, listed: &BTreeSet<PathBuf>) -> io::Result<Option<PathBuf>> {
    let mut dirs = vec![PathBuf::new()];
    while let Some(rel) = dirs.pop() {
        let mut entries: Vec<_> = fs::read_dir(root.join(&rel))?.collect::<io::Result<_>>()?;
        entries.sort_by_key(fs::DirEntry::file_name);
        for entry in entries {
            let path = rel.join(entry.file_name());
            let kind = entry.file_type()?;
            if kind.is_dir() {
                dirs.push(path);
            } else if !(kind.is_file() && listed.contains(&path)) {
                return Ok(Some(root.join(path)));
            }
        }
    }
    Ok(None)
}
