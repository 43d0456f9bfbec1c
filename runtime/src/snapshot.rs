//! An immutable, verified view of one manifest: what every protocol server answers from.
//!
//! A snapshot is built once per (re)load and shared behind an `Arc`; a transfer keeps the
//! snapshot (or just the [`Body`]) it started with, so a reload never changes bytes mid-flight.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use netboot_manifest::{FileEntry, Manifest, ManifestError, Protocol, Sha256Writer, Source};

use crate::body::Body;

/// A manifest whose files have been opened and checked.
#[derive(Debug)]
pub struct Snapshot {
    manifest: Manifest,
    bodies: BTreeMap<String, Body>,
    /// Routes taken out of service, with the reason, because their bytes did not match.
    broken: BTreeMap<String, String>,
    /// Files on disk this snapshot was built from, for a watcher to reload on change.
    sources: Vec<PathBuf>,
}

/// Why no snapshot could be built at all (a single bad file only takes its route out).
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot read manifest {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("manifest {path}: {source}")]
    Manifest {
        path: PathBuf,
        source: ManifestError,
    },
}

/// How much to trust the bytes handed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Hash every file against the manifest (a frozen build read back from disk).
    Full,
    /// Check sizes only: the compiler hashed these bytes a moment ago.
    SizeOnly,
}

impl Snapshot {
    /// Loads a frozen build: `manifest.json` plus the generated files beside it, hashing every
    /// file before anything is served.
    pub fn load(manifest_path: &Path) -> Result<Snapshot, SnapshotError> {
        let bytes = read_regular(manifest_path).map_err(|source| SnapshotError::Read {
            path: manifest_path.to_path_buf(),
            source,
        })?;
        let manifest = Manifest::from_json(&bytes).map_err(|source| SnapshotError::Manifest {
            path: manifest_path.to_path_buf(),
            source,
        })?;
        let dir = manifest_path.parent().unwrap_or(Path::new("."));
        Ok(Snapshot::build(
            manifest,
            dir,
            &BTreeMap::new(),
            Verify::Full,
        ))
    }

    /// A snapshot of an in-memory compile: `generated` holds the generated files' bytes and
    /// `base` is the directory the manifest's relative paths are resolved against.
    pub fn from_compiled(
        manifest: Manifest,
        generated: &BTreeMap<String, Vec<u8>>,
        base: &Path,
    ) -> Snapshot {
        Snapshot::build(manifest, base, generated, Verify::SizeOnly)
    }

