//! `netboot completions` and `netboot man`: generated from clap, so these check that every
//! command is present and the scripts parse; the explain page is a golden file under
//! tests/golden/cli/ (regenerate with `SNAPSHOTS=overwrite`).

use netboot_test_support::golden;
use std::io::Write;
use std::process::{Command, Output, Stdio};

const COMMANDS: &[&str] = &[
    "build",
    "check",
    "serve",
    "explain",
    "diff",
    "init",
    "doctor",
    "dhcp-config",
];

fn netboot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netboot"))
        .args(args)
        .output()
        .expect("run netboot")
}

#[test]
fn each_shell_completes_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let out = netboot(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        for cmd in COMMANDS {
            assert!(script.contains(cmd), "{shell} completion lacks {cmd}");
        }
        assert!(
            script.contains("efi-arm64"),
            "{shell}: --arch values missing"
        );
    }
}

#[test]
fn bash_completion_is_valid_bash() {
    let out = netboot(&["completions", "bash"]);
    let mut bash = Command::new("bash")
        .arg("-n")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash");
    bash.stdin.take().unwrap().write_all(&out.stdout).unwrap();
    let done = bash.wait_with_output().unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
}

#[test]
fn man_page_lists_every_command() {
    let out = netboot(&["man"]);
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH netboot 1"), "{page}");
    for cmd in COMMANDS {
        // roff escapes every hyphen: `netboot\-dhcp\-config(1)`.
        let roff = cmd.replace('-', "\\-");
        assert!(page.contains(&format!("netboot\\-{roff}(1)")), "{cmd}");
    }
}

#[test]
fn explain_has_its_own_page() {
    snapbox::cmd::Command::new(env!("CARGO_BIN_EXE_netboot"))
        .args(["man", "explain"])
        .with_assert(golden::assert())
        .assert()
        .code(0)
        .stdout_eq(golden::file("cli/man-explain.1"))
        .stderr_eq("");
}

#[test]
fn unknown_command_and_shell_are_usage_errors() {
    assert_eq!(netboot(&["man", "nope"]).status.code(), Some(2));
    assert_eq!(netboot(&["completions", "cmd.exe"]).status.code(), Some(2));
}
