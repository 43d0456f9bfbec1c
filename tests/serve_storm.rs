//! Reloads under load, on loopback: 50 slow HTTP and TFTP downloads in flight while the fleet is
//! edited 20 times (new artifact and loader bytes renamed over the old files, new scripts, and
//! one broken edit fixed by the next). Every download must end with exactly the bytes of one
//! version that was already written when it started: a transfer keeps the snapshot it started
//! with, and a reload never mixes two versions into one download.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use netboot_test_support::fleet_dir::Fleet;
use netboot_test_support::rng::XorShift;
use netboot_test_support::served::Served;
use netboot_test_support::stand_in;

const FLEET: &str = r#"
loaders { bios "loaders/undionly.kpxe" }
artifact "kernel" path="files/kernel"
artifact "initrd" path="files/initrd"
profile "install" {
    kernel "kernel"
    initrd "initrd"
    cmdline "console=ttyS0 edit=0"
}
host "node1" mac="52:54:00:00:00:11" profile="install"
default profile="install"
"#;

const HOST_SCRIPT: &str = "hosts/52-54-00-00-00-11.ipxe";
const EDITS: usize = 20;
/// The edit that breaks the fleet (an unknown profile); the next one repairs it.
const BROKEN_EDIT: usize = 10;
const HTTP_DOWNLOADS: usize = 25;
const TFTP_DOWNLOADS: usize = 25;
const KERNEL_LEN: usize = 3 << 20;
const LOADER_LEN: usize = 1 << 20;

/// Incompressible bytes that differ for every (file, version).
fn version_bytes(seed: u64, version: usize, len: usize) -> Vec<u8> {
    XorShift::new(seed ^ (version as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)).bytes(len)
}

const KERNEL_SEED: u64 = 0x6b65_726e;
const LOADER_SEED: u64 = 0x6c6f_6164;

/// One file's versions: their sha256s and when each was written (renamed into place).
struct Versions {
    sha: Vec<String>,
    written: Vec<Instant>,
}

impl Versions {
    fn write(&mut self, fleet: &Fleet, relative: &str, bytes: &[u8]) {
        self.sha.push(netboot_manifest::sha256_hex(bytes));
        // Fleet::write_file writes a new file and renames it over the old one.
        fleet.write_file(relative, bytes);
        self.written.push(Instant::now());
    }

    /// The versions already on disk at `t`: a download started then may serve any of them
    /// (the newest may not be loaded yet) and none written after.
    fn on_disk_at(&self, t: Instant) -> usize {
        self.written.iter().filter(|w| **w <= t).count()
    }
}

struct Download {
    what: &'static str,
    started: Instant,
    child: Child,
    body: PathBuf,
    headers: PathBuf,
}

fn start_download(what: &'static str, url: String, rate: &str, dir: &Path, n: usize) -> Download {
    let body = dir.join(format!("{what}-{n}.body"));
    let headers = dir.join(format!("{what}-{n}.headers"));
    let started = Instant::now();
    let child = Command::new("curl")
        .args(["--silent", "--show-error", "--fail", "--max-time", "90"])
        .args(["--limit-rate", rate])
        .arg("-D")
        .arg(&headers)
        .arg("-o")
        .arg(&body)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("curl is installed");
    Download {
        what,
        started,
        child,
        body,
        headers,
    }
}

