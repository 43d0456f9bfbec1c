//! `netboot check`: validate a fleet and report every problem at once.

use std::path::PathBuf;

use netboot_compiler::{compile, render_all, Diagnostic, ServerOverrides, Severity};

use crate::report_format::Format;

/// What to check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// The fleet description.
    pub fleet: PathBuf,
    /// Warnings fail the check too.
    pub deny_warnings: bool,
    pub overrides: ServerOverrides,
}

/// Every problem found, and what they add up to.
#[derive(Debug, Clone)]
pub struct CheckReport {
    pub fleet: PathBuf,
    pub diagnostics: Vec<Diagnostic>,
    pub errors: usize,
    pub warnings: usize,
    /// Errors, or warnings under `deny_warnings`.
    pub failed: bool,
    /// The fleet could not be read at all (the report holds that one problem).
    pub unreadable: bool,
}

/// Compiles the fleet in memory and collects its diagnostics.
pub fn check(options: &CheckOptions) -> CheckReport {
    let (diagnostics, unreadable) = match compile(&options.fleet, &options.overrides) {
        Ok(c) => (c.warnings, false),
        Err(f) => (f.diagnostics().to_vec(), f.is_io()),
    };
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    CheckReport {
        fleet: options.fleet.clone(),
        failed: errors > 0 || (options.deny_warnings && warnings > 0),
        diagnostics,
        errors,
        warnings,
        unreadable,
    }
}

impl CheckReport {
    /// The report as `format` wants it, and whether it goes to stdout (JSON, for a script)
    /// rather than stderr (miette reports, for a person).
    pub fn render(&self, format: Format) -> (String, bool) {
        match format {
            Format::Human => (self.human(), false),
            Format::Json => (self.json(), true),
        }
    }

    fn human(&self) -> String {
        let mut text = render_all(&self.diagnostics);
        if self.errors == 0 && self.warnings == 0 {
            text += "fleet is valid\n";
        } else {
            text += &format!("{} error(s), {} warning(s)\n", self.errors, self.warnings);
        }
        text
    }

    fn json(&self) -> String {
        let records: Vec<_> = self.diagnostics.iter().map(Diagnostic::to_record).collect();
        let out = serde_json::json!({
            "fleet": self.fleet.display().to_string(),
            "ok": !self.failed,
            "errors": self.errors,
            "warnings": self.warnings,
            "diagnostics": records,
        });
        serde_json::to_string_pretty(&out).expect("JSON values always serialise") + "\n"
    }
}
