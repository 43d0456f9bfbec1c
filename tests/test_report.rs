//! `netboot test`'s result files without a VM: a run with a passed, a failed and a skipped
//! machine, rendered as JUnit and validated against the JUnit schema CI systems read
//! (tests/fixtures/junit/junit.xsd, by xmllint). The VM tests validate real runs the same way.

use std::time::{Duration, SystemTime};

use netboot_lab::Firmware;
use netboot_manifest::{ClientKind, MacAddr};
use netboot_ops::boot_test::judge::Failure;
use netboot_ops::boot_test::plan::{Case, End, Expect};
use netboot_ops::boot_test::report::CaseResult;
use netboot_ops::boot_test::{render, TestFormat, TestRun};

fn case(name: &str, firmware: Firmware, skipped: Option<&str>) -> Case {
    Case {
        name: format!("{name}-{firmware}"),
        machine: name.into(),
        mac: MacAddr([0x52, 0x54, 0x00, 0xe2, 0xe0, 0x01]),
        firmware,
        steps: vec![
            Expect::Dhcp {
                kind: ClientKind::EfiX64,
            },
            Expect::File {
                role: "loader".into(),
                route: "ipxe.efi".into(),
                size: 1024,
            },
        ],
        end: End::Boots,
        unbootable: None,
        skipped: skipped.map(str::to_string),
        notes: Vec::new(),
        menu_seconds: 0,
    }
}

fn result(case: Case, failure: Option<Failure>) -> CaseResult {
    CaseResult {
        passed: failure.is_none() && case.skipped.is_none(),
        steps_done: if failure.is_some() { 1 } else { 2 },
        failure,
        case,
        seconds: 12.5,
        // What a firmware console really holds: escape codes, NULs, markup.
        console_tail: vec![
            "\u{1b}[2J\u{1b}[01;01H>>Start PXE over IPv4.\u{0}".into(),
            "iPXE <https://ipxe.org> & friends \"quoted\"".into(),
        ],
        server_lines: vec!["TFTP ipxe.efi failed <timeout>".into()],
        serial_log: None,
        screenshot: None,
    }
}

fn run() -> TestRun {
    let cases = vec![
        result(case("web1", Firmware::Bios, None), None),
        result(
            case("web2", Firmware::UefiPxe, None),
            Some(Failure {
                step: "the loader ipxe.efi (1024 bytes) downloaded completely".into(),
                why: "not within 300 s & <no> \"answer\"".into(),
            }),
        ),
        result(
            case("pi", Firmware::UefiPxe, Some("it boots the arm64 kernel k")),
            None,
        ),
    ];
    TestRun {
        fleet: "examples/<homelab>/fleet.kdl".into(),
        accel: "tcg",
        passed: 1,
        failed: 1,
        skipped: 1,
        seconds: 42.25,
        cases,
        started: SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_000_000),
    }
}

#[test]
fn junit_output_validates_against_the_junit_schema() {
    let xml = render(&run(), TestFormat::Junit);
    match netboot_test_support::junit::validate(
        &xml,
        "junit_output_validates_against_the_junit_schema",
    ) {
        Ok(_) => {}
        Err(e) => panic!("{e}"),
    }
    // The schema is not a rubber stamp: what CI systems reject, it rejects too.
    for (broken, what) in [
        (
            xml.replacen("<testcase name=", "<testcase nam=", 1),
            "a testcase without a name",
        ),
        (
            xml.replacen("time=\"12.500\"", "time=\"soon\"", 1),
            "a time that is no number",
        ),
        (
            xml.replacen("<skipped ", "<ignored ", 1),
            "an element JUnit does not know",
        ),
        (
            xml.replacen("<properties>", "<system-out/><properties>", 1),
            "elements out of order",
        ),
    ] {
        assert_ne!(broken, xml, "{what}: the edit applied");
        if let Ok(true) = netboot_test_support::junit::validate(&broken, "schema check") {
            panic!("{what} passed the schema:\n{broken}");
        }
    }
}