#[test]
fn downloads_in_flight_keep_their_bytes_through_twenty_edits() {
    // Made up front, so an edit is only a write and a rename and 20 of them fit in a few
    // seconds, well inside every download.
    let kernels: Vec<Vec<u8>> = (0..=EDITS)
        .map(|v| stand_in::as_kernel(version_bytes(KERNEL_SEED, v, KERNEL_LEN)))
        .collect();
    let loaders: Vec<Vec<u8>> = (0..=EDITS)
        .map(|v| version_bytes(LOADER_SEED, v, LOADER_LEN))
        .collect();
    let fleet = Fleet::new(FLEET);
    let mut kernel = Versions {
        sha: Vec::new(),
        written: Vec::new(),
    };
    let mut loader = Versions {
        sha: Vec::new(),
        written: Vec::new(),
    };
    kernel.write(&fleet, "files/kernel", &kernels[0]);
    loader.write(&fleet, "loaders/undionly.kpxe", &loaders[0]);
    let server = Served::fleet(&fleet);
    assert_eq!(
        netboot_manifest::sha256_hex(&server.http_bytes("artifacts/kernel")),
        kernel.sha[0]
    );

    let out = tempfile::tempdir().unwrap();
    let mut downloads = Vec::new();
    let storm_started = Instant::now();
    let mut edit_times = Vec::new();
    // Downloads start spread over the first edits and last several seconds each (rate-limited),
    // so each one overlaps several reloads.
    for step in 0..=EDITS {
        for _ in 0..(HTTP_DOWNLOADS / 5).min(HTTP_DOWNLOADS.saturating_sub(step * 5)) {
            let n = downloads.len();
            downloads.push(start_download(
                "http",
                format!("http://127.0.0.1:{}/artifacts/kernel", server.http),
                "600k",
                out.path(),
                n,
            ));
        }
        for _ in 0..(TFTP_DOWNLOADS / 5).min(TFTP_DOWNLOADS.saturating_sub(step * 5)) {
            let n = downloads.len();
            downloads.push(start_download(
                "tftp",
                format!("tftp://127.0.0.1:{}/undionly.kpxe", server.tftp),
                "200k",
                out.path(),
                n,
            ));
        }
        if step == EDITS {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
        let edit = step + 1;
        kernel.write(&fleet, "files/kernel", &kernels[edit]);
        loader.write(&fleet, "loaders/undionly.kpxe", &loaders[edit]);
        let text = FLEET.replace("edit=0", &format!("edit={edit}"));
        if edit == BROKEN_EDIT {
            fleet.write(&text.replace(
                r#"profile="install"
default"#,
                r#"profile="no-such-profile"
default"#,
            ));
        } else {
            fleet.write(&text);
        }
        edit_times.push(Instant::now());
    }
    let edits_done = Instant::now();

    let mut report = Vec::new();
    let mut etag_mismatches = Vec::new();
    for (n, mut d) in downloads.into_iter().enumerate() {
        let status = d.child.wait().unwrap();
        let finished = Instant::now();
        let mut stderr = String::new();
        use std::io::Read;
        d.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(
            status.success(),
            "{} download {n} failed ({status}): {stderr}\nserver log:\n{}",
            d.what,
            server.log()
        );
        let bytes = std::fs::read(&d.body).unwrap();
        let sha = netboot_manifest::sha256_hex(&bytes);
        let versions = if d.what == "http" { &kernel } else { &loader };
        let version = versions
            .sha
            .iter()
            .position(|s| *s == sha)
            .unwrap_or_else(|| {
                panic!(
                    "{} download {n} ({} bytes) matches no version that was ever written",
                    d.what,
                    bytes.len()
                )
            });
        assert!(
            version < versions.on_disk_at(d.started),
            "{} download {n} got version {version}, written only after it started",
            d.what
        );
        if d.what == "http" {
            // The ETag is the sha256 the snapshot's manifest gives the route: it must name the
            // version served. (A same-size file renamed in between the compile's hash and the
            // snapshot's open once labelled the new bytes with the old sha256; the snapshot
            // now re-hashes what it opened when it changed during the compile.)
            let headers = std::fs::read_to_string(&d.headers).unwrap();
            if !headers.contains(&format!("ETag: \"{sha}\"")) {
                etag_mismatches.push(n);
            }
        }
        // The edit timestamps are taken after the whole edit is on disk; the download must
        // have been in flight across at least one of them to prove anything.
        let overlapped = edit_times
            .iter()
            .filter(|t| **t > d.started && **t < finished)
            .count();
        assert!(
            overlapped >= 1,
            "{} download {n} overlapped no edit: the test is too fast to prove anything",
            d.what
        );
        report.push(format!(
            "{} {n}: version {version}, {overlapped} edits during {:.1?}",
            d.what,
            finished - d.started
        ));
    }
    eprintln!(
        "edits took {:.1?}; downloads:\n{}",
        edits_done - storm_started,
        report.join("\n")
    );
    assert!(
        etag_mismatches.is_empty(),
        "HTTP downloads whose ETag named another version: {etag_mismatches:?}"
    );

    // The broken edit was refused with its diagnostic; the fix after it, and every edit after
    // that, went live: the last edit's script and bytes are what is served now.
    let log = server.log();
    assert!(
        log.contains("reload failed") && log.contains("no-such-profile"),
        "the broken edit was not reported:\n{log}"
    );
    server.wait_for_http_text(
        HOST_SCRIPT,
        |s| s.contains(&format!("edit={EDITS}")),
        Duration::from_secs(3),
    );
    assert_eq!(
        netboot_manifest::sha256_hex(&server.http_bytes("artifacts/kernel")),
        kernel.sha[EDITS]
    );
    assert_eq!(
        netboot_manifest::sha256_hex(&server.tftp_bytes("undionly.kpxe")),
        loader.sha[EDITS]
    );
}
