//! `netboot dhcp-config`: the snippet for each DHCP server, for a fleet with BIOS, UEFI x64
//! (and so UEFI HTTP Boot) loaders and a named machine, compared with golden files under
//! tests/golden/cli/ (regenerate with `SNAPSHOTS=overwrite cargo test --test cli_dhcp_config`,
//! then review the diff).
//!
//! The ignored tests (run by .ci/run, which installs the daemons) load each snippet, wrapped
//! into the smallest complete configuration, into the real server's own config checker:
//! `dnsmasq --test`, `dhcpd -t`, `kea-dhcp4 -t`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use netboot_test_support::fleet_dir::Fleet;
use netboot_test_support::golden;

const FLEET: &str = r#"
server {
    address "192.168.1.10"
    http-port 8080
}
loaders {
    bios "loaders/undionly.kpxe"
    efi-x64 "loaders/ipxe.efi"
}
artifact "kernel" path="files/kernel"
artifact "initrd" path="files/initrd"
profile "linux" {
    kernel "kernel"
    initrd "initrd"
    cmdline "console=ttyS0"
}
profile "local-disk" { exit }
host "desk" mac="52:54:00:10:00:10" profile="linux"
default profile="local-disk"
"#;

fn fleet(text: &str) -> Fleet {
    let fleet = Fleet::new(text);
    fleet.write_file("loaders/ipxe.efi", b"stand-in loader\n");
    fleet
}

fn netboot(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netboot"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run netboot")
}

/// `netboot dhcp-config fleet.kdl --for TARGET` prints `tests/golden/cli/NAME`.
fn case(target: &str, name: &str) {
    let fleet = fleet(FLEET);
    snapbox::cmd::Command::new(env!("CARGO_BIN_EXE_netboot"))
        .args(["dhcp-config", "fleet.kdl", "--for", target])
        .current_dir(fleet.dir())
        .with_assert(golden::assert())
        .assert()
        .code(0)
        .stdout_eq(golden::file(&format!("cli/{name}")))
        .stderr_eq("");
}

#[test]
fn dnsmasq_snippet() {
    case("dnsmasq", "dhcp-config-dnsmasq.conf");
}

#[test]
fn isc_dhcpd_snippet() {
    case("isc", "dhcp-config-isc.conf");
}

#[test]
fn kea_snippet() {
    case("kea", "dhcp-config-kea.json");
}

#[test]
fn routeros_snippet() {
    case("routeros", "dhcp-config-routeros.rsc");
}

