//! `netboot explain` on the example fleets: each output is compared with a golden file under
//! tests/golden/cli/ (regenerate with `SNAPSHOTS=overwrite cargo test --test cli_explain`, then
//! review the diff).

use std::path::PathBuf;
use std::process::Command;

use netboot_test_support::{examples, golden};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of the examples in a temporary directory (`examples/<name>/`), with Debian's loader
/// paths pointing at stand-ins, so the outputs do not depend on the iPXE package installed here.
fn examples() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for name in examples::names() {
        examples::copy(&name, &tmp.path().join("examples").join(&name));
    }
    tmp
}

/// A command case: `netboot ARGS` on a copy of the examples prints `tests/golden/cli/NAME` on
/// stdout, nothing on stderr, and exits with `code`.
fn case(name: &str, args: &[&str], code: i32) {
    let tmp = examples();
    snapbox::cmd::Command::new(env!("CARGO_BIN_EXE_netboot"))
        .args(args)
        .current_dir(tmp.path())
        .with_assert(golden::assert())
        .assert()
        .code(code)
        .stdout_eq(golden::file(&format!("cli/{name}")))
        .stderr_eq("");
}

#[test]
fn listed_bios_machine_gets_its_menu_with_every_item_followed() {
    case(
        "explain-multi-arch-old-box-bios.txt",
        &[
            "explain",
            "examples/multi-arch/fleet.kdl",
            "52:54:00:30:00:01",
            "--arch",
            "bios",
        ],
        0,
    );
}

#[test]
fn efi_platform_shows_the_efi_only_item_and_binary() {
    case(
        "explain-multi-arch-new-box-efi.txt",
        &[
            "explain",
            "examples/multi-arch/fleet.kdl",
            "52-54-00-30-00-02",
            "--arch",
            "efi-x64",
        ],
        0,
    );
}

#[test]
fn arm64_host_gets_its_own_loader_and_rendered_cmdline() {
    case(
        "explain-multi-arch-ampere-arm64.txt",
        &[
            "explain",
            "examples/multi-arch/fleet.kdl",
            "52:54:00:30:01:01",
            "--arch",
            "efi-arm64",
        ],
        0,
    );
}

#[test]
fn installer_host_as_json() {
    case(
        "explain-installer-db2-efi.json",
        &[
            "explain",
            "examples/installer/fleet.kdl",
            "52:54:00:20:01:02",
            "--arch",
            "efi-x64",
            "--format",
            "json",
            // An empty state directory: nothing reported, so db2 gets its installer.
            "--state-dir",
            "no-state-yet",
        ],
        0,
    );
}

#[test]
fn unlisted_machine_falls_to_the_default_over_http_boot() {
    case(
        "explain-installer-unknown-http.txt",
        &[
            "explain",
            "examples/installer/fleet.kdl",
            "52:54:00:99:99:99",
            "--arch",
            "http-x64",
        ],
        0,
    );
}

#[test]
fn no_loader_for_the_arch_means_nothing_and_exit_1() {
    case(
        "explain-homelab-arm64-nothing.txt",
        &[
            "explain",
            "examples/homelab/fleet.kdl",
            "52:54:00:99:00:01",
            "--arch",
            "efi-arm64",
        ],
        1,
    );
}

#[test]
fn frozen_manifest_explains_the_same_chain() {
    let dir = examples();
    let out = dir.path().join("build");
    let st = Command::new(env!("CARGO_BIN_EXE_netboot"))
        .args(["build", "examples/multi-arch/fleet.kdl", "-o"])
        .arg(&out)
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(st.success());
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_netboot"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let manifest = out.join("manifest.json");
    let frozen = run(&[
        "explain",
        "--manifest",
        manifest.to_str().unwrap(),
        "52:54:00:30:00:01",
        "--arch",
        "bios",
    ]);
    let live = run(&[
        "explain",
        "examples/multi-arch/fleet.kdl",
        "52:54:00:30:00:01",
        "--arch",
        "bios",
    ]);
    assert!(frozen.status.success());
    assert_eq!(
        String::from_utf8_lossy(&frozen.stdout),
        String::from_utf8_lossy(&live.stdout)
    );
}

#[test]
fn bad_mac_and_missing_fleet_are_usage_errors() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_netboot"))
            .args(args)
            .current_dir(root())
            .output()
            .unwrap()
    };
    let bad = run(&["explain", "examples/homelab/fleet.kdl", "52:54:00"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected a MAC address"));
    let missing = run(&["explain", "no/such/fleet.kdl", "52:54:00:00:00:01"]);
    assert_eq!(missing.status.code(), Some(2));
    let only_mac = run(&["explain", "52:54:00:00:00:01"]);
    assert_eq!(only_mac.status.code(), Some(2));
}

#[test]
fn without_a_server_address_the_placeholder_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = dir.path().join("fleet.kdl");
    std::fs::write(
        &fleet,
        "loaders { bios \"/usr/lib/ipxe/undionly.kpxe\"; }\nprofile \"local-disk\" { exit; }\ndefault profile=\"local-disk\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_netboot"))
        .arg("explain")
        .arg(&fleet)
        .arg("52:54:00:00:00:01")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("serve takes it from --interface or --address"),
        "{text}"
    );
    assert!(text.contains("http://0.0.0.0:8080/boot.ipxe"), "{text}");
    assert!(
        text.contains("exit: the firmware boots its next device"),
        "{text}"
    );
}

/// The Secure Boot fleet of the compiler's golden test (stand-in files beside it).
fn secure_boot_fleet() -> String {
    root()
        .join("compiler/tests/secure_boot/fleet.kdl")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn a_secure_boot_machine_is_followed_through_shim_grub_and_its_config() {
    let fleet = secure_boot_fleet();
    case(
        "explain-secure-boot-web1-efi.txt",
        &["explain", &fleet, "52:54:00:00:00:01", "--arch", "efi-x64"],
        0,
    );
}

#[test]
fn an_unknown_machine_under_a_secure_boot_default_gets_grubs_default_menu() {
    let fleet = secure_boot_fleet();
    case(
        "explain-secure-boot-unknown-efi.txt",
        &["explain", &fleet, "52:54:00:00:99:99", "--arch", "efi-x64"],
        0,
    );
}

#[test]
fn a_machine_switched_off_secure_boot_keeps_ipxe_in_the_same_fleet() {
    let fleet = secure_boot_fleet();
    case(
        "explain-secure-boot-web2-efi.txt",
        &["explain", &fleet, "52:54:00:00:00:02", "--arch", "efi-x64"],
        0,
    );
}
