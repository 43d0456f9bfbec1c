//! HTML escaping for everything a client chose: MACs and IPs are ours to format, but file
//! names, user agents and error texts are not.
//!
//! [`Html`] is the escaper askama applies to every `{{ }}` of the runtime's `.html`
//! templates (see `runtime/askama.toml`), so escaping is the default and opting out would
//! take a visible `|safe`. It is ours rather than askama's own for two reasons: a TFTP file
//! name may hold any byte, and control characters must not upset the layout; and the named
//! entities (`&quot;`) are the ones the page has always used.

use std::fmt::{self, Write};

/// Text safe inside an element or a double- or single-quoted attribute. Control characters
/// become U+FFFD.
#[derive(Debug, Clone, Copy, Default)]
pub struct Html;

impl askama::filters::Escaper for Html {
    fn write_escaped_str<W: Write>(&self, mut dest: W, text: &str) -> fmt::Result {
        let mut clean = 0;
        for (at, c) in text.char_indices() {
            let escaped = match c {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                '\'' => "&#39;",
                c if c.is_control() => "\u{FFFD}",
                _ => continue,
            };
            dest.write_str(&text[clean..at])?;
            dest.write_str(escaped)?;
            clean = at + c.len_utf8();
        }
        dest.write_str(&text[clean..])
    }
}

#[cfg(test)]
mod tests {
    use askama::filters::Escaper;

    use super::*;

    fn html(text: &str) -> String {
        let mut out = String::new();
        Html.write_escaped_str(&mut out, text).unwrap();
        out
    }

    #[test]
    fn markup_quotes_and_controls_are_neutralised() {
        assert_eq!(
            html(r#"<script>alert("x")</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
        );
        assert_eq!(html("a'b&c"), "a&#39;b&amp;c");
        assert_eq!(html("line\nbreak\0"), "line\u{FFFD}break\u{FFFD}");
        assert_eq!(
            html("hosts/52-54-00-e2-e0-01.ipxe"),
            "hosts/52-54-00-e2-e0-01.ipxe"
        );
        assert_eq!(html("Grüße"), "Grüße");
        assert_eq!(html("\u{85}é<"), "\u{FFFD}é&lt;");
    }
}
