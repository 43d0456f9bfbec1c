//! `netboot serve` booting real firmware end to end: a LAN whose router hands out addresses
//! with no PXE options, netboot next to it as proxy-DHCP + TFTP + HTTP, and VMs that must reach
//! our kernel and print its command line. The fleet is tests/fixtures/vm/lab.kdl.
//! If these fail while tests/boot_control.rs passes, the fault is netboot's.

use std::time::Duration;

use netboot_test_support::vm::fleet::{self, Save};
use netboot_test_support::vm::{Booted, Firmware, Lab};

/// Listed in the fleet with profile "pinned".
const KNOWN_MAC: &str = "52:54:00:e2:e0:01";
/// Listed in the fleet; the hot-reload test moves it to profile "changed".
const RELOADED_MAC: &str = "52:54:00:e2:e0:02";
/// Not in the fleet: gets the default menu.
const UNKNOWN_MAC: &str = "52:54:00:e2:e0:99";

fn serving_lab() -> (Lab, std::path::PathBuf) {
    let mut lab = Lab::new();
    let path = fleet::write(&lab, "lab");
    fleet::serve(&mut lab, &path);
    (lab, path)
}

fn assert_word(booted: &Booted, word: &str) {
    assert!(
        booted.cmdline_words().contains(&word),
        "expected {word:?} on the kernel command line, got {:?}",
        booted.cmdline
    );
}

/// Under UEFI iPXE must name the initrd on the kernel line, or the kernel never sees it.
fn assert_names_initrd(booted: &Booted) {
    assert!(
        booted
            .cmdline_words()
            .iter()
            .any(|w| w.starts_with("initrd=")),
        "UEFI kernel line lacks initrd=NAME: {:?}",
        booted.cmdline
    );
}

#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn bios_ipxe_rom_boots_its_host_profile() {
    let (mut lab, _) = serving_lab();
    let booted = lab.boot(Firmware::Bios, KNOWN_MAC);
    assert_word(&booted, "netboot-profile=pinned");
    assert_word(&booted, "host=known");
}

#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn uefi_firmware_pxe_chains_ipxe_efi_then_its_script() {
    let (mut lab, _) = serving_lab();
    let booted = lab.boot(Firmware::UefiPxe, KNOWN_MAC);
    assert_word(&booted, "netboot-profile=pinned");
    assert_names_initrd(&booted);
    let packets = lab.captured();
    assert!(
        packets.contains("PXEClient:Arch:00007"),
        "OVMF's PXE client never asked"
    );
    assert!(
        packets.contains("RRQ \"ipxe.efi\""),
        "ipxe.efi was not fetched over TFTP"
    );
}

#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn uefi_http_boot_gets_ipxe_efi_over_http_without_tftp() {
    let (mut lab, _) = serving_lab();
    let booted = lab.boot(Firmware::UefiHttp, KNOWN_MAC);
    assert_word(&booted, "netboot-profile=pinned");
    assert_names_initrd(&booted);
    let packets = lab.captured();
    assert!(
        packets.contains("HTTPClient:Arch:00016"),
        "OVMF's HTTP Boot client never asked"
    );
    // netboot's proxy offer: no address, option 60 "HTTPClient" and the URL, which OVMF
    // pairs with the router's address-only offer.
    assert!(
        packets.contains("Vendor-Class (60), length 10: \"HTTPClient\""),
        "no HTTPClient proxy offer seen"
    );
    assert!(!packets.contains("RRQ"), "HTTP Boot used TFTP:\n{packets}");
}

#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn known_mac_gets_its_profile_unknown_mac_the_menu_default() {
    let (mut lab, _) = serving_lab();
    let known = lab.boot(Firmware::Bios, KNOWN_MAC);
    assert_word(&known, "netboot-profile=pinned");
    let unknown = lab.boot(Firmware::Bios, UNKNOWN_MAC);
    assert_word(&unknown, "netboot-profile=menu-default");
    assert_word(&unknown, &format!("server={}:8080", lab.server_addr()));
}

#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn editing_the_fleet_while_serving_changes_the_next_boot() {
    let (mut lab, path) = serving_lab();
    let pinned = r#"host "reloaded" mac="52:54:00:e2:e0:02" profile="pinned""#;
    let changed = r#"host "reloaded" mac="52:54:00:e2:e0:02" profile="changed""#;
    let before = lab.boot(Firmware::Bios, RELOADED_MAC);
    assert_word(&before, "netboot-profile=pinned");

    fleet::edit(&path, pinned, changed, Save::InPlace);
    // The promise is "live within a second"; give it a little more.
    std::thread::sleep(Duration::from_millis(1500));
    let after = lab.boot(Firmware::Bios, RELOADED_MAC);
    assert_word(&after, "netboot-profile=changed");
    assert_word(&after, "host=reloaded");

    // Saved the other way editors save: the watch must survive the old file being replaced.
    fleet::edit(&path, changed, pinned, Save::Rename);
    std::thread::sleep(Duration::from_millis(1500));
    let back = lab.boot(Firmware::Bios, RELOADED_MAC);
    assert_word(&back, "netboot-profile=pinned");
}

#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn a_broken_edit_keeps_the_last_good_fleet_serving() {
    let (mut lab, path) = serving_lab();
    fleet::edit(
        &path,
        r#"host "reloaded" mac="52:54:00:e2:e0:02" profile="pinned""#,
        r#"host "reloaded" mac="52:54:00:e2:e0:02" profile="no-such-profile""#,
        Save::InPlace,
    );
    std::thread::sleep(Duration::from_millis(1500));
    let booted = lab.boot(Firmware::Bios, RELOADED_MAC);
    assert_word(&booted, "netboot-profile=pinned");
    let log = lab.daemon_log("netboot");
    assert!(
        log.contains("no-such-profile"),
        "netboot did not log the broken fleet's diagnostic:\n{log}"
    );
}
