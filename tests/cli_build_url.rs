//! `netboot build` with `url=` artifacts: downloads into the content-addressed cache from an
//! HTTP server on loopback (never the internet), verification, `--offline`, and the served
//! result (cached artifacts become `artifacts/<name>` routes the scripts fetch locally).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use netboot_manifest::{sha256_hex, Manifest, Source};
use netboot_test_support::origin::Origin;

/// A stand-in kernel: the x86 boot protocol's `HdrS` at 0x202, which the build checks for.
const KERNEL: &[u8] = &stand_in_kernel();

const fn stand_in_kernel() -> [u8; 0x240] {
    let mut b = [0u8; 0x240];
    let marker = b"a kernel fetched over http\n";
    let mut i = 0;
    while i < marker.len() {
        b[i] = marker[i];
        i += 1;
    }
    b[0x202] = b'H';
    b[0x203] = b'd';
    b[0x204] = b'r';
    b[0x205] = b'S';
    b
}

fn netboot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netboot"))
        .args(args)
        .env_remove("XDG_CACHE_HOME")
        .output()
        .expect("run netboot")
}

/// A fleet whose only profile boots the kernel at `url`; the artifact is on line 2.
fn fleet(dir: &Path, url: &str, sha256: &str) -> PathBuf {
    let path = dir.join("fleet.kdl");
    fs::write(
        &path,
        format!(
            "server {{ address \"10.0.0.1\"; }}\n\
             artifact \"vmlinuz\" url=\"{url}\" sha256=\"{sha256}\"\n\
             profile \"p\" {{ kernel \"vmlinuz\"; cmdline \"console=ttyS0\"; }}\n\
             default profile=\"p\"\n"
        ),
    )
    .unwrap();
    path
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn manifest(out: &Path) -> Manifest {
    Manifest::from_json(&fs::read(out.join("manifest.json")).unwrap()).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_url_artifact_is_downloaded_verified_and_served_locally() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let out = dir.path().join("out");
    let server = Origin::serve("200 OK", KERNEL);
    let sha = sha256_hex(KERNEL);
    let fleet = fleet(dir.path(), &server.url, &sha);

    let run = netboot(&["build", s(&fleet), "-o", s(&out), "--cache", s(&cache)]);
    assert!(run.status.success(), "{}", stderr(&run));
    let cached = cache.join("sha256").join(&sha);
    assert_eq!(fs::read(&cached).unwrap(), KERNEL);
    assert_eq!(server.hits(), 1);

    // Served like a path artifact, from the cache, and the script fetches it from us.
    let m = manifest(&out);
    let entry = &m.files["artifacts/vmlinuz"];
    assert_eq!(entry.sha256, sha);
    assert_eq!(entry.size, KERNEL.len() as u64);
    assert_eq!(
        entry.source,
        Source::Artifact {
            path: cached.to_str().unwrap().to_string()
        }
    );
    let script = fs::read_to_string(out.join("profiles/p.ipxe")).unwrap();
    assert!(script.contains("../artifacts/vmlinuz"), "{script}");
    assert!(!script.contains(&server.url), "{script}");
    let snapshot = netboot_runtime::Snapshot::load(&out.join("manifest.json")).unwrap();
    assert!(snapshot.broken().is_empty(), "{:?}", snapshot.broken());

    // A second build uses the cache: no new request, even --offline.
    let run = netboot(&["build", s(&fleet), "-o", s(&out), "--cache", s(&cache)]);
    assert!(run.status.success(), "{}", stderr(&run));
    let run = netboot(&[
        "build",
        s(&fleet),
        "-o",
        s(&out),
        "--cache",
        s(&cache),
        "--offline",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(server.hits(), 1);
}

#[test]
fn offline_without_the_file_names_the_artifact_line() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let out = dir.path().join("out");
    let server = Origin::serve("200 OK", KERNEL);
    let fleet = fleet(dir.path(), &server.url, &sha256_hex(KERNEL));
    let run = netboot(&[
        "build",
        s(&fleet),
        "-o",
        s(&out),
        "--cache",
        s(&cache),
        "--offline",
    ]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let err = stderr(&run);
    assert!(err.contains("fleet::not-cached"), "{err}");
    assert!(
        err.contains("fleet.kdl:2:"),
        "points at the artifact's line: {err}"
    );
    assert!(err.contains("--offline"), "{err}");
    assert_eq!(server.hits(), 0, "offline means no request");
    assert!(!out.exists(), "nothing is written");
}

#[test]
fn a_mismatch_refuses_the_build_and_keeps_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let out = dir.path().join("out");
    let server = Origin::serve("200 OK", b"someone swapped the file\n");
    let want = sha256_hex(KERNEL);
    let fleet = fleet(dir.path(), &server.url, &want);
    let run = netboot(&["build", s(&fleet), "-o", s(&out), "--cache", s(&cache)]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let err = stderr(&run);
    assert!(err.contains("fleet::sha256-mismatch"), "{err}");
    assert!(err.contains("fleet.kdl:2:"), "{err}");
    assert!(
        err.contains(&sha256_hex(b"someone swapped the file\n")),
        "names what arrived: {err}"
    );
    assert!(!cache.join("sha256").join(&want).exists());
    assert_eq!(
        fs::read_dir(cache.join("tmp")).unwrap().count(),
        0,
        "no partial download is left"
    );
    assert!(!out.exists());
}

#[test]
fn a_failed_download_is_reported_at_the_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let server = Origin::serve("404 Not Found", b"");
    let fleet = fleet(dir.path(), &server.url, &sha256_hex(KERNEL));
    let run = netboot(&[
        "build",
        s(&fleet),
        "-o",
        s(&dir.path().join("out")),
        "--cache",
        s(&dir.path().join("cache")),
    ]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let err = stderr(&run);
    assert!(
        err.contains("fleet::download-failed") && err.contains("404"),
        "{err}"
    );
    assert!(err.contains("fleet.kdl:2:"), "{err}");
}

#[test]
fn a_download_that_is_not_a_kernel_is_reported_at_the_artifact() {
    // What a mirror's error page, served with 200 and pinned by mistake, looks like.
    const PAGE: &[u8] = b"<html><body>Not here</body></html>\n";
    let dir = tempfile::tempdir().unwrap();
    let server = Origin::serve("200 OK", PAGE);
    let fleet = fleet(dir.path(), &server.url, &sha256_hex(PAGE));
    let build = |extra: &[&str]| {
        let out = dir.path().join("out");
        let cache = dir.path().join("cache");
        let mut args = vec!["build", s(&fleet), "-o", s(&out), "--cache", s(&cache)];
        args.extend_from_slice(extra);
        netboot(&args)
    };
    // Not downloaded, there is nothing to look at: the machine fetches it from its URL.
    let offline = build(&["--no-download"]);
    assert!(offline.status.success(), "{}", stderr(&offline));
    let run = build(&[]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let err = stderr(&run);
    assert!(
        err.contains("fleet::not-a-kernel") && err.contains("this is text"),
        "{err}"
    );
    assert!(err.contains("fleet.kdl:2:"), "{err}");
}

#[test]
fn without_the_cache_a_url_artifact_boots_from_its_url() {
    // `check` (and any compile not given the cache) keeps the language's first meaning.
    let dir = tempfile::tempdir().unwrap();
    let server = Origin::serve("200 OK", KERNEL);
    let fleet = fleet(dir.path(), &server.url, &sha256_hex(KERNEL));
    let compiled = netboot_compiler::compile(&fleet, &Default::default()).unwrap();
    let script = String::from_utf8(compiled.generated["profiles/p.ipxe"].clone()).unwrap();
    assert!(script.contains(&server.url), "{script}");
    assert!(!compiled.manifest.files.contains_key("artifacts/vmlinuz"));
    assert_eq!(server.hits(), 0);
}

#[test]
fn no_download_leaves_uncached_artifacts_to_their_urls() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let server = Origin::serve("200 OK", KERNEL);
    let fleet = fleet(dir.path(), &server.url, &sha256_hex(KERNEL));
    let run = netboot(&[
        "build",
        s(&fleet),
        "-o",
        s(&out),
        "--cache",
        s(&dir.path().join("cache")),
        "--no-download",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(server.hits(), 0);
    let script = fs::read_to_string(out.join("profiles/p.ipxe")).unwrap();
    assert!(script.contains(&server.url), "{script}");
    assert!(!manifest(&out).files.contains_key("artifacts/vmlinuz"));
}
