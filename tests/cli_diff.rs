//! `netboot diff`: fleets, frozen manifests and git revisions compared by what they serve.
//! Outputs are compared with golden files under tests/golden/cli/ (regenerate with
//! `SNAPSHOTS=overwrite cargo test --test cli_diff`, then review the diff).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use netboot_test_support::{examples, golden, stand_in};

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

/// A command case: `netboot ARGS` run in `dir` prints `tests/golden/cli/NAME` on stdout,
/// nothing on stderr, and exits with `code`.
fn case(name: &str, dir: &Path, args: &[&str], code: i32) {
    snapbox::cmd::Command::new(env!("CARGO_BIN_EXE_netboot"))
        .args(args)
        .current_dir(dir)
        .with_assert(golden::assert())
        .assert()
        .code(code)
        .stdout_eq(golden::file(&format!("cli/{name}")))
        .stderr_eq("");
}

/// The homelab example, then an edit that touches each kind of change.
fn homelab_pair(dir: &Path) {
    examples::copy("homelab", &dir.join("old"));
    examples::copy("homelab", &dir.join("new"));
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
    examples::copy("installer", &dir.path().join("installer"));
    case(
        "diff-same.txt",
        dir.path(),
        &["diff", "installer/fleet.kdl", "installer/fleet.kdl"],
        0,
    );
}

#[test]
fn edits_show_per_machine_changes_files_and_server() {
    let dir = tempfile::tempdir().unwrap();
    homelab_pair(dir.path());
    case(
        "diff-homelab-edit.txt",
        dir.path(),
        &["diff", "old/fleet.kdl", "new/fleet.kdl"],
        1,
    );
    case(
        "diff-homelab-edit.json",
        dir.path(),
        &["diff", "old/fleet.kdl", "new/fleet.kdl", "--format", "json"],
        1,
    );
}

#[test]
fn a_frozen_build_equals_its_fleet() {
    let dir = tempfile::tempdir().unwrap();
    examples::copy("installer", &dir.path().join("installer"));
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

/// Makes `repo` a git repository with `path` committed.
fn commit(repo: &Path, path: &str) {
    for args in [
        &["init", "-q"][..],
        &["add", path],
        &["commit", "-q", "-m", "fleet"],
    ] {
        let st = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
            .args(args)
            .current_dir(repo)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
    }
}

#[test]
fn git_revision_against_the_working_tree() {
    let dir = tempfile::tempdir().unwrap();
    homelab_pair(dir.path());
    let repo = dir.path().join("old");
    commit(&repo, "fleet.kdl");
    fs::copy(dir.path().join("new/fleet.kdl"), repo.join("fleet.kdl")).unwrap();
    case(
        "diff-git-head.txt",
        &repo,
        &["diff", "git:HEAD:fleet.kdl", "fleet.kdl"],
        1,
    );
    // Nothing is written beside the fleet (the revision is compiled in memory).
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
    examples::copy("installer", &repo);
    commit(&repo, ".");
    let chmod = |mode: &str| {
        let st = Command::new("chmod")
            .args(["-R", mode])
            .arg(&repo)
            .status()
            .unwrap();
        assert!(st.success());
    };
    chmod("a=rX");
    let mut cmd = netboot_test_support::unprivileged::netboot();
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

#[test]
fn machines_moving_between_ipxe_and_secure_boot_show_their_chain() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = root().join("compiler/tests/secure_boot");
    for side in ["old", "new"] {
        netboot_test_support::dir_tree::copy_dir(&fleet, &dir.path().join(side));
    }
    let new = dir.path().join("new/fleet.kdl");
    let text = fs::read_to_string(&new)
        .unwrap()
        .replace(r#" secure-boot=#false"#, "")
        .replace(
            r#"menu="main" secure-boot=#true"#,
            r#"menu="main" secure-boot=#false"#,
        );
    fs::write(&new, text).unwrap();
    case(
        "diff-secure-boot-chains.txt",
        dir.path(),
        &["diff", "old/fleet.kdl", "new/fleet.kdl"],
        1,
    );
}

/// A lifecycle fleet before and after: web1's generation bumped (it reinstalls), web2 given
/// another `then`, db1 given a lifecycle where it had a plain profile.
#[test]
fn a_generation_bump_says_the_machine_will_reinstall() {
    let old = r#"
server { address "10.0.0.1"; }
artifact "kernel" path="kernel"
profile "debian-auto" { kernel "kernel"; cmdline "done={{ install_done_url }}"; }
profile "local-disk" { exit; }
profile "rescue" { kernel "kernel"; }
group "web" generation=3 {
    install "debian-auto" then="local-disk"
    host "web1" mac="52:54:00:00:00:11"
    host "web2" mac="52:54:00:00:00:12"
}
host "db1" mac="52:54:00:00:00:21" profile="local-disk"
"#;
    let new = old
        .replace(
            r#"host "web1" mac="52:54:00:00:00:11""#,
            r#"host "web1" mac="52:54:00:00:00:11" generation=4"#,
        )
        .replace(
            r#"host "web2" mac="52:54:00:00:00:12""#,
            r#"host "web2" mac="52:54:00:00:00:12" { install "debian-auto" then="rescue"; }"#,
        )
        .replace(
            r#"host "db1" mac="52:54:00:00:00:21" profile="local-disk""#,
            r#"host "db1" mac="52:54:00:00:00:21" { install "debian-auto" then="local-disk"; }"#,
        );
    let dir = tempfile::tempdir().unwrap();
    for (side, text) in [("old", old.to_string()), ("new", new)] {
        fs::create_dir_all(dir.path().join(side)).unwrap();
        fs::write(
            dir.path().join(side).join("kernel"),
            stand_in::kernel("kernel\n"),
        )
        .unwrap();
        fs::write(dir.path().join(side).join("fleet.kdl"), text).unwrap();
    }
    case(
        "diff-lifecycle.txt",
        dir.path(),
        &["diff", "old/fleet.kdl", "new/fleet.kdl"],
        1,
    );
    case(
        "diff-lifecycle.json",
        dir.path(),
        &["diff", "old/fleet.kdl", "new/fleet.kdl", "--format", "json"],
        1,
    );
}
