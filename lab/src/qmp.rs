//! Just enough QMP (QEMU's JSON monitor protocol) to take a screenshot and to quit: a greeting,
//! `qmp_capabilities`, then one command at a time, each answered by `return` or `error`
//! (asynchronous `event` lines in between are skipped).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

/// Why a QMP command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    #[error("QMP socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("QMP: QEMU closed the monitor")]
    Closed,
    #[error("QMP: unreadable answer {0:?}")]
    Garbled(String),
    #[error("QMP: {0}")]
    Refused(String),
}

/// A QMP session in command mode.
pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    /// Connects and leaves capabilities negotiation. Every read waits at most `timeout`.
    pub fn connect(socket: &Path, timeout: Duration) -> Result<Qmp, QmpError> {
        let stream = UnixStream::connect(socket)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let mut qmp = Qmp {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        };
        let greeting = qmp.read_message()?;
        if greeting.get("QMP").is_none() {
            return Err(QmpError::Garbled(greeting.to_string()));
        }
        qmp.execute("qmp_capabilities", json!({}))?;
        Ok(qmp)
    }

    /// Runs `command` with `arguments` and returns its `return` value.
    pub fn execute(&mut self, command: &str, arguments: Value) -> Result<Value, QmpError> {
        let mut line = json!({ "execute": command, "arguments": arguments }).to_string();
        line.push('\n');
        self.writer.write_all(line.as_bytes())?;
        loop {
            let message = self.read_message()?;
            if let Some(value) = message.get("return") {
                return Ok(value.clone());
            }
            if let Some(error) = message.get("error") {
                let desc = error
                    .get("desc")
                    .and_then(Value::as_str)
                    .unwrap_or("error without a description");
                return Err(QmpError::Refused(format!("{command}: {desc}")));
            }
            // An asynchronous event: not the answer.
        }
    }

    /// Writes the guest's screen to `file` as a PNG.
    pub fn screendump_png(&mut self, file: &Path) -> Result<(), QmpError> {
        self.execute(
            "screendump",
            json!({ "filename": file.display().to_string(), "format": "png" }),
        )
        .map(|_| ())
    }

    fn read_message(&mut self) -> Result<Value, QmpError> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(QmpError::Closed);
        }
        serde_json::from_str(&line).map_err(|_| QmpError::Garbled(line.trim().to_string()))
    }
}
