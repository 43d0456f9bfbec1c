//! HTML escaping for everything a client chose: MACs and IPs are ours to format, but file
//! names, user agents and error texts are not.

/// Text safe inside an element or a double- or single-quoted attribute. Control characters
/// (a TFTP file name may hold any byte) become U+FFFD so they cannot upset the layout.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Appends `text` escaped.
pub fn push(out: &mut String, text: &str) {
    out.push_str(&html(text));
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