#[test]
fn a_fleet_without_an_address_needs_one_on_the_command_line() {
    let fleet = fleet(&FLEET.replace("address \"192.168.1.10\"", ""));
    let out = netboot(
        fleet.dir(),
        &["dhcp-config", "fleet.kdl", "--for", "dnsmasq"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the fleet names no address"), "{err}");
    assert!(err.contains("--address"), "{err}");

    let out = netboot(
        fleet.dir(),
        &[
            "dhcp-config",
            "fleet.kdl",
            "--for",
            "dnsmasq",
            "--address",
            "10.9.8.7",
            "--http-port",
            "81",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("dhcp-boot=tag:netboot-bios,undionly.kpxe,10.9.8.7,10.9.8.7\n"),
        "{text}"
    );
    assert!(text.contains("http://10.9.8.7:81/boot.ipxe\n"), "{text}");
}

#[test]
fn a_frozen_build_exports_the_same_as_its_fleet() {
    let fleet = fleet(FLEET);
    let out = fleet.build();
    let manifest = out.join("manifest.json");
    for target in ["dnsmasq", "isc", "kea", "routeros"] {
        let from_fleet = netboot(fleet.dir(), &["dhcp-config", "fleet.kdl", "--for", target]);
        let from_build = netboot(
            fleet.dir(),
            &["dhcp-config", manifest.to_str().unwrap(), "--for", target],
        );
        assert_eq!(from_build.status.code(), Some(0), "{target}");
        // Only the header's file name differs.
        let body = |o: &Output| {
            String::from_utf8_lossy(&o.stdout).replacen("manifest.json", "fleet.kdl", 1)
        };
        assert_eq!(body(&from_build), body(&from_fleet), "{target}");
    }
}

#[test]
fn unreadable_fleet_and_unknown_server_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = netboot(dir.path(), &["dhcp-config", "nope.kdl", "--for", "kea"]);
    assert_eq!(out.status.code(), Some(2));
    let out = netboot(dir.path(), &["dhcp-config", "nope.kdl", "--for", "windows"]);
    assert_eq!(out.status.code(), Some(2));
}

/// A daemon's program: .ci/run installs them; a run without them is a failure to fix, not a
/// skip, since these tests are only run on purpose.
fn daemon(program: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{program}` is not installed: apt-get install {package}"))
}

/// The snippet for `target`, written beside the fleet.
fn snippet(fleet: &Fleet, target: &str) -> String {
    let out = netboot(fleet.dir(), &["dhcp-config", "fleet.kdl", "--for", target]);
    assert_eq!(out.status.code(), Some(0), "{target}");
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `program ARGS` on `config` written to the file `name` (`{}` in ARGS), which must pass.
fn check(fleet: &Fleet, program: PathBuf, args: &[&str], config: &str, name: &str) {
    let path = fleet.dir().join(name);
    std::fs::write(&path, config).unwrap();
    let mut cmd = Command::new(&program);
    for arg in args {
        cmd.arg(arg.replace("{}", path.to_str().unwrap()));
    }
    cmd.current_dir(fleet.dir());
    let out = cmd.output().expect("run the checker");
    assert!(
        out.status.success(),
        "{} rejects the export:\n{}{}\n--- config ---\n{config}",
        program.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "needs dnsmasq, kea and ISC dhcpd: run by .ci/run"]
fn dnsmasq_accepts_the_export() {
    let fleet = fleet(FLEET);
    // What the operator already has: DNS off (port 0), and the LAN's range.
    let config = format!(
        "port=0\ndhcp-range=192.168.1.100,192.168.1.200,12h\n{}",
        snippet(&fleet, "dnsmasq")
    );
    let dnsmasq = daemon("dnsmasq", "dnsmasq-base");
    check(
        &fleet,
        dnsmasq,
        &["--test", "--conf-file={}"],
        &config,
        "dnsmasq.conf",
    );
}

#[test]
#[ignore = "needs dnsmasq, kea and ISC dhcpd: run by .ci/run"]
fn isc_dhcpd_accepts_the_export() {
    let fleet = fleet(FLEET);
    let config = format!(
        "{}\nsubnet 192.168.1.0 netmask 255.255.255.0 {{\n    range 192.168.1.100 192.168.1.200;\n}}\n",
        snippet(&fleet, "isc")
    );
    let dhcpd = daemon("dhcpd", "isc-dhcp-server");
    check(&fleet, dhcpd, &["-t", "-cf", "{}"], &config, "dhcpd.conf");
}

#[test]
#[ignore = "needs dnsmasq, kea and ISC dhcpd: run by .ci/run"]
fn kea_accepts_the_export() {
    let fleet = fleet(FLEET);
    let config = format!(
        "{{ \"Dhcp4\": {{\n\
         \"interfaces-config\": {{ \"interfaces\": [] }},\n\
         \"lease-database\": {{ \"type\": \"memfile\", \"persist\": false }},\n\
         \"subnet4\": [ {{ \"subnet\": \"192.168.1.0/24\", \"pools\": [ {{ \"pool\": \"192.168.1.100-192.168.1.200\" }} ] }} ],\n\
         {}\n}} }}\n",
        snippet(&fleet, "kea")
    );
    let kea = daemon("kea-dhcp4", "kea-dhcp4-server");
    check(&fleet, kea, &["-t", "{}"], &config, "kea-dhcp4.conf");
}
