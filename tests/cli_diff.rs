//! `netboot diff`: fleets, frozen manifests and git revisions compared by what they serve.
//! Outputs are compared with golden files under tests/golden/cli/ (regenerate with
//! `UPDATE_GOLDEN=1 cargo test --test cli_diff`, then review the diff).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn netboot(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netboot"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run netboot")
}

fn golden(name: &str, out: &Output, want_code: i32) {
    let stdout = String::from_utf8(out.stdout.clone()).expect("utf-8 output");
    assert_eq!(
        out.status.code(),
        Some(want_code),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = root().join("tests/golden/cli").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::write(&path, &stdout).unwrap();
        return;
    }
    let want = fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    assert_eq!(stdout, want, "output differs from {}", path.display());
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A copy of an example whose Debian loader paths point at stand-ins in the copy, so the
/// outputs do not depend on the iPXE package installed here.
fn example_copy(name: &str, to: &Path) {
    copy_dir(&root().join("examples").join(name), to);
    let fleet = to.join("fleet.kdl");
    let text = fs::read_to_string(&fleet).unwrap();
    fs::write(&fleet, text.replace("\"/usr/lib/ipxe/", "\"debian-ipxe/")).unwrap();
    fs::create_dir_all(to.join("debian-ipxe")).unwrap();
    for loader in ["undionly.kpxe", "ipxe.efi"] {
        fs::write(to.join("debian-ipxe").join(loader), "stand-in\n").unwrap();
    }
}

/// The homelab example, then an edit that touches each kind of change.
fn homelab_pair(dir: &Path) {
    example_copy("homelab", &dir.join("old"));
    example_copy("homelab", &dir.join("new"));
    let fleet = dir.join("new/fleet.kdl");
    let text = fs::read_to_string(&fleet)
        .unwrap()
        .replace("priority=low vga=788", "priority=low")
        .replace(
            r#"host "router" mac="52:54:00:10:00:02" profile="local-disk""#,
            r#"host "router" mac="52:54:00:10:00:02" profile="memtest""#,
        )
        .replace(
            r#"host "nas" mac="52:54:00:10:00:01" profile="local-disk""#,
            "",
        )
        .replace("http-port 8080", "http-port 8081")
        + "host \"lab\" mac=\"52:54:00:10:00:30\" profile=\"debian-install\"\n";
    fs::write(&fleet, text).unwrap();
}

#[test]
fn a_fleet_against_itself_has_no_differences() {
    let dir = tempfile::tempdir().unwrap();
    example_copy("installer", &dir.path().join("installer"));
    let out = netboot(
        dir.path(),
        &["diff", "installer/fleet.kdl", "installer/fleet.kdl"],
    );
    golden("diff-same.txt", &out, 0);
}

#[test]
fn edits_show_per_machine_changes_files_and_server() {
    let dir = tempfile::tempdir().unwrap();
    homelab_pair(dir.path());
    let out = netboot(dir.path(), &["diff", "old/fleet.kdl", "new/fleet.kdl"]);
    golden("diff-homelab-edit.txt", &out, 1);
    let json = netboot(
        dir.path(),
        &["diff", "old/fleet.kdl", "new/fleet.kdl", "--format", "json"],
    );
    golden("diff-homelab-edit.json", &json, 1);
}

#[test]
fn a_frozen_build_equals_its_fleet() {
    let dir = tempfile::tempdir().unwrap();
    example_copy("installer", &dir.path().join("installer"));
    let build = dir.path().join("build");
    let st = Command::new(env!("CARGO_BIN_EXE_netboot"))
        .args(["build", "installer/fleet.kdl", "-o"])
        .arg(&build)
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(st.success());
    let out = netboot(
        dir.path(),
        &["diff", "build/manifest.json", "installer/fleet.kdl"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn git_revision_against_the_working_tree() {
    let dir = tempfile::tempdir().unwrap();
    homelab_pair(dir.path());
    let repo = dir.path().join("old");
    let git = |args: &[&str]| {
        let st = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
            .args(args)
            .current_dir(&repo)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&["add", "fleet.kdl"]);
    git(&["commit", "-q", "-m", "fleet"]);
    fs::copy(dir.path().join("new/fleet.kdl"), repo.join("fleet.kdl")).unwrap();
    let out = netboot(&repo, &["diff", "git:HEAD:fleet.kdl", "fleet.kdl"]);
    golden("diff-git-head.txt", &out, 1);
    // The revision's copy written beside the fleet is gone again.
    let left: Vec<_> = fs::read_dir(&repo)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".kdl") && n != "fleet.kdl")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let bad = netboot(&repo, &["diff", "git:NOSUCHREV:fleet.kdl", "fleet.kdl"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("git show"));
}

/// `git:REV:path` once wrote the revision's fleet into the user's working tree (and failed
/// where that tree was not writable); it is compiled in memory now. The tree here is
/// read-only, and as root (CI) the diff runs as `nobody` through setpriv, since root writes
/// anywhere.
#[test]
fn a_git_revision_needs_no_write_access_to_the_working_tree() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let repo = dir.path().join("fleet");
    example_copy("installer", &repo);
    let git = |args: &[&str]| {
        let st = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
            .args(args)
            .current_dir(&repo)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "fleet"]);
    let chmod = |mode: &str| {
        let st = Command::new("chmod")
            .args(["-R", mode])
            .arg(&repo)
            .status()
            .unwrap();
        assert!(st.success());
    };
    chmod("a=rX");
    let as_root = fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    let mut cmd = if as_root.unwrap_or(false) {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
        c.arg(env!("CARGO_BIN_EXE_netboot"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_netboot"))
    };
    let out = cmd
        .args(["diff", "git:HEAD:fleet.kdl", "fleet.kdl"])
        .current_dir(&repo)
        // The repository belongs to another user than `nobody`; git refuses such a
        // repository unless told it is safe.
        .env("GIT_CONFIG_COUNT", "1")
        .env("GIT_CONFIG_KEY_0", "safe.directory")
        .env("GIT_CONFIG_VALUE_0", "*")
        .output()
        .unwrap();
    chmod("u+w");
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("no differences"));
}

#[test]
fn malformed_and_missing_sides_are_usage_errors() {
    let out = netboot(
        &root(),
        &["diff", "git:HEAD", "examples/installer/fleet.kdl"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("git:REV:path"));
    let out = netboot(
        &root(),
        &["diff", "nope.kdl", "examples/installer/fleet.kdl"],
    );
    assert_eq!(out.status.code(), Some(2));
}
