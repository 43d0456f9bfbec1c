//! Diagnostics: every problem the compiler finds, with a stable code, the source it points
//! into, labelled spans and a help line. They render as miette reports (for people) and as
//! plain records (for CI annotations).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};
use serde::Serialize;

use crate::codes::{Code, Severity};

/// A byte range in one source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub offset: usize,
    pub len: usize,
}

impl Span {
    pub fn new(offset: usize, len: usize) -> Span {
        Span { offset, len }
    }
}

impl From<miette::SourceSpan> for Span {
    fn from(s: miette::SourceSpan) -> Span {
        Span::new(s.offset(), s.len())
    }
}

/// A file a diagnostic points into: the fleet itself, or a template it references.
#[derive(Debug)]
pub struct SourceFile {
    /// As the user named it (for messages and JSON output).
    pub path: PathBuf,
    pub text: String,
    named: NamedSource<String>,
}

impl SourceFile {
    pub fn new(path: &Path, text: String) -> Arc<SourceFile> {
        let name = path.display().to_string();
        Arc::new(SourceFile {
            path: path.to_path_buf(),
            named: NamedSource::new(name, text.clone()),
            text,
        })
    }

    /// 1-based line and column of a byte offset, as an editor shows them: columns count
    /// characters (not bytes), a byte-order mark is not one, and `\r\n`, `\n` and a lone `\r`
    /// each end a line. The human (miette) and JSON output both use this.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line_start = before.rfind(['\n', '\r']).map_or(0, |i| i + 1);
        let breaks = before.matches('\n').count() + before.matches('\r').count()
            - before.matches("\r\n").count();
        let line_text = &before[line_start..];
        let line_text = line_text.strip_prefix('\u{feff}').unwrap_or(line_text);
        (breaks + 1, line_text.chars().count() + 1)
    }
}

/// miette reads the snippet from the file as it is, but counts the column in its header in
/// bytes; this puts the same character column there that `line_col` (and so JSON) reports.
impl miette::SourceCode for SourceFile {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let contents = self
            .named
            .read_span(span, context_lines_before, context_lines_after)?;
        let (line, column) = self.line_col(span.offset());
        let (first_line, _) = self.line_col(contents.span().offset());
        // miette's line is that of the first line it returns (context included), its column
        // that of the span asked for.
        let line = if context_lines_before == 0 {
            line - 1
        } else {
            first_line - 1
        };
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.path.display().to_string(),
            contents.data(),
            *contents.span(),
            line,
            column - 1,
            contents.line_count(),
        )))
    }
}

/// One labelled span.
#[derive(Debug, Clone)]
pub struct Label {
    pub span: Span,
    pub text: String,
}

/// One problem found in a fleet.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// Stable identifier, `fleet::<kebab-case>`: the name of a [`Code`] of the registry.
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    /// The first label is the primary location (line and column in JSON output).
    pub labels: Vec<Label>,
    pub help: Option<String>,
    /// The file the labels point into; `None` for problems with no location (unreadable fleet).
    pub source: Option<Arc<SourceFile>>,
}

impl Diagnostic {
    /// A diagnostic of a registered code, with the code's severity.
    pub fn new(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code: code.name(),
            severity: code.severity(),
            message: message.into(),
            labels: Vec::new(),
            help: None,
            source: None,
        }
    }

    pub fn label(mut self, span: Span, text: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            text: text.into(),
        });
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn in_source(mut self, source: &Arc<SourceFile>) -> Diagnostic {
        self.source = Some(source.clone());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// 1-based line and column of the primary label, if any.
    pub fn line_col(&self) -> Option<(usize, usize)> {
        let src = self.source.as_ref()?;
        let label = self.labels.first()?;
        Some(src.line_col(label.span.offset))
    }

    /// The machine-readable form used by `netboot check --format json`.
    pub fn to_record(&self) -> DiagnosticRecord {
        let (line, column) = self
            .line_col()
            .map_or((None, None), |(l, c)| (Some(l), Some(c)));
        let (end_line, end_column) = match (&self.source, self.labels.first()) {
            (Some(src), Some(l)) => {
                let (el, ec) = src.line_col(l.span.offset + l.span.len);
                (Some(el), Some(ec))
            }
            _ => (None, None),
        };
        DiagnosticRecord {
            file: self.source.as_ref().map(|s| s.path.display().to_string()),
            line,
            column,
            end_line,
            end_column,
            severity: self.severity,
            code: self.code,
            message: self.message.clone(),
            help: self.help.clone(),
        }
    }

    /// miette's graphical report, without colour (what the server logs and `check` prints).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
            .with_links(false)
            .with_width(100);
        if handler.render_report(&mut out, self).is_err() {
            out = format!("{}: {}\n", self.code, self.message);
        }
        out
    }

    fn sort_key(&self) -> (String, usize, &'static str) {
        let file = self
            .source
            .as_ref()
            .map(|s| s.path.display().to_string())
            .unwrap_or_default();
        let offset = self.labels.first().map_or(0, |l| l.span.offset);
        (file, offset, self.code)
    }
}

/// A diagnostic flattened for JSON output: one record per problem.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DiagnosticRecord {
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub end_line: Option<usize>,
    pub end_column: Option<usize>,
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    pub help: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source
            .as_ref()
            .map(|s| s.as_ref() as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.source.is_none() || self.labels.is_empty() {
            return None;
        }
        Some(Box::new(self.labels.iter().enumerate().map(|(i, l)| {
            let span = (l.span.offset, l.span.len);
            if i == 0 {
                LabeledSpan::new_primary_with_span(Some(l.text.clone()), span)
            } else {
                LabeledSpan::new_with_span(Some(l.text.clone()), span)
            }
        })))
    }
}

/// Collects diagnostics while the compiler walks the fleet.
#[derive(Debug, Default)]
pub struct Diagnostics {
    list: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.list.push(d);
    }

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(Diagnostic::is_error)
    }

    /// Sorted by file and position so output reads top to bottom and is stable.
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.list.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        self.list
    }
}

/// Why a compile produced nothing: every diagnostic found (errors and warnings).
#[derive(Debug, Clone)]
pub struct Failure {
    diagnostics: Vec<Diagnostic>,
    io: bool,
}

impl Failure {
    pub(crate) fn new(diagnostics: Vec<Diagnostic>) -> Failure {
        Failure {
            diagnostics,
            io: false,
        }
    }

    /// The fleet file itself could not be read: a usage or I/O problem, not a fleet error.
    pub(crate) fn io(path: &Path, err: &std::io::Error) -> Failure {
        Failure {
            diagnostics: vec![Diagnostic::new(
                Code::Unreadable,
                format!("cannot read fleet {}: {err}", path.display()),
            )],
            io: true,
        }
    }

    /// Every diagnostic, errors and warnings, sorted by position.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// True when the fleet file could not be read at all (exit code 2, not 1).
    pub fn is_io(&self) -> bool {
        self.io
    }

    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.diagnostics {
            f.write_str(&d.render())?;
        }
        let errors = self.error_count();
        write!(
            f,
            "{errors} error{} found",
            if errors == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for Failure {}
