//! Real client programs (curl, tftp-hpa, atftp, ...) a test drives: found on PATH, or the test
//! is skipped with a line that says what to install.

use std::path::PathBuf;

/// The path of `program` if it is installed, else `None` after saying `test` is skipped.
pub fn installed(program: &str, test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        eprintln!("SKIPPED {test}: `{program}` is not installed (apt-get install it; CI does)");
    }
    found
}
