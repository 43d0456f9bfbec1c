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

use netboot_test_support::lab::{Role, IFACE};
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
    let mut cmd = lab
        .netns(Role::Server)
        .command(env!("CARGO_BIN_EXE_netboot"));
    cmd.arg("serve")
        .arg(&path)
        .args(["--interface", IFACE, "--address", &lab.server_addr()])
        .args(["--http-port", "8080", "--no-watch"])
        .arg("--state-dir")
        .arg(lab.work_dir().join("state"))
        .env("RUST_LOG", "debug")
        .env("NO_COLOR", "1");
    lab.spawn_command("netboot", cmd);
    lab.wait_listening(Role::Server, "udp", 67);
    lab.wait_listening(Role::Server, "udp", 69);
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
fn a_machine_not_listed_for_secure_boot_gets_ipxe_which_enforcing_firmware_refuses() {
    let mut lab = secure_boot_lab("secure-boot");
    // The negative case proves enforcement: the same firmware refuses unsigned iPXE.
    let serial = lab.boot_until(Firmware::UefiSecureBoot, PLAIN_MAC, "Access Denied");
    assert!(serial.contains("ipxe.efi"), "{serial}");
    // The same machine with Secure Boot off boots iPXE from the same fleet.
    let booted = lab.boot(Firmware::UefiPxe, PLAIN_MAC);
    assert!(
        booted.cmdline_words().contains(&"host=plain"),
        "{}",
        booted.cmdline
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
