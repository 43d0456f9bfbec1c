//! Log output: one line per protocol step on stderr, human-readable or JSON.
//!
//! The text form writes each field as logfmt does: `key=value`, the value in double quotes
//! (with `"` and `\` escaped) exactly when it needs them: empty, or holding a space, a quote,
//! an `=` or a control character. tracing's default quoted every `&str` field and no
//! `%`-formatted one, so `method="GET"` sat beside `file=boot.ipxe`, and a file name with a
//! space in it read as two fields.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Installs the global subscriber. `RUST_LOG` overrides the default level (info).
pub fn init(format: LogFormat) {
    init_at(format, "info");
}

/// [`init`] with another default level (`RUST_LOG` still overrides it).
pub fn init_at(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(false).fmt_fields(Logfmt).init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// The text form's fields; see the module comment.
struct Logfmt;

impl<'w> FormatFields<'w> for Logfmt {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = Fields {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct Fields<'w> {
    writer: Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl Fields<'_> {
    fn field(&mut self, name: &str, value: &str) {
        if self.result.is_err() {
            return;
        }
        let separator = if std::mem::take(&mut self.first) {
            ""
        } else {
            " "
        };
        self.result = if name == "message" {
            // The event's sentence, unlabelled, as tracing writes it.
            write!(self.writer, "{separator}{value}")
        } else {
            // `log` records carried into tracing name their fields `log.target` and so on.
            write!(self.writer, "{separator}{name}={}", logfmt_value(value))
        };
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field.name(), value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(field.name(), &format!("{value:?}"));
    }
}

/// `value` as logfmt writes it: bare when it is one plain token, else quoted and escaped.
fn logfmt_value(value: &str) -> std::borrow::Cow<'_, str> {
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '=' | '\\'));
    if plain {
        return value.into();
    }
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => quoted.extend(c.escape_default()),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted.into()
}

#[cfg(test)]
mod tests {
    use super::logfmt_value;

    #[test]
    fn a_value_is_quoted_exactly_when_it_needs_it() {
        assert_eq!(logfmt_value("GET"), "GET");
        assert_eq!(logfmt_value("boot.ipxe"), "boot.ipxe");
        assert_eq!(logfmt_value("45.044"), "45.044");
        assert_eq!(logfmt_value(""), r#""""#);
        assert_eq!(logfmt_value("file not found"), r#""file not found""#);
        assert_eq!(logfmt_value("a=b"), r#""a=b""#);
        assert_eq!(logfmt_value(r#"say "hi""#), r#""say \"hi\"""#);
        assert_eq!(logfmt_value(r"C:\boot"), r#""C:\\boot""#);
        // A client's name cannot start a new log line.
        assert_eq!(logfmt_value("x\nINFO forged"), r#""x\nINFO forged""#);
    }
}
