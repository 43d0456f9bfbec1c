//! Shared by the TFTP integration tests: a server on loopback over a hand-made manifest, and
//! lookups for the real client programs.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use netboot_manifest::{sha256_hex, DhcpMode, FileEntry, Manifest, Server, Source, FORMAT_VERSION};
use netboot_runtime::tftp::{TftpConfig, TftpServer};
use netboot_runtime::Snapshot;
use tokio::sync::watch;

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

/// A snapshot serving `files` over TFTP only; disk files are written under `dir`.
pub fn snapshot(files: &[File], dir: &Path) -> Arc<Snapshot> {
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
                std::fs::write(dir.join(route), bytes).unwrap();
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
                tftp: true,
                http: false,
            },
        );
    }
    let manifest = Manifest {
        format: FORMAT_VERSION,
        compiler: "test".into(),
        fleet_sha256: String::new(),
        server: Server {
            interface: None,
            address: None,
            http_port: 0,
            tftp_port: 0,
            dhcp: DhcpMode::Off,
        },
        dhcp: BTreeMap::new(),
        hosts: BTreeMap::new(),
        artifact_root: ".".into(),
        files: entries,
    };
    let snap = Snapshot::from_compiled(manifest, &generated, dir);
    assert!(snap.broken().is_empty(), "{:?}", snap.broken());
    Arc::new(snap)
}

/// A TFTP server on 127.0.0.1 with its own runtime; dropping it stops everything.
pub struct Running {
    pub addr: SocketAddr,
    pub snapshots: watch::Sender<Arc<Snapshot>>,
    runtime: tokio::runtime::Runtime,
}

pub fn start(snap: Arc<Snapshot>) -> Running {
    start_with(snap, TftpConfig::default())
}

pub fn start_with(snap: Arc<Snapshot>, mut config: TftpConfig) -> Running {
    config.bind = "127.0.0.1:0".parse().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (tx, rx) = watch::channel(snap);
    let server = runtime
        .block_on(TftpServer::bind(&config, rx))
        .expect("bind TFTP on loopback");
    let addr = server.local_addr().unwrap();
    runtime.spawn(server.run());
    Running {
        addr,
        snapshots: tx,
        runtime,
    }
}

/// The path of `program` if it is installed, else `None` after saying the test is skipped.
pub fn client(program: &str, test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        eprintln!("SKIPPED {test}: `{program}` is not installed (apt-get install it; CI does)");
    }
    found
}

pub fn sha256_file(path: &Path) -> String {
    sha256_hex(&std::fs::read(path).unwrap())
}
