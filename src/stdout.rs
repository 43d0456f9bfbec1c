//! Writing a report to stdout, where a closed pipe (`| head`) is not an error worth a panic.

use std::io::Write;

/// Writes `text` to stdout and flushes it, ignoring a reader that went away.
pub fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
