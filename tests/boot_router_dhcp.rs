//! The LAN's router hands out the boot answers, configured from `netboot dhcp-config`, and
//! `netboot serve --no-dhcp` only serves TFTP and HTTP: VMs must boot through each router the
//! export is written for that runs here (dnsmasq, Kea). The fleet is tests/fixtures/vm/lab.kdl.
//!
//! netboot answers no DHCP at all in these labs, so a boot that reaches our kernel got every
//! boot answer (loader, then iPXE's script) from the router's exported configuration.

use std::path::{Path, PathBuf};
use std::process::Command;

use netboot_test_support::lab::{Role, IFACE};
use netboot_test_support::vm::fleet;
use netboot_test_support::vm::{Booted, Firmware, Lab};

/// Listed in the fleet with profile "pinned".
const KNOWN_MAC: &str = "52:54:00:e2:e0:01";

/// The lab's BIOS client is SeaBIOS with the NIC's iPXE ROM, so it is iPXE from its first
/// DISCOVER: the router must hand it this machine's own script (a per-host answer).
fn host_script(lab: &Lab) -> String {
    format!(
        "http://{}:8080/hosts/{}.ipxe",
        lab.server_addr(),
        KNOWN_MAC.replace(':', "-")
    )
}

/// A lab whose router runs nothing yet, with netboot serving the fleet without DHCP.
fn lab() -> (Lab, PathBuf) {
    let mut lab = Lab::without_router_dhcp();
    let path = fleet::write(&lab, "lab");
    fleet::serve_without_dhcp(&mut lab, &path);
    (lab, path)
}

/// `netboot dhcp-config FLEET --for TARGET` for the lab's server, written to the work dir.
fn export(lab: &Lab, fleet: &Path, target: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_netboot"))
        .arg("dhcp-config")
        .arg(fleet)
        .args(["--for", target, "--address", &lab.server_addr()])
        .args(["--http-port", "8080"])
        .output()
        .expect("run netboot dhcp-config");
    assert!(
        out.status.success(),
        "dhcp-config --for {target}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the export is text")
}

/// The router as a home router with dnsmasq: the LAN's range, plus the export.
fn start_dnsmasq_router(lab: &mut Lab, fleet: &Path) {
    let snippet = lab.work_dir().join("router-netboot.conf");
    std::fs::write(&snippet, export(lab, fleet, "dnsmasq")).unwrap();
    let s = lab.subnet().to_string();
    let mut args = lab.dnsmasq_args("router");
    args.push(format!("--dhcp-range={s}.100,{s}.199,255.255.255.0,1h"));
    args.push(format!("--conf-file={}", snippet.display()));
    lab.spawn(Role::Router, "router-dnsmasq", "dnsmasq", &args);
    lab.wait_listening(Role::Router, "udp", 67);
}

/// The router with Kea: the smallest complete kea-dhcp4 configuration for the LAN (interface,
/// subnet and pool, leases in the work dir, log to stdout) around the exported classes.
fn start_kea_router(lab: &mut Lab, fleet: &Path) {
    let work = lab.work_dir().to_path_buf();
    let s = lab.subnet().to_string();
    let config = format!(
        r#"{{ "Dhcp4": {{
"interfaces-config": {{ "interfaces": [ "{IFACE}" ] }},
"lease-database": {{ "type": "memfile", "name": "{leases}", "lfc-interval": 0 }},
"valid-lifetime": 3600,
"subnet4": [ {{ "subnet": "{s}.0/24", "pools": [ {{ "pool": "{s}.100 - {s}.199" }} ] }} ],
"loggers": [ {{ "name": "kea-dhcp4", "output_options": [ {{ "output": "stdout" }} ], "severity": "INFO" }} ],
{snippet}
}} }}
"#,
        leases = work.join("kea-leases4.csv").display(),
        snippet = export(lab, fleet, "kea"),
    );
    let path = work.join("kea-dhcp4.conf");
    std::fs::write(&path, config).unwrap();
    let mut cmd = lab.netns(Role::Router).command("kea-dhcp4");
    cmd.arg("-c")
        .arg(&path)
        // Kea's lock and pid files default to /run/kea, which belongs to the packaged service.
        .env("KEA_LOCKFILE_DIR", &work)
        .env("KEA_PIDFILE_DIR", &work);
    lab.spawn_command("router-kea", cmd);
    lab.wait_listening(Role::Router, "udp", 67);
}

fn assert_word(booted: &Booted, word: &str) {
    assert!(
        booted.cmdline_words().contains(&word),
        "expected {word:?} on the kernel command line, got {:?}",
        booted.cmdline
    );
}

/// A DHCP reply (the router's: netboot sent none) named `file` as the boot file, in the
/// `file` header field (Kea) or in option 67 (dnsmasq, when the client asks for 67; tcpdump
/// shows its trailing NUL as `^@`).
fn assert_router_answered(lab: &Lab, file: &str) {
    let packets = lab.captured();
    let named = packets.lines().any(|l| {
        l.contains(&format!("file \"{file}\""))
            || (l.contains("BF (67)") && l.contains(&format!("\"{file}")))
    });
    assert!(named, "no DHCP reply named {file}:\n{packets}");
    let server = lab.server_addr();
    assert!(
        !packets.contains(&format!("{server}.67 >")),
        "netboot answered DHCP with --no-dhcp:\n{packets}"
    );
}

#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn bios_boots_through_a_dnsmasq_router_configured_by_the_export() {
    let (mut lab, fleet) = lab();
    start_dnsmasq_router(&mut lab, &fleet);
    let booted = lab.boot(Firmware::Bios, KNOWN_MAC);
    assert_word(&booted, "netboot-profile=pinned");
    assert_word(&booted, "host=known");
    assert_router_answered(&lab, &host_script(&lab));
}

#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn bios_boots_through_a_kea_router_configured_by_the_export() {
    let (mut lab, fleet) = lab();
    start_kea_router(&mut lab, &fleet);
    let booted = lab.boot(Firmware::Bios, KNOWN_MAC);
    assert_word(&booted, "netboot-profile=pinned");
    assert_word(&booted, "host=known");
    assert_router_answered(&lab, &host_script(&lab));
}

#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn uefi_firmware_pxe_boots_through_a_kea_router_configured_by_the_export() {
    let (mut lab, fleet) = lab();
    start_kea_router(&mut lab, &fleet);
    let booted = lab.boot(Firmware::UefiPxe, KNOWN_MAC);
    assert_word(&booted, "netboot-profile=pinned");
    assert_router_answered(&lab, "ipxe.efi");
    assert_router_answered(&lab, &host_script(&lab));
}
