//! Where a command's text goes while it runs: results to `out`, progress and diagnostics to
//! `err`. The binary hands in stdout and stderr; a test hands in buffers.
//!
//! Only text that must appear while the command works (doctor's checks as they run, build's
//! downloads) or in order between the two streams (init) goes through here; a command whose
//! report comes at the end returns it instead.

use std::io::Write;

/// The two streams a command writes to.
pub struct Console<'a> {
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
}

impl<'a> Console<'a> {
    pub fn new(out: &'a mut dyn Write, err: &'a mut dyn Write) -> Console<'a> {
        Console { out, err }
    }

    /// Writes `text` to the output stream. A reader that went away (`| head`) is not the
    /// command's failure, so write errors are ignored.
    pub fn out(&mut self, text: &str) {
        let _ = self.out.write_all(text.as_bytes());
    }

    /// Writes `text` to the error stream; write errors are ignored, as for [`Console::out`].
    pub fn err(&mut self, text: &str) {
        let _ = self.err.write_all(text.as_bytes());
    }
}
