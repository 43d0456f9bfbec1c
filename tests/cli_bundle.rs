//! `netboot build --bundle DIR`: the content-addressed static tree an HTTP origin serves as it
//! is, pinned in tests/golden/bundle/ (scripts that fetch from the fleet's `artifact-origin`,
//! the manifest, the artifacts at `sha256/<hex>`), byte-identical wherever it is built, loaded
//! by the runtime, and served by a real nginx.
//!
//! Regenerate the golden tree after an intended change with
//! `SNAPSHOTS=overwrite cargo test --test cli_bundle`, then review the diff.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use netboot_manifest::sha256_hex;
use netboot_runtime::Snapshot;
use netboot_test_support::dir_tree::read_tree;
use netboot_test_support::fleet_dir::Fleet;
use netboot_test_support::nginx::Nginx;
use netboot_test_support::{golden, programs};

/// Two loaders (one content twice: a bundle keeps it once), a kernel and an initrd fetched
/// from the origin, an ISO fetched from it too, and a chain that stays where it is.
const FLEET: &str = r#"artifact-origin "http://origin.example/netboot/"
loaders {
    bios "loaders/undionly.kpxe"
    efi-x64 "loaders/ipxe.efi"
}
artifact "kernel" path="files/kernel"
artifact "initrd" path="files/initrd"
artifact "initrd-copy" path="files/initrd-copy"
profile "linux" {
    kernel "kernel"
    initrd "initrd" "initrd-copy"
    cmdline "console=ttyS0 quiet"
}
profile "xyz" { chain "https://boot.netboot.xyz" }
menu "main" {
    item "linux" "Linux"
    item "xyz" "netboot.xyz"
}
host "a" mac="52:54:00:00:00:01" profile="linux"
default menu="main"
"#;

fn fleet() -> Fleet {
    let fleet = Fleet::new(FLEET);
    fleet.write_file(
        "loaders/ipxe.efi",
        &netboot_test_support::stand_in::efi_x64("ipxe.efi"),
    );
    // The same bytes under two names: one object in the bundle.
    fleet.write_file("files/initrd-copy", b"initrd v1\n");
    fleet
}

fn netboot(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netboot"))
        .args(args)
        .output()
        .expect("run netboot")
}

fn bundle(fleet: &Path, dir: &Path) -> Output {
    netboot(&[
        "build".as_ref(),
        fleet.as_os_str(),
        "--bundle".as_ref(),
        dir.as_os_str(),
    ])
}

#[track_caller]
fn bundle_ok(fleet: &Path, dir: &Path) {
    let o = bundle(fleet, dir);
    assert!(
        o.status.success(),
        "build --bundle failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn a_bundle_holds_scripts_manifest_and_artifacts_by_content() {
    let fleet = fleet();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bundle");
    bundle_ok(&fleet.path(), &out);
    let tree = read_tree(&out);
    let diffs = golden::compare_tree("bundle", &tree);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));

    // Every object is named for its content, and each distinct content is there once.
    let objects: Vec<_> = tree.keys().filter(|k| k.starts_with("sha256/")).collect();
    assert_eq!(
        objects.len(),
        4,
        "two loaders, a kernel, one initrd: {objects:?}"
    );
    for name in objects {
        assert_eq!(name.as_str(), format!("sha256/{}", sha256_hex(&tree[name])));
    }

    // The same input elsewhere gives the same bytes; building again over a bundle is allowed.
    let elsewhere = tempfile::tempdir().unwrap();
    let copy = elsewhere.path().join("deep/er/b");
    bundle_ok(&fleet.path(), &copy);
    assert_eq!(read_tree(&copy), tree);
    bundle_ok(&fleet.path(), &out);
    assert_eq!(read_tree(&out), tree);
}

#[test]
fn the_runtime_serves_a_bundle_moved_away_from_the_fleet() {
    let fleet = fleet();
    let tmp = tempfile::tempdir().unwrap();
    let built = tmp.path().join("bundle");
    bundle_ok(&fleet.path(), &built);
    let moved = tmp.path().join("moved");
    std::fs::rename(&built, &moved).unwrap();
    drop(fleet); // the fleet and its files are gone: the bundle needs neither

    let snap = Snapshot::load(&moved.join("manifest.json"))
        .unwrap_or_else(|e| panic!("the runtime refuses the bundle: {e}"));
    assert!(snap
        .open("artifacts/kernel", netboot_manifest::Protocol::Http)
        .is_some());
    assert!(snap
        .open("undionly.kpxe", netboot_manifest::Protocol::Tftp)
        .is_some());
}

#[test]
fn a_bundle_never_replaces_a_directory_that_is_not_one() {
    let fleet = fleet();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("site");
    std::fs::create_dir_all(out.join("sha256")).unwrap();
    std::fs::write(out.join("index.html"), "someone's site").unwrap();
    let o = bundle(&fleet.path(), &out);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(out.join("index.html")).unwrap(),
        "someone's site"
    );

    // A file in sha256/ that the bundle's manifest does not list is someone's too.
    let b = tmp.path().join("b");
    bundle_ok(&fleet.path(), &b);
    let stray = b.join(format!("sha256/{}", sha256_hex(b"stray")));
    std::fs::write(&stray, "stray").unwrap();
    let o = bundle(&fleet.path(), &b);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stray.exists());
}

#[test]
fn nginx_serves_every_file_of_a_bundle_as_it_is() {
    let test = "nginx_serves_every_file_of_a_bundle_as_it_is";
    if programs::installed("nginx", test).is_none() || programs::installed("curl", test).is_none() {
        return;
    }
    let fleet = fleet();
    let tmp = tempfile::tempdir().unwrap();
    // nginx runs as `nobody` when the test runs as root: it must be able to reach the tree.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = tmp.path().join("bundle");
    bundle_ok(&fleet.path(), &out);
    let tree = read_tree(&out);
    let nginx = Nginx::serve_loopback(&out);
    for (path, bytes) in &tree {
        let url = format!("{}/{path}", nginx.url);
        let got = Command::new("curl")
            .args(["--silent", "--show-error", "--fail", &url])
            .output()
            .expect("run curl");
        assert!(
            got.status.success(),
            "GET {url}: {}",
            String::from_utf8_lossy(&got.stderr)
        );
        assert_eq!(sha256_hex(&got.stdout), sha256_hex(bytes), "GET {url}");
        if let Some(hex) = path.strip_prefix("sha256/") {
            assert_eq!(sha256_hex(&got.stdout), hex, "GET {url}");
        }
    }
    let log = nginx.access_log();
    assert_eq!(
        log.lines()
            .filter(|l| l.starts_with("GET /") && l.contains(" 200 "))
            .count(),
        tree.len(),
        "one 200 per file:\n{log}"
    );
}
