//! Diagnostics: every problem the compiler finds, with a stable code, the source it points
//! into, labelled spans and a help line. They render as miette reports (for people) and as
//! plain records (for CI annotations).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

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

/// The longest line a report shows; a problem on a longer one is reported by its position.
pub const MAX_SHOWN_LINE: usize = 1000;

/// The longest message, label or help a report shows whole.
const MAX_SHOWN_TEXT: usize = 240;

/// `text` cut to [`MAX_SHOWN_TEXT`] bytes (at a character boundary), saying how long it was.
fn clip(text: &str) -> String {
    if text.len() <= MAX_SHOWN_TEXT {
        return text.to_string();
    }
    let mut end = MAX_SHOWN_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes in all)", &text[..end], text.len())
}

/// How many problems a report for a person shows; the rest are counted (`check --format
/// json` lists every one). A fleet of 5,000 stray lines is one mistake, not 5,000 to read.
pub const MAX_SHOWN_DIAGNOSTICS: usize = 50;

/// The reports of `diagnostics` (sorted), at most [`MAX_SHOWN_DIAGNOSTICS`] of them, then a
/// line counting the rest.
pub fn render_all(diagnostics: &[Diagnostic]) -> String {
    let mut out: String = diagnostics
        .iter()
        .take(MAX_SHOWN_DIAGNOSTICS)
        .map(Diagnostic::render)
        .collect();
    let rest = &diagnostics[diagnostics.len().min(MAX_SHOWN_DIAGNOSTICS)..];
    if !rest.is_empty() {
        let errors = rest.iter().filter(|d| d.is_error()).count();
        out += &format!(
            "... and {} more not shown ({errors} error(s), {} warning(s)); \
             `netboot check --format json` lists every one\n",
            rest.len(),
            rest.len() - errors
        );
    }
    out
}

/// A file a diagnostic points into: the fleet itself, or a template it references.
#[derive(Debug)]
pub struct SourceFile {
    /// As the user named it (for messages and JSON output).
    pub path: PathBuf,
    pub text: String,
    named: NamedSource<String>,
    /// Where lines start and break, built on the first lookup: a fleet with thousands of
    /// problems asked for each position by scanning the text from its start, and took
    /// minutes to report them.
    lines: OnceLock<LineIndex>,
}

/// Offsets that `line_col` needs, each sorted.
#[derive(Debug)]
struct LineIndex {
    /// The offset after each `\n` or `\r`: a line starts there, except that the `\n` of a
    /// `\r\n` moves the start one further.
    starts: Vec<usize>,
    /// The offset after each line break that counts (`\r\n` once, at its `\r`).
    breaks: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let bytes = text.as_bytes();
        let mut starts = Vec::new();
        let mut breaks = Vec::new();
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'\r' => {
                    starts.push(i + 1);
                    breaks.push(i + 1);
                }
                b'\n' => {
                    starts.push(i + 1);
                    if i == 0 || bytes[i - 1] != b'\r' {
                        breaks.push(i + 1);
                    }
                }
                _ => {}
            }
        }
        LineIndex { starts, breaks }
    }
}

