//! The KDL parser must not recurse once per syntax error: kdl 6.7.1 did, at the top level, and
//! a single line of unterminated nodes overflowed the compile thread's 64 MiB stack and aborted
//! the process (`serve` with it). netboot builds a patched kdl (`vendor/kdl/PATCHED.md`); these
//! fleets abort this test binary if the patch is lost or an upgrade brings the recursion back.

use std::path::Path;

use netboot_compiler::{compile, render_all, ServerOverrides};

/// Compiles `text` as a fleet and returns the codes of what was reported, and the report.
fn codes_and_report(text: &str) -> (Vec<&'static str>, String) {
    let dir = tempfile::tempdir().unwrap();
    let fleet = dir.path().join("fleet.kdl");
    std::fs::write(&fleet, text).unwrap();
    let failure = compile(Path::new(&fleet), &ServerOverrides::default())
        .expect_err("every fleet here is broken");
    let codes = failure.diagnostics().iter().map(|d| d.code).collect();
    (codes, render_all(failure.diagnostics()))
}

/// Each case is an error the parser recovers from at the top level, 100,000 times on one line
/// (or in a row): 20,000 were enough for a debug build of the old parser.
const REPEATS: usize = 100_000;

#[test]
fn a_line_of_unterminated_nodes_is_syntax_errors_not_a_crash() {
    let (codes, report) = codes_and_report(&format!("{}\n", "n {} ".repeat(REPEATS)));
    assert!(codes.iter().all(|&c| c == "fleet::syntax"), "{codes:?}");
    assert!(report.contains("more syntax errors, not shown"), "{report}");
}

#[test]
fn stray_closing_braces_are_syntax_errors_not_a_crash() {
    let (codes, report) = codes_and_report(&"}\n".repeat(REPEATS));
    assert!(codes.iter().all(|&c| c == "fleet::syntax"), "{codes:?}");
    assert!(report.contains("more syntax errors, not shown"), "{report}");
}

#[test]
fn thousands_of_unknown_nodes_make_a_short_report_that_counts_them() {
    let (codes, report) = codes_and_report(&"n;".repeat(5_000));
    assert_eq!(
        codes
            .iter()
            .filter(|&&c| c == "fleet::unknown-node")
            .count(),
        5_000
    );
    assert!(
        report.contains("... and 4951 more not shown (4951 error(s), 0 warning(s))"),
        "{}",
        &report[report.len().saturating_sub(500)..]
    );
    // Each shown problem is on the 10,000-byte line: by position, not with the line.
    assert!(report.len() < 50_000, "{} bytes", report.len());
}
