//! The lab checked against a reference boot server (dnsmasq proxy-DHCP + TFTP, python HTTP):
//! if these fail, the lab or the machine is broken, not netboot.

use netboot_test_support::vm::{control, Firmware, Lab};

#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn lab_control_bios() {
    let mut lab = Lab::new();
    control::start(&mut lab);
    let booted = lab.boot(Firmware::Bios, "52:54:00:c0:00:01");
    assert!(
        booted.cmdline_words().contains(&"lab=control"),
        "{}",
        booted.cmdline
    );
}

#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn lab_control_uefi_pxe() {
    let mut lab = Lab::new();
    control::start(&mut lab);
    let booted = lab.boot(Firmware::UefiPxe, "52:54:00:c0:00:02");
    let words = booted.cmdline_words();
    assert!(words.contains(&"lab=control"), "{}", booted.cmdline);
    assert!(words.contains(&"initrd=initrd.img"), "{}", booted.cmdline);
    // OVMF's PXE client fetched iPXE over TFTP (not its HTTP boot fallback).
    assert!(
        lab.captured().contains("RRQ \"ipxe.efi\""),
        "no TFTP read of ipxe.efi seen"
    );
}

#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn lab_control_uefi_http_boot() {
    let mut lab = Lab::without_router_dhcp();
    control::start_http_boot(&mut lab);
    let booted = lab.boot(Firmware::UefiHttp, "52:54:00:c0:00:03");
    assert!(
        booted.cmdline_words().contains(&"lab=control"),
        "{}",
        booted.cmdline
    );
    let packets = lab.captured();
    assert!(
        packets.contains("HTTPClient:Arch:00016"),
        "OVMF's HTTP Boot client never asked"
    );
    assert!(!packets.contains("RRQ"), "HTTP Boot used TFTP");
}
