//! Retrying a reload that failed on a file, not on the fleet.
//!
//! A reload can fail because an input was missing or unreadable at that moment: a permission
//! taken away and put back, a symlink whose target appears later, a deploy halfway through its
//! renames. Such a failure can come right with no event the watcher counts (a chmod on a file
//! outside the watched directories, a file appearing where a link points), so it is retried,
//! less and less often, until it succeeds or an edit starts a fresh reload. A fleet error
//! (a typo, an unknown profile) needs the operator to edit the fleet, which the watcher sees:
//! retrying it would only repeat the same diagnostics.

use std::time::Duration;

use netboot_compiler::Failure;

/// The first retry after a reload failed on a file.
pub const FIRST_RETRY: Duration = Duration::from_secs(1);
/// Retries back off by doubling up to this: quick after a brief hiccup, quiet while a file
/// stays missing.
pub const LONGEST_RETRY: Duration = Duration::from_secs(30);

/// Diagnostics about a file that could not be found or read, as opposed to the fleet's text.
const FILE_CODES: &[&str] = &[
    "fleet::unreadable",
    "fleet::missing-file",
    "fleet::unreadable-file",
];

/// The delay before the next retry, given the one before the attempt that just failed (`None`
/// when that attempt was not itself a retry).
pub fn next_delay(previous: Option<Duration>) -> Duration {
    previous.map_or(FIRST_RETRY, |d| (d * 2).min(LONGEST_RETRY))
}

/// True when every error of a failed compile is about reading a file: the compile may succeed
/// unchanged once the file is back.
pub fn is_transient(failure: &Failure) -> bool {
    let mut errors = failure.diagnostics().iter().filter(|d| d.is_error());
    failure.is_io() || (failure.error_count() > 0 && errors.all(|d| FILE_CODES.contains(&d.code)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_from_one_second_up_to_thirty() {
        let mut delay = None;
        let delays: Vec<u64> = (0..7)
            .map(|_| {
                let next = next_delay(delay);
                delay = Some(next);
                next.as_secs()
            })
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30]);
    }

    fn compile(fleet: &str, files: &[&str]) -> Failure {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            std::fs::write(dir.path().join(f), f).unwrap();
        }
        let path = dir.path().join("fleet.kdl");
        std::fs::write(&path, fleet).unwrap();
        netboot_compiler::compile(&path, &Default::default()).unwrap_err()
    }

    const FLEET: &str = r#"
artifact "k" path="k"
profile "p" { kernel "k"; cmdline "x" }
default profile="p"
"#;

    #[test]
    fn a_missing_file_is_transient_and_a_fleet_error_is_not() {
        assert!(is_transient(&compile(FLEET, &[])));
        let typo = FLEET.replace(r#"default profile="p""#, r#"default profile="q""#);
        assert!(!is_transient(&compile(&typo, &["k"])));
        // A missing file alongside a fleet error still needs an edit.
        assert!(!is_transient(&compile(&typo, &[])));
    }

    #[test]
    fn a_template_that_is_not_utf8_yet_is_transient() {
        // A deploy writing the template in two steps, or an encoding fixed in place.
        let fleet = r#"
artifact "k" path="k"
profile "p" { kernel "k"; file "x.cfg" template="t.cfg" }
host "a" mac="52:54:00:00:00:01" profile="p"
"#;
        let dir = tempfile::tempdir().unwrap();
        // Shaped like an x86 kernel (the boot protocol's `HdrS`), which the build checks for.
        let mut kernel = vec![0u8; 0x206];
        kernel[0x202..].copy_from_slice(b"HdrS");
        std::fs::write(dir.path().join("k"), kernel).unwrap();
        std::fs::write(dir.path().join("t.cfg"), b"caf\xe9\n").unwrap();
        let path = dir.path().join("fleet.kdl");
        std::fs::write(&path, fleet).unwrap();
        let failure = netboot_compiler::compile(&path, &Default::default()).unwrap_err();
        let errors: Vec<&str> = failure
            .diagnostics()
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.code)
            .collect();
        assert_eq!(errors, ["fleet::unreadable-file"]);
        assert!(is_transient(&failure));
    }

    #[test]
    fn an_unreadable_fleet_is_transient() {
        let dir = tempfile::tempdir().unwrap();
        let failure = netboot_compiler::compile(&dir.path().join("fleet.kdl"), &Default::default())
            .unwrap_err();
        assert!(is_transient(&failure));
    }
}