impl SourceFile {
    pub fn new(path: &Path, text: String) -> Arc<SourceFile> {
        let name = path.display().to_string();
        Arc::new(SourceFile {
            path: path.to_path_buf(),
            named: NamedSource::new(name, text.clone()),
            text,
            lines: OnceLock::new(),
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
        let lines = self.lines.get_or_init(|| LineIndex::new(&self.text));
        let breaks = lines.breaks.partition_point(|&b| b <= offset);
        let line_start = match lines.starts.partition_point(|&s| s <= offset) {
            0 => 0,
            n => lines.starts[n - 1],
        };
        let line_text = &self.text[line_start..offset];
        let line_text = line_text.strip_prefix('\u{feff}').unwrap_or(line_text);
        (breaks + 1, line_text.chars().count() + 1)
    }

    /// The length in bytes of the line holding `offset`, without its line break.
    fn line_len(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        let lines = self.lines.get_or_init(|| LineIndex::new(&self.text));
        let n = lines.starts.partition_point(|&s| s <= offset);
        let start = if n == 0 { 0 } else { lines.starts[n - 1] };
        let end = lines
            .starts
            .get(n)
            .map_or(self.text.len(), |&next| next - 1);
        // A `\r\n` ends the line at its `\r`.
        let end = if end > start && self.text.as_bytes()[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        end.saturating_sub(start)
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
    ///
    /// A label on a line longer than [`MAX_SHOWN_LINE`] is reported by its position alone:
    /// miette prints the whole line, once per problem (a 10 KB line with 5,000 problems made a
    /// 100 MB report), and panicked outright on a label past column 65,535.
    pub fn render(&self) -> String {
        let long_line = match (&self.source, self.labels.first()) {
            (Some(src), Some(label)) => {
                let len = src.line_len(label.span.offset);
                (len > MAX_SHOWN_LINE).then(|| (src.clone(), label.span.offset, len))
            }
            _ => None,
        };
        // Messages quote names from the fleet, which can be as long as a line.
        let mut shown = self.clone();
        shown.message = clip(&self.message);
        shown.help = self.help.as_deref().map(clip);
        for label in &mut shown.labels {
            label.text = clip(&label.text);
        }
        if let Some((src, offset, len)) = long_line {
            let (line, column) = src.line_col(offset);
            shown.message = format!(
                "{}\n  at [{}:{line}:{column}] (the line is {len} bytes long, too long to show)",
                shown.message,
                src.path.display()
            );
            shown.labels.clear();
            shown.source = None;
        }
        let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
            .with_links(false)
            .with_width(100);
        // The report must reach the operator even if the renderer fails or panics on input
        // nobody foresaw: `serve` renders on its reload thread, which must not die for it.
        let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut out = String::new();
            handler.render_report(&mut out, &shown).map(|()| out)
        }));
        match rendered {
            Ok(Ok(out)) => out,
            _ => format!("{}: {}\n", self.code, shown.message),
        }
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
        f.write_str(&render_all(&self.diagnostics))?;
        let errors = self.error_count();
        write!(
            f,
            "{errors} error{} found",
            if errors == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for Failure {}

#[cfg(test)]
mod tests {
    use super::*;
    use netboot_test_support::rng::XorShift;

    /// `line_col` as it was before the line index: a scan from the start per call, which is
    /// the definition the index must keep.
    fn line_col_by_scan(text: &str, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind(['\n', '\r']).map_or(0, |i| i + 1);
        let breaks = before.matches('\n').count() + before.matches('\r').count()
            - before.matches("\r\n").count();
        let line_text = &before[line_start..];
        let line_text = line_text.strip_prefix('\u{feff}').unwrap_or(line_text);
        (breaks + 1, line_text.chars().count() + 1)
    }

    #[test]
    fn the_line_index_agrees_with_a_scan_at_every_offset() {
        let pieces = ["a", "\n", "\r", "\r\n", "\u{feff}", "é", "漢", " ", "\n\r"];
        let mut rng = XorShift::new(7);
        for _ in 0..300 {
            let len = rng.below(24) as usize;
            let text: String = (0..len)
                .map(|_| pieces[rng.below(pieces.len() as u64) as usize])
                .collect();
            let src = SourceFile::new(Path::new("f.kdl"), text.clone());
            for offset in 0..=text.len() + 1 {
                assert_eq!(
                    src.line_col(offset),
                    line_col_by_scan(&text, offset),
                    "offset {offset} of {text:?}"
                );
            }
        }
    }

    fn unknown_node_at(src: &Arc<SourceFile>, offset: usize, len: usize) -> Diagnostic {
        Diagnostic::new(Code::UnknownNode, "unknown node")
            .label(Span::new(offset, len), "here")
            .in_source(src)
    }

    #[test]
    fn a_problem_on_a_very_long_line_is_reported_by_position_not_by_the_line() {
        // miette panicked on a label past column 65,535 ("Formatting argument out of range").
        let text = format!("host \"{}\" mac=1\n", "a".repeat(300_000));
        let src = SourceFile::new(Path::new("fleet.kdl"), text.clone());
        let d = unknown_node_at(&src, text.len() - 3, 1);
        let report = d.render();
        assert!(
            report.contains("at [fleet.kdl:1:300012] (the line is 300013 bytes long"),
            "{report}"
        );
        assert!(report.len() < 1000, "{} bytes", report.len());
    }

    #[test]
    fn a_long_message_is_clipped_and_says_how_long_it_was() {
        let src = SourceFile::new(Path::new("fleet.kdl"), "host\n".into());
        let mut d = unknown_node_at(&src, 0, 4);
        d.message = format!("unknown node `{}`", "x".repeat(5000));
        let report = d.render();
        assert!(report.contains("... (5015 bytes in all)"), "{report}");
        assert!(report.len() < 1000, "{} bytes", report.len());
    }

    #[test]
    fn a_report_shows_the_first_problems_and_counts_the_rest() {
        let text = "n;".repeat(60);
        let src = SourceFile::new(Path::new("fleet.kdl"), text);
        let mut all: Vec<Diagnostic> = (0..60).map(|i| unknown_node_at(&src, 2 * i, 1)).collect();
        all[59].severity = Severity::Warning;
        let report = render_all(&all);
        assert_eq!(
            report.matches("unknown node").count(),
            MAX_SHOWN_DIAGNOSTICS
        );
        assert!(
            report.ends_with(
                "... and 10 more not shown (9 error(s), 1 warning(s)); \
                 `netboot check --format json` lists every one\n"
            ),
            "{report}"
        );
        assert!(!render_all(&all[..MAX_SHOWN_DIAGNOSTICS]).contains("more not shown"));
    }
}
