//! Fuzz harness for the whole compiler, as `netboot check` runs it: arbitrary text as a fleet
//! file, compiled, every diagnostic rendered (human) and flattened (JSON).
//!
//! Shared by the `compile` fuzz target and `compiler/tests/fuzz_corpus.rs`. The fleet is
//! compiled in a scratch directory holding the example fleets' artifacts, templates and
//! loaders and the `files/` of `tests/broken/`, so the seeds' file references resolve and
//! mutations reach validation and generation, not just "file missing".
//!
//! Beyond "never panics": a failed compile reports at least one error, every label lies
//! inside the text it points into, and a successful compile's manifest is self-consistent
//! (every route it hands out is a file it lists, every generated file has its bytes) and
//! survives a JSON round trip.

use std::fs;
use std::path::{Path, PathBuf};

use netboot_compiler::{compile, Compiled, ServerOverrides};
use netboot_manifest::{sha256_hex, Manifest, Source};

/// The scratch directory and the overrides used for every compile.
pub struct Harness {
    dir: PathBuf,
    fleet: PathBuf,
    /// Remove `dir` on drop (not when the directory was handed in by `fuzz/run.sh`).
    owned: bool,
    overrides: ServerOverrides,
}

impl Drop for Harness {
    fn drop(&mut self) {
        if self.owned {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

/// The repository root: the harness is compiled as part of `fuzz/` or of `compiler/`, both
/// one level below it.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crate dir has a parent")
        .to_path_buf()
}

fn copy_tree(from: &Path, to: &Path) {
    let Ok(entries) = fs::read_dir(from) else {
        return;
    };
    fs::create_dir_all(to).expect("create scratch dir");
    for entry in entries.flatten() {
        let target = to.join(entry.file_name());
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if kind.is_file() {
            fs::copy(entry.path(), &target).expect("copy into scratch dir");
        }
    }
}

impl Harness {
    /// Uses `$NETBOOT_FUZZ_DIR` when set (the fuzz script makes and removes it), else a
    /// directory of its own under /dev/shm (or the temp dir) removed on drop.
    pub fn new() -> Harness {
        let (dir, owned) = match std::env::var_os("NETBOOT_FUZZ_DIR") {
            Some(d) => (PathBuf::from(d), false),
            None => {
                let shm = Path::new("/dev/shm");
                let base = if shm.is_dir() {
                    shm.to_path_buf()
                } else {
                    std::env::temp_dir()
                };
                let unique = format!(
                    "netboot-fuzz-compile-{}-{:?}",
                    std::process::id(),
                    std::thread::current().id()
                )
                .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "");
                (base.join(unique), true)
            }
        };
        let root = repo_root();
        for example in ["homelab", "installer", "multi-arch"] {
            for sub in ["artifacts", "templates", "loaders"] {
                copy_tree(
                    &root.join("examples").join(example).join(sub),
                    &dir.join(sub),
                );
            }
        }
        copy_tree(&root.join("tests/broken/files"), &dir.join("files"));
        fs::create_dir_all(&dir).expect("create scratch dir");
        let fleet = dir.join("fleet.kdl");
        Harness {
            dir,
            fleet,
            owned,
            overrides: ServerOverrides::default(),
        }
    }

    /// Compiles `data` (lossily decoded: the CLI would refuse invalid UTF-8 before parsing)
    /// and checks the outcome.
    pub fn run(&self, data: &[u8]) {
        let text = String::from_utf8_lossy(data);
        fs::write(&self.fleet, text.as_bytes()).expect("write fleet into scratch dir");
        match compile(&self.fleet, &self.overrides) {
            Ok(c) => {
                check_diagnostics(&c.warnings, &text);
                assert!(c.warnings.iter().all(|d| !d.is_error()));
                check_compiled(&c, &text);
            }
            Err(f) => {
                assert!(!f.is_io(), "the fleet file was written a moment ago");
                assert!(
                    f.diagnostics().iter().any(|d| d.is_error()),
                    "a failed compile without an error diagnostic"
                );
                check_diagnostics(f.diagnostics(), &text);
            }
        }
    }
}

fn check_diagnostics(diagnostics: &[netboot_compiler::Diagnostic], fleet: &str) {
    for d in diagnostics {
        assert!(
            !d.message.is_empty(),
            "diagnostic {} without a message",
            d.code
        );
        if let Some(src) = &d.source {
            for label in &d.labels {
                let end = label.span.offset.checked_add(label.span.len);
                assert!(
                    end.is_some_and(|e| e <= src.text.len()),
                    "{}: label {:?} outside its {}-byte source",
                    d.code,
                    label.span,
                    src.text.len()
                );
            }
            if src.path.file_name() == Some("fleet.kdl".as_ref()) {
                assert_eq!(src.text, fleet, "diagnostic points into other text");
            }
        }
        let _ = d.render();
        let _ = serde_json::to_string(&d.to_record()).expect("record serialises");
    }
}

fn check_compiled(c: &Compiled, fleet: &str) {
    let m: &Manifest = &c.manifest;
    assert_eq!(m.fleet_sha256, sha256_hex(fleet.as_bytes()));
    for (kind, answer) in &m.dhcp {
        assert!(
            m.files.contains_key(&answer.path),
            "DHCP answer for {kind} names {:?}, not a listed file",
            answer.path
        );
    }
    for (mac, host) in &m.hosts {
        assert!(
            m.files.contains_key(&host.script),
            "host {mac} script {:?} not listed",
            host.script
        );
    }
    for (route, entry) in &m.files {
        assert!(
            !route.starts_with('/'),
            "route {route:?} has a leading slash"
        );
        assert!(!route.is_empty() && !route.contains('\0'));
        if let Source::Generated { file } = &entry.source {
            let bytes = c
                .generated
                .get(file)
                .unwrap_or_else(|| panic!("generated file {file:?} has no bytes"));
            assert_eq!(bytes.len() as u64, entry.size, "size of {route}");
            assert_eq!(sha256_hex(bytes), entry.sha256, "sha256 of {route}");
        }
    }
    let back = Manifest::from_json(m.to_json().as_bytes()).expect("manifest reads back");
    assert_eq!(&back, m, "manifest JSON round trip");
}
