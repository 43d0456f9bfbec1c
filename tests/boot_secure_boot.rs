//! Secure Boot through `netboot serve`, in the shared lab: OVMF with Secure Boot enforced
//! (Microsoft's keys enrolled) boots Debian's signed shim, which loads Debian's signed GRUB,
//! which reads the GRUB configs compiled from tests/fixtures/vm/secure-boot.kdl and loads the
//! lab's signed Debian kernel over TFTP, or Debian's signed installer
//! (tests/fixtures/vm/secure-boot-installer.kdl). Needs `shim-signed` and `grub-efi-amd64-signed`;
//! the installer is downloaded once (`debian-installer-12-netboot-amd64`, ~40 MB).
//!
//! netboot runs in full-DHCP mode: Debian 12's signed GRUB takes its TFTP server from the DHCP
//! server's next-server, so behind a proxy it would ask the lab's router (see the README's
//! Secure Boot section). In full mode netboot's own answer carries its address.

use std::time::Duration;

use netboot_test_support::lab::Role;
use netboot_test_support::vm::fleet;
use netboot_test_support::vm::{Firmware, Lab};

const SECURE_MAC: &str = "52:54:00:5b:00:01";
const PLAIN_MAC: &str = "52:54:00:5b:00:02";
const INSTALLER_MAC: &str = "52:54:00:5b:00:03";

/// A lab without the router's DHCP, netboot serving the fixture `fleet` in full mode.
fn secure_boot_lab(fleet: &str) -> Lab {
    let mut lab = Lab::without_router_dhcp();
    let path = fleet::write(&lab, fleet);
    let text = std::fs::read_to_string(&path).unwrap();
    let server = format!(
        "server {{\n    dhcp \"full\" {{\n        range \"{s}.100\" \"{s}.150\"\n    }}\n}}\n",
        s = lab.subnet()
    );
    std::fs::write(&path, server + &text).unwrap();
    fleet::serve_full(&mut lab, &path);
    lab
}

#[test]
#[ignore = "needs root, qemu, OVMF's Secure Boot build, shim-signed and grub-efi-amd64-signed: run by .ci/run"]
fn a_secure_boot_machine_boots_the_signed_kernel_through_shim_and_grub() {
    let mut lab = secure_boot_lab("secure-boot");
    let booted = lab.boot(Firmware::UefiSecureBoot, SECURE_MAC);
    let words = booted.cmdline_words();
    assert!(
        words.contains(&"netboot-profile=signed") && words.contains(&"host=secure"),
        "{}",
        booted.cmdline
    );
    // Enforcement was on all the way: the kernel says so itself.
    assert!(
        booted.serial.contains("Secure boot enabled"),
        "the kernel did not report Secure Boot:\n{}",
        booted.serial
    );
    let log = lab.daemon_log("netboot");
    for file in [
        "sb/grubx64.efi",
        "grub/grub.cfg",
        "grub/hosts/52:54:00:5b:00:01.cfg",
    ] {
        assert!(
            log.contains(file),
            "GRUB's chain never fetched {file}:\n{log}"
        );
    }
}