    fn build(
        manifest: Manifest,
        base: &Path,
        generated: &BTreeMap<String, Vec<u8>>,
        verify: Verify,
    ) -> Snapshot {
        let artifact_root = base.join(&manifest.artifact_root);
        let mut bodies = BTreeMap::new();
        let mut broken = BTreeMap::new();
        let mut sources = Vec::new();
        for (route, entry) in &manifest.files {
            let opened = match &entry.source {
                Source::Generated { file } => match generated.get(file) {
                    Some(bytes) => Ok(Body::Memory(bytes.as_slice().into())),
                    None => {
                        sources.push(base.join(file));
                        read_regular(&base.join(file))
                            .map(|b| Body::Memory(b.into()))
                            .map_err(|e| format!("cannot read generated file {file}: {e}"))
                    }
                },
                Source::Artifact { path } => {
                    sources.push(artifact_root.join(path));
                    open_artifact(&artifact_root.join(path))
                }
            };
            match opened.and_then(|body| check(&body, entry, verify).map(|()| body)) {
                Ok(body) => {
                    bodies.insert(route.clone(), body);
                }
                Err(reason) => {
                    tracing::error!(route = %route, %reason, "route taken out of service");
                    broken.insert(route.clone(), reason);
                }
            }
        }
        Snapshot {
            manifest,
            bodies,
            broken,
            sources,
        }
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The bytes to serve for `path` over `protocol`, or `None` when the manifest does not list
    /// it for that protocol (or it was taken out of service). `path` is compared verbatim to the
    /// manifest's keys: no normalisation happens here, so nothing outside the manifest can
    /// match.
    pub fn open(&self, path: &str, protocol: Protocol) -> Option<Body> {
        let entry = self.manifest.files.get(path)?;
        let allowed = match protocol {
            Protocol::Tftp => entry.tftp,
            Protocol::Http => entry.http,
        };
        if !allowed {
            return None;
        }
        self.bodies.get(path).cloned()
    }

    /// The manifest entry for a servable path (for ETag and size).
    pub fn entry(&self, path: &str) -> Option<&FileEntry> {
        self.manifest.files.get(path)
    }

    /// Files on disk this snapshot read: the manifest (for a frozen build), generated files read
    /// from disk, and every artifact.
    pub fn sources(&self) -> &[PathBuf] {
        &self.sources
    }

    /// Routes out of service and why.
    pub fn broken(&self) -> &BTreeMap<String, String> {
        &self.broken
    }

    /// Routes whose artifact was written to in place since it was verified: their bytes may no
    /// longer match the manifest's sha256. (A file replaced by rename is fine: the snapshot
    /// still holds the old, verified file open.)
    pub fn stale(&self) -> BTreeMap<String, String> {
        self.bodies
            .iter()
            .filter_map(|(route, body)| Some((route.clone(), body.changed_since_open()?)))
            .collect()
    }

    /// Routes whose open file's inode changed (written, or renamed into place: both update
    /// ctime) at or after `since`, and whose bytes no longer hash to the manifest's sha256.
    ///
    /// An in-memory compile hashes each artifact by path and the snapshot opens it again a
    /// moment later; a same-size file renamed over it in between would otherwise be served
    /// under the old sha256 (and ETag). Only files touched since `since` are re-hashed.
    pub fn mismatched_since(&self, since: std::time::SystemTime) -> BTreeMap<String, String> {
        use std::os::unix::fs::MetadataExt;
        let since = since
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let mut out = BTreeMap::new();
        for (route, body) in &self.bodies {
            let Body::File { file, .. } = body else {
                continue;
            };
            // Second granularity, and one second of slack for clocks that round down.
            let touched = file.metadata().map_or(true, |m| m.ctime() >= since - 1);
            if !touched {
                continue;
            }
            let Some(entry) = self.manifest.files.get(route) else {
                continue;
            };
            match hash_body(body) {
                Ok(sha) if sha == entry.sha256 => {}
                Ok(sha) => {
                    out.insert(
                        route.clone(),
                        format!(
                            "changed while compiling: sha256 is {sha}, compiled as {}",
                            entry.sha256
                        ),
                    );
                }
                Err(e) => {
                    out.insert(route.clone(), format!("cannot read: {e}"));
                }
            }
        }
        out
    }

    /// This snapshot with `routes` taken out of service for the given reasons.
    pub fn without(&self, routes: &BTreeMap<String, String>) -> Snapshot {
        let mut bodies = self.bodies.clone();
        let mut broken = self.broken.clone();
        for (route, reason) in routes {
            if bodies.remove(route).is_some() {
                broken.insert(route.clone(), reason.clone());
            }
        }
        Snapshot {
            manifest: self.manifest.clone(),
            bodies,
            broken,
            sources: self.sources.clone(),
        }
    }
}

fn open_artifact(path: &Path) -> Result<Body, String> {
    let file =
        open_nonblocking(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot stat {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    Ok(Body::File {
        file: Arc::new(file),
        len: meta.len(),
        modified: meta.modified().ok(),
    })
}

/// Opens for reading without waiting: an artifact replaced by a FIFO would otherwise block the
/// open until a writer appears, and with it the reload (or the start-up) forever. The flag does
/// nothing to a regular file, and anything else is refused right after by its type.
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

/// The whole of a regular file (a manifest, a generated script); anything else is refused
/// before it is opened, so a FIFO in its place cannot block the load.
fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = open_nonblocking(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut &file, &mut bytes)?;
    Ok(bytes)
}

fn check(body: &Body, entry: &FileEntry, verify: Verify) -> Result<(), String> {
    if body.len() != entry.size {
        return Err(format!(
            "size is {} bytes, the manifest says {}",
            body.len(),
            entry.size
        ));
    }
    if verify == Verify::Full {
        let sha = hash_body(body).map_err(|e| format!("cannot read: {e}"))?;
        if sha != entry.sha256 {
            return Err(format!(
                "sha256 is {sha}, the manifest says {}",
                entry.sha256
            ));
        }
    }
    Ok(())
}

fn hash_body(body: &Body) -> io::Result<String> {
    use std::io::Write;
    let mut hasher = Sha256Writer::default();
    let mut buf = vec![0u8; 1 << 20];
    let mut offset = 0;
    loop {
        let n = body.read_at(offset, &mut buf)?;
        if n == 0 {
            break;
        }
        hasher.write_all(&buf[..n])?;
        offset += n as u64;
    }
    Ok(hasher.finish().1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use netboot_manifest::sha256_hex;

    fn manifest_with(files: BTreeMap<String, FileEntry>) -> Manifest {
        Manifest::serving(files, ".")
    }

    fn entry(bytes: &[u8], source: Source, tftp: bool, http: bool) -> FileEntry {
        FileEntry {
            size: bytes.len() as u64,
            sha256: sha256_hex(bytes),
            source,
            tftp,
            http,
        }
    }

    #[test]
    fn frozen_build_serves_listed_files_and_quarantines_tampered_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("boot.ipxe"), b"#!ipxe\n").unwrap();
        std::fs::write(dir.path().join("kernel"), b"KERNEL").unwrap();
        std::fs::write(dir.path().join("initrd"), b"tampered").unwrap();
        let mut files = BTreeMap::new();
        let gen = Source::Generated {
            file: "boot.ipxe".into(),
        };
        files.insert("boot.ipxe".into(), entry(b"#!ipxe\n", gen, false, true));
        let art = |p: &str| Source::Artifact { path: p.into() };
        files.insert("k".into(), entry(b"KERNEL", art("kernel"), true, true));
        files.insert("i".into(), entry(b"original", art("initrd"), true, true));
        let path = dir.path().join("manifest.json");
        std::fs::write(&path, manifest_with(files).to_json()).unwrap();

        let snap = Snapshot::load(&path).unwrap();
        let body = snap.open("boot.ipxe", Protocol::Http).unwrap();
        assert_eq!(body.len(), 7);
        assert!(
            snap.open("boot.ipxe", Protocol::Tftp).is_none(),
            "HTTP-only route must not be served over TFTP"
        );
        assert!(snap.open("k", Protocol::Tftp).is_some());
        assert!(snap.open("i", Protocol::Tftp).is_none());
        assert!(snap.broken()["i"].contains("sha256"));
        assert!(snap.open("/k", Protocol::Tftp).is_none());
        assert!(snap.open("manifest.json", Protocol::Http).is_none());
    }

    /// FIFOs in place of an artifact or a generated script once blocked the load in open()
    /// until a writer came, and with it serve's start-up or reload. The load runs on a thread so
    /// a regression fails this test instead of hanging it.
    #[test]
    fn fifos_are_taken_out_of_service_without_blocking_the_load() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["kernel", "boot.ipxe"] {
            let made = std::process::Command::new("mkfifo")
                .arg(dir.path().join(name))
                .status()
                .unwrap();
            assert!(made.success());
        }
        let mut files = BTreeMap::new();
        let gen = Source::Generated {
            file: "boot.ipxe".into(),
        };
        files.insert("boot.ipxe".into(), entry(b"#!ipxe\n", gen, false, true));
        let art = Source::Artifact {
            path: "kernel".into(),
        };
        files.insert("k".into(), entry(b"KERNEL", art, true, true));
        let path = dir.path().join("manifest.json");
        std::fs::write(&path, manifest_with(files).to_json()).unwrap();

        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(Snapshot::load(&path).map(|s| s.broken().clone())));
        let broken = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the load is blocked on a FIFO")
            .unwrap();
        assert!(broken["k"].contains("not a regular file"), "{broken:?}");
        assert!(
            broken["boot.ipxe"].contains("not a regular file"),
            "{broken:?}"
        );
    }

    #[test]
    fn an_artifact_written_in_place_goes_stale_and_can_be_taken_out() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kernel"), b"GOOD").unwrap();
        let mut files = BTreeMap::new();
        let src = Source::Artifact {
            path: "kernel".into(),
        };
        files.insert("k".into(), entry(b"GOOD", src, true, true));
        let snap = Snapshot::from_compiled(manifest_with(files), &BTreeMap::new(), dir.path());
        assert!(snap.stale().is_empty());

        // `cp other kernel` truncates and rewrites the same inode the snapshot has open.
        std::fs::write(dir.path().join("kernel"), b"EVIL!").unwrap();
        let stale = snap.stale();
        assert!(stale["k"].contains("rewritten in place"), "{stale:?}");
        let fixed = snap.without(&stale);
        assert!(fixed.open("k", Protocol::Http).is_none());
        assert!(fixed.broken()["k"].contains("rewritten"));
        assert!(
            snap.open("k", Protocol::Http).is_some(),
            "the original is untouched"
        );
    }

    #[test]
    fn a_same_size_file_renamed_in_after_hashing_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let started = std::time::SystemTime::now();
        // The compiler hashed "OLD!"; a same-size file was renamed over it before the open.
        std::fs::write(dir.path().join("kernel.new"), b"NEW!").unwrap();
        std::fs::rename(dir.path().join("kernel.new"), dir.path().join("kernel")).unwrap();
        let mut files = BTreeMap::new();
        let src = Source::Artifact {
            path: "kernel".into(),
        };
        files.insert("k".into(), entry(b"OLD!", src, true, true));
        let snap = Snapshot::from_compiled(manifest_with(files), &BTreeMap::new(), dir.path());
        assert!(snap.open("k", Protocol::Http).is_some(), "sizes match");
        let changed = snap.mismatched_since(started);
        assert!(
            changed["k"].contains("changed while compiling"),
            "{changed:?}"
        );

        // A file untouched since long before the compile is not re-hashed or reported.
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(10);
        assert!(snap.mismatched_since(later).is_empty());
    }

    #[test]
    fn body_outlives_a_replaced_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kernel"), b"OLD!").unwrap();
        let mut files = BTreeMap::new();
        let src = Source::Artifact {
            path: "kernel".into(),
        };
        files.insert("k".into(), entry(b"OLD!", src, true, true));
        let snap = Snapshot::from_compiled(manifest_with(files), &BTreeMap::new(), dir.path());
        let body = snap.open("k", Protocol::Http).unwrap();
        // An editor saves by writing a new file and renaming it over the old one.
        std::fs::write(dir.path().join("kernel.new"), b"NEW!").unwrap();
        std::fs::rename(dir.path().join("kernel.new"), dir.path().join("kernel")).unwrap();
        let mut buf = [0u8; 4];
        body.read_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"OLD!");
    }
}
