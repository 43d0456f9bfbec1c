//! Full-DHCP mode booting real firmware: a LAN with no router and no other DHCP server, where
//! `netboot serve` hands out the addresses and the boot file in one answer. The fleet is
//! tests/fixtures/vm/lab.kdl with a `dhcp "full"` server block put in front.

use netboot_test_support::vm::fleet;
use netboot_test_support::vm::{Booted, Firmware, Lab};

/// Listed in the fleet with profile "pinned".
const KNOWN_MAC: &str = "52:54:00:e2:e0:01";

/// A lab whose router namespace runs nothing, with netboot serving the fleet in full mode and
/// its leases in the lab's work dir.
fn full_lab() -> Lab {
    let mut lab = Lab::without_router_dhcp();
    let path = fleet::write(&lab, "lab");
    let text = std::fs::read_to_string(&path).unwrap();
    let server = format!(
        "server {{\n    dhcp \"full\" {{\n        range \"{s}.100\" \"{s}.150\"\n        lease-time 600\n    }}\n}}\n",
        s = lab.subnet()
    );
    std::fs::write(&path, server + &text).unwrap();
    fleet::serve_full(&mut lab, &path);
    lab
}

fn assert_word(booted: &Booted, word: &str) {
    assert!(
        booted.cmdline_words().contains(&word),
        "expected {word:?} on the kernel command line, got {:?}",
        booted.cmdline
    );
}

fn leases(lab: &Lab) -> String {
    std::fs::read_to_string(lab.work_dir().join("state/dhcp-leases.json")).unwrap_or_default()
}

#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn bios_boots_with_an_address_from_netboot_alone() {
    let mut lab = full_lab();
    let booted = lab.boot(Firmware::Bios, KNOWN_MAC);
    assert_word(&booted, "netboot-profile=pinned");
    assert_word(&booted, "host=known");
    let leases = leases(&lab);
    assert!(
        leases.contains(KNOWN_MAC) && leases.contains(&format!("{}.100", lab.subnet())),
        "the lease was not written down:\n{leases}"
    );
    let log = lab.daemon_log("netboot");
    assert!(log.contains("dhcp full answer"), "{log}");
}

#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn uefi_firmware_pxe_boots_with_an_address_from_netboot_alone() {
    let mut lab = full_lab();
    let booted = lab.boot(Firmware::UefiPxe, KNOWN_MAC);
    assert_word(&booted, "netboot-profile=pinned");
    assert!(leases(&lab).contains(KNOWN_MAC));
}