#[test]
#[ignore = "needs root, qemu, OVMF's Secure Boot build, shim-signed and grub-efi-amd64-signed: run by .ci/run"]
fn one_fleet_boots_a_secure_boot_machine_through_shim_and_a_plain_one_through_ipxe() {
    let mut lab = secure_boot_lab("secure-boot");
    // The negative case proves enforcement: the plain machine, which the fleet gives unsigned
    // iPXE, is refused by the same firmware that boots the Secure Boot machine below.
    let serial = lab.boot_until(Firmware::UefiSecureBoot, PLAIN_MAC, "Access Denied");
    assert!(serial.contains("ipxe.efi"), "{serial}");
    // The same machine with Secure Boot off boots iPXE from the same fleet.
    let plain = lab.boot(Firmware::UefiPxe, PLAIN_MAC);
    assert!(
        plain.cmdline_words().contains(&"host=plain"),
        "{}",
        plain.cmdline
    );
    // And the fleet's Secure Boot machine, from the same server, through shim and GRUB.
    let secure = lab.boot(Firmware::UefiSecureBoot, SECURE_MAC);
    assert!(
        secure.cmdline_words().contains(&"host=secure"),
        "{}",
        secure.cmdline
    );

    // The server's own view of which chain each machine took: its DHCP answers in the log,
    // and the files of each machine's latest boot on the status page.
    let log = lab.daemon_log("netboot");
    let answered = |mac: &str, file: &str| {
        log.lines().any(|l| {
            l.contains("dhcp full answer")
                && l.contains(&format!("mac={mac} "))
                && l.contains(&format!("file={file} "))
        })
    };
    assert!(answered(SECURE_MAC, "sb/shimx64.efi"), "{log}");
    assert!(answered(PLAIN_MAC, "ipxe.efi"), "{log}");
    assert!(!answered(SECURE_MAC, "ipxe.efi"), "{log}");
    assert!(!answered(PLAIN_MAC, "sb/shimx64.efi"), "{log}");

    let status = status_json(&lab);
    let secure_files = latest_boot_files(&status, SECURE_MAC);
    for file in [
        "sb/shimx64.efi",
        "sb/grubx64.efi",
        "grub/grub.cfg",
        "grub/hosts/52:54:00:5b:00:01.cfg",
    ] {
        assert!(
            secure_files.iter().any(|f| f == file),
            "the status page has no {file} for the Secure Boot machine: {secure_files:?}"
        );
    }
    assert!(
        !secure_files.iter().any(|f| f.ends_with("ipxe.efi")),
        "{secure_files:?}"
    );
    let plain_files = latest_boot_files(&status, PLAIN_MAC);
    assert!(
        plain_files.iter().any(|f| f == "ipxe.efi"),
        "the status page has no ipxe.efi for the plain machine: {plain_files:?}"
    );
    assert!(
        plain_files
            .iter()
            .any(|f| f.ends_with("hosts/52-54-00-5b-00-02.ipxe")),
        "the status page has no iPXE script for the plain machine: {plain_files:?}"
    );
    assert!(
        !plain_files
            .iter()
            .any(|f| f.starts_with("sb/") || f.starts_with("grub/")),
        "{plain_files:?}"
    );
}

#[test]
#[ignore = "needs root, qemu, OVMF's Secure Boot build, shim-signed and grub-efi-amd64-signed: run by .ci/run"]
fn a_secure_boot_machine_starts_debians_signed_installer_through_shim_and_grub() {
    let mut lab = secure_boot_lab("secure-boot-installer");
    // The kernel handing over to the installer's /init: the signed kernel ran and unpacked its
    // 40 MB initrd. The installer's first screen comes ~30 s later and proves nothing more
    // about the chain. The bound is the installer's: GRUB fetches ~50 MB in 1 KiB blocks.
    let serial = lab.boot_until_within(
        Firmware::UefiSecureBoot,
        INSTALLER_MAC,
        "Run /init as init process",
        Duration::from_secs(240),
    );
    // The kernel's own words: enforcement was on, and the command line is the fleet's.
    assert!(
        serial.contains("Secure boot enabled"),
        "the kernel did not report Secure Boot:\n{serial}"
    );
    let command_line = serial
        .lines()
        .find(|l| l.contains("Command line:"))
        .unwrap_or_else(|| panic!("the kernel printed no command line:\n{serial}"));
    let words: Vec<&str> = command_line.split_whitespace().collect();
    assert!(
        words.contains(&"netboot-profile=installer") && words.contains(&"host=installer"),
        "{command_line}"
    );
    let log = lab.daemon_log("netboot");
    for file in [
        "sb/grubx64.efi",
        "grub/hosts/52:54:00:5b:00:03.cfg",
        "artifacts/installer-kernel",
        "artifacts/installer-initrd",
    ] {
        assert!(
            log.lines()
                .any(|l| l.contains("tftp file done") && l.contains(file)),
            "the installer's chain never fetched {file}:\n{log}"
        );
    }
}

/// `/status.json` from netboot's HTTP port, fetched inside the server's namespace.
fn status_json(lab: &Lab) -> serde_json::Value {
    let url = format!("http://{}:8080/status.json", lab.server_addr());
    let text = lab
        .netns(Role::Server)
        .output("curl", &["-sS", "--max-time", "10", &url]);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("status.json is not JSON ({e}): {text}"))
}

/// The files of `mac`'s latest boot on the status page, without GRUB's leading `/`.
fn latest_boot_files(status: &serde_json::Value, mac: &str) -> Vec<String> {
    let machines = status["machines"].as_array().cloned().unwrap_or_default();
    let machine = machines
        .iter()
        .find(|m| m["mac"].as_str() == Some(mac))
        .unwrap_or_else(|| panic!("the status page does not know {mac}: {status:#}"));
    let timeline = machine["timeline"].as_array().cloned().unwrap_or_default();
    timeline
        .iter()
        .filter_map(|step| step["file"].as_str())
        .map(|f| f.trim_start_matches('/').to_string())
        .collect()
}
