//! A snapshot over a hand-made manifest, so a TFTP or HTTP test states the files it serves and
//! nothing else.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use netboot_manifest::{sha256_hex, FileEntry, Manifest, Source};
use netboot_runtime::Snapshot;

/// A file to serve: in memory (generated) or written to the artifact directory.
pub enum File {
    Memory(&'static str, Vec<u8>),
    Disk(&'static str, Vec<u8>),
}

/// Deterministic bytes that differ block to block, so a misplaced block changes the hash.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (((i as u64 * 2_654_435_761) >> 7) as u8) ^ seed ^ (i / 512) as u8)
        .collect()
}

/// Which protocol serves the files.
#[derive(Clone, Copy)]
pub enum Over {
    Tftp,
    Http,
}

/// A snapshot serving `files` over one protocol; disk files are written under `dir`.
pub fn snapshot(files: &[File], dir: &Path, over: Over) -> Arc<Snapshot> {
    let mut entries = BTreeMap::new();
    let mut generated = BTreeMap::new();
    for file in files {
        let (route, bytes, source) = match file {
            File::Memory(route, bytes) => {
                generated.insert(route.to_string(), bytes.clone());
                let source = Source::Generated {
                    file: route.to_string(),
                };
                (route, bytes, source)
            }
            File::Disk(route, bytes) => {
                let path = dir.join(route);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, bytes).unwrap();
                let source = Source::Artifact {
                    path: route.to_string(),
                };
                (route, bytes, source)
            }
        };
        entries.insert(
            route.to_string(),
            FileEntry {
                size: bytes.len() as u64,
                sha256: sha256_hex(bytes),
                source,
                tftp: matches!(over, Over::Tftp),
                http: matches!(over, Over::Http),
            },
        );
    }
    let manifest = Manifest::serving(entries, ".");
    let snap = Snapshot::from_compiled(manifest, &generated, dir);
    assert!(snap.broken().is_empty(), "{:?}", snap.broken());
    Arc::new(snap)
}
