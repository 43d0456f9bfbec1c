//! `netboot init`: the starter fleet passes `check` when loaders are found, names the missing
//! ones with a TODO that `check` reports when none are, and never overwrites a fleet unasked.
//! Loaders are looked up under a fake root so the outputs do not depend on this machine;
//! golden files under tests/golden/cli/ (regenerate with `SNAPSHOTS=overwrite`).

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn netboot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netboot"))
        .args(args)
        .output()
        .expect("run netboot")
}

/// Compares `text`, with the temporary directory replaced by `TMP`, with a golden file.
fn golden(name: &str, text: &str, tmp: &Path) {
    let text = text.replace(tmp.to_str().unwrap(), "TMP");
    netboot_test_support::golden::check_text(&format!("cli/{name}"), &text);
}

fn touch(path: &Path) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, b"stand-in loader").unwrap();
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn found_loaders_make_a_fleet_that_check_passes() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = tmp.path().join("root");
    // Fedora's layout, including the arm64 package.
    touch(&fake.join("usr/share/ipxe/undionly.kpxe"));
    touch(&fake.join("usr/share/ipxe/ipxe-x86_64.efi"));
    touch(&fake.join("usr/share/ipxe/arm64-efi/ipxe.efi"));
    let dir = tmp.path().join("lab");
    let out = netboot(&[
        "init",
        dir.to_str().unwrap(),
        "--loader-root",
        fake.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    golden("init-found.txt", &text(&out), tmp.path());
    golden(
        "init-found-fleet.kdl",
        &fs::read_to_string(dir.join("fleet.kdl")).unwrap(),
        tmp.path(),
    );
    golden(
        "init-found-README.md",
        &fs::read_to_string(dir.join("README.md")).unwrap(),
        tmp.path(),
    );
    let check = netboot(&["check", dir.join("fleet.kdl").to_str().unwrap()]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn no_loaders_still_writes_a_fleet_whose_todo_check_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = tmp.path().join("empty");
    fs::create_dir_all(&fake).unwrap();
    let dir = tmp.path().join("lab");
    let out = netboot(&[
        "init",
        dir.to_str().unwrap(),
        "--loader-root",
        fake.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    golden("init-none.txt", &text(&out), tmp.path());
    assert!(text(&out).contains("apt-get install ipxe"));
    let fleet = fs::read_to_string(dir.join("fleet.kdl")).unwrap();
    assert!(fleet.contains("TODO"), "{fleet}");
    let check = netboot(&["check", dir.join("fleet.kdl").to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(1));
    let report = String::from_utf8_lossy(&check.stderr);
    assert!(report.contains("missing-file"), "{report}");
    assert!(report.contains("usr/lib/ipxe/undionly.kpxe"), "{report}");
}

#[test]
fn an_existing_fleet_is_kept_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = tmp.path().join("fleet.kdl");
    fs::write(&fleet, "// mine\n").unwrap();
    let out = netboot(&["init", tmp.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(fs::read_to_string(&fleet).unwrap(), "// mine\n");
    let out = netboot(&["init", tmp.path().to_str().unwrap(), "--force"]);
    assert!(out.status.success());
    assert!(fs::read_to_string(&fleet).unwrap().contains("loaders {"));
}
