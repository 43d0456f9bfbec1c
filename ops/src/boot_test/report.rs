//! The result of a `netboot test` run, for a person, as JSON, or as JUnit XML (the Ant JUnit
//! schema: `testsuites` / `testsuite` with its required attributes / `testcase` / `failure`,
//! plus the `properties`, `system-out` and `system-err` elements it asks for).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::SystemTime;

use netboot_runtime::status::units::utc;

use super::judge::Failure;
use super::plan::Case;

/// How the result is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestFormat {
    Human,
    Json,
    Junit,
}

impl TestFormat {
    /// The result file's name inside `--report DIR`.
    pub fn file_name(self) -> &'static str {
        match self {
            TestFormat::Human => "result.txt",
            TestFormat::Json => "result.json",
            TestFormat::Junit => "junit.xml",
        }
    }
}

/// One VM's result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseResult {
    #[serde(flatten)]
    pub case: Case,
    pub passed: bool,
    pub failure: Option<Failure>,
    /// How many of the steps happened.
    pub steps_done: usize,
    pub seconds: f64,
    /// The last lines of the VM's serial console.
    pub console_tail: Vec<String>,
    /// What the server recorded for this machine during this VM's run.
    pub server_lines: Vec<String>,
    /// The serial log and screenshot in the report directory, when one was asked for.
    pub serial_log: Option<PathBuf>,
    pub screenshot: Option<PathBuf>,
}

/// A whole run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TestRun {
    pub fleet: String,
    pub accel: &'static str,
    pub passed: usize,
    pub failed: usize,
    /// Cases that could not be booted here though nothing is wrong with them
    /// ([`Case::skipped`]); they do not fail the run.
    pub skipped: usize,
    pub seconds: f64,
    pub cases: Vec<CaseResult>,
    #[serde(skip)]
    pub started: SystemTime,
}

impl TestRun {
    /// Every case that could run here booted (skipped ones aside).
    pub fn all_passed(&self) -> bool {
        self.failed == 0
    }
}

pub fn render(run: &TestRun, format: TestFormat) -> String {
    match format {
        TestFormat::Human => human(run),
        TestFormat::Json => {
            serde_json::to_string_pretty(run).expect("a run always serialises") + "\n"
        }
        TestFormat::Junit => junit(run),
    }
}

fn human(run: &TestRun) -> String {
    let mut out = String::new();
    for c in &run.cases {
        if let Some(why) = &c.case.skipped {
            let _ = writeln!(
                out,
                "SKIP {} ({}, {}): {why}",
                c.case.name, c.case.mac, c.case.firmware
            );
            continue;
        }
        let mark = if c.passed { "PASS" } else { "FAIL" };
        let _ = writeln!(
            out,
            "{mark} {} ({}, {}) in {:.1} s: {}/{} steps",
            c.case.name,
            c.case.mac,
            c.case.firmware,
            c.seconds,
            c.steps_done,
            c.case.steps.len()
        );
        for note in &c.case.notes {
            let _ = writeln!(out, "     note: {note}");
        }
        if let Some(f) = &c.failure {
            let _ = writeln!(out, "     never happened: {}", f.step);
            let _ = writeln!(out, "     {}", f.why);
            if !c.server_lines.is_empty() {
                let _ = writeln!(out, "     server, for this machine:");
                for l in &c.server_lines {
                    let _ = writeln!(out, "       {l}");
                }
            }
            if !c.console_tail.is_empty() {
                let _ = writeln!(out, "     console, last lines:");
                for l in &c.console_tail {
                    let _ = writeln!(out, "       | {l}");
                }
            }
        }
        for (what, path) in [("serial log", &c.serial_log), ("screen", &c.screenshot)] {
            if let Some(p) = path {
                let _ = writeln!(out, "     {what}: {}", p.display());
            }
        }
    }
    let _ = write!(out, "{} passed, {} failed", run.passed, run.failed);
    if run.skipped > 0 {
        let _ = write!(out, ", {} skipped", run.skipped);
    }
    let _ = writeln!(out, " ({:.0} s, {})", run.seconds, run.accel);
    if run.skipped > 0 && run.all_passed() {
        // Said outright: exit code 0 here means "everything that could run here booted".
        let _ = writeln!(
            out,
            "every machine that can boot here booted; the skipped ones were not tried (exit code 0)"
        );
    }
    out
}

fn junit(run: &TestRun) -> String {
    let name = xml(&run.fleet);
    let stamp = utc(run.started).replace(' ', "T");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    let (tests, failures, skipped, time) = (run.cases.len(), run.failed, run.skipped, run.seconds);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"netboot test\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{time:.3}\">"
    );
    let _ = writeln!(
        out,
        "  <testsuite package=\"netboot\" id=\"0\" name=\"{name}\" timestamp=\"{stamp}\" hostname=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{time:.3}\">",
        xml(&host)
    );
    out.push_str("    <properties>\n");
    let _ = writeln!(
        out,
        "      <property name=\"accel\" value=\"{}\"/>",
        run.accel
    );
    out.push_str("    </properties>\n");
    for c in &run.cases {
        let _ = write!(
            out,
            "    <testcase name=\"{}\" classname=\"netboot.{}\" time=\"{:.3}\"",
            xml(&c.case.name),
            xml(&c.case.firmware.to_string()),
            c.seconds
        );
        if let Some(why) = &c.case.skipped {
            let _ = writeln!(
                out,
                ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                xml(why)
            );
            continue;
        }
        match &c.failure {
            None => out.push_str("/>\n"),
            Some(f) => {
                out.push_str(">\n");
                let mut body = format!("{}\n", f.why);
                if !c.server_lines.is_empty() {
                    body.push_str("server, for this machine:\n");
                    for l in &c.server_lines {
                        let _ = writeln!(body, "  {l}");
                    }
                }
                if !c.console_tail.is_empty() {
                    body.push_str("console, last lines:\n");
                    for l in &c.console_tail {
                        let _ = writeln!(body, "  | {l}");
                    }
                }
                let _ = writeln!(
                    out,
                    "      <failure message=\"never happened: {}\" type=\"BootFailed\">{}</failure>",
                    xml(&f.step),
                    xml(&body)
                );
                out.push_str("    </testcase>\n");
            }
        }
    }
    out.push_str("    <system-out/>\n    <system-err/>\n  </testsuite>\n</testsuites>\n");
    out
}

/// Text for an XML attribute or element: markup escaped, and the control characters XML 1.0
/// forbids (firmware consoles are full of them) dropped.
pub fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_escape_codes_and_markup_never_break_the_xml() {
        assert_eq!(
            xml("a<b>&\"c'\u{1b}[2J\u{0}\n"),
            "a&lt;b&gt;&amp;&quot;c&apos;[2J\n"
        );
    }
}
