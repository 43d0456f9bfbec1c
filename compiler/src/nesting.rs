//! A depth bound on `{ … }` blocks, checked on the raw text before the KDL parser sees it.
//!
//! The `kdl` parser (and every stage after it) recurses once per block level. A fleet of a few
//! hundred nested `a {` overflowed the 2 MiB stack of `serve`'s reload thread and aborted the
//! whole process, DHCP, TFTP and HTTP with it; about 1,400 levels overflowed the main thread's
//! 8 MiB. No real fleet nests deeper than a handful of submenus, so a bound far below either
//! limit costs nothing and turns the crash into a located diagnostic.
//!
//! The scan only has to know which braces are structure: it skips strings (quoted, multi-line
//! `"""`, raw `#"…"#`) and comments (`//`, nested `/* */`). If it misreads something exotic it
//! stops counting at worst; the parser then reports the real syntax error.

/// The deepest `{ … }` nesting a fleet may have. Menus of menus of menus are three levels.
pub const MAX_NESTING: usize = 64;

/// The most `{` any text may have open at once counting every brace, in strings and comments
/// too. The scan's idea of where a string ends can differ from the parser's on broken text
/// (for the parser a NUL ends a string; for the scan it does not), and a fuzzer found the
/// parser descending into a few hundred braces the scan took for a string's text. Counted
/// blindly, braces bound what the parser can see whatever it makes of them; no real fleet has
/// this many open even in its strings, and the parser is far from its stack's end here.
pub const MAX_RAW_BRACES: usize = 256;

/// Pieces of one block comment (each `/`, each `*`, each run of other bytes) the parser may
/// recurse through: it recurses once per piece, and a comment of 20,000 slashes overflowed the
/// compile thread's stack in a debug build. Commented-out fleet text stays far below this.
pub const MAX_COMMENT_PIECES: usize = 4096;

/// What makes a text too deep to hand to the parser, at which byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TooDeep {
    /// The first `{` that opens a block deeper than [`MAX_NESTING`].
    Block(usize),
    /// The start of a block comment longer than [`MAX_COMMENT_PIECES`].
    Comment(usize),
    /// The first `{` beyond [`MAX_RAW_BRACES`] open ones, strings and comments included.
    Braces(usize),
}

/// The first reason the parser could recurse too deep on `text`, if any.
///
/// The scan fails closed: where a string or comment does not end, it carries on counting from
/// the next byte, since the parser's error recovery carries on parsing there too.
pub fn too_deep(text: &str) -> Option<TooDeep> {
    blocks_too_deep(text).or_else(|| raw_braces_too_deep(text.as_bytes()))
}

/// The first `{` beyond [`MAX_RAW_BRACES`] open ones, strings and comments included.
fn raw_braces_too_deep(bytes: &[u8]) -> Option<TooDeep> {
    let mut open = 0usize;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'{' => {
                open += 1;
                if open > MAX_RAW_BRACES {
                    return Some(TooDeep::Braces(i));
                }
            }
            b'}' => open = open.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// The structural bound: `{` outside strings and comments.
fn blocks_too_deep(text: &str) -> Option<TooDeep> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(TooDeep::Block(i));
                }
                i += 1;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'"' => i = skip_quoted(bytes, i).unwrap_or(i + 1),
            b'#' => i = skip_raw(bytes, i).unwrap_or(i + 1),
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = line_end(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'*') => match skip_block_comment(bytes, i) {
                Comment::Ends(end) => i = end,
                Comment::TooLong => return Some(TooDeep::Comment(i)),
                Comment::Unclosed => i += 2,
            },
            _ => i += 1,
        }
    }
    None
}

/// The length of the KDL newline at `i` (CRLF, CR, LF, VT, FF, NEL, LS, PS), 0 if none.
fn newline_at(bytes: &[u8], i: usize) -> usize {
    let rest = &bytes[i..];
    if rest.starts_with(b"\r\n") {
        2
    } else if matches!(rest.first(), Some(b'\r' | b'\n' | 0x0B | 0x0C)) {
        1
    } else if rest.starts_with(&[0xC2, 0x85]) {
        2
    } else if rest.starts_with(&[0xE2, 0x80, 0xA8]) || rest.starts_with(&[0xE2, 0x80, 0xA9]) {
        3
    } else {
        0
    }
}

/// Where the line holding offset `i` ends (the offset of its newline, or the text's end).
fn line_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && newline_at(bytes, i) == 0 {
        i += 1;
    }
    i
}

/// `"…"` or `"""…"""` starting at `start`, with backslash escapes; the offset after it. A
/// single-line string ends at a newline (KDL allows none in it), so an unclosed one cannot hide
/// the lines after it.
fn skip_quoted(bytes: &[u8], start: usize) -> Option<usize> {
    let multiline = bytes[start..].starts_with(b"\"\"\"");
    let close: &[u8] = if multiline { b"\"\"\"" } else { b"\"" };
    let mut i = start + close.len();
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            // An escape, or `\` with whitespace and newlines after it, which KDL skips.
            i += 1;
            let mut gap = i;
            while gap < bytes.len()
                && (matches!(bytes[gap], b' ' | b'\t') || newline_at(bytes, gap) > 0)
            {
                gap += newline_at(bytes, gap).max(1);
            }
            i = if gap > i { gap } else { i + 1 };
        } else if bytes[i..].starts_with(close) {
            return Some(i + close.len());
        } else if !multiline && newline_at(bytes, i) > 0 {
            return Some(i);
        } else {
            i += 1;
        }
    }
    None
}

/// A raw string `#"…"#` (any number of `#`, single or triple quote) starting at `start`, or a
/// keyword like `#true` (the `#` alone is skipped); the offset after it.
fn skip_raw(bytes: &[u8], start: usize) -> Option<usize> {
    let hashes = bytes[start..].iter().take_while(|&&b| b == b'#').count();
    let quote = start + hashes;
    if bytes.get(quote) != Some(&b'"') {
        return Some(quote);
    }
    let quotes = if bytes[quote..].starts_with(b"\"\"\"") {
        3
    } else {
        1
    };
    let mut close = vec![b'"'; quotes];
    close.extend(std::iter::repeat_n(b'#', hashes));
    let body = quote + quotes;
    bytes[body..]
        .windows(close.len())
        .position(|w| w == close.as_slice())
        .map(|n| body + n + close.len())
}

/// How a block comment starting at some offset ends.
enum Comment {
    /// The offset after its closing `*/`.
    Ends(usize),
    /// More than [`MAX_COMMENT_PIECES`] pieces before it ends.
    TooLong,
    /// It never ends.
    Unclosed,
}

/// A `/* … */` comment, which KDL lets nest.
fn skip_block_comment(bytes: &[u8], start: usize) -> Comment {
    let mut depth = 0usize;
    let mut pieces = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1)) {
            (b'/', Some(b'*')) => {
                depth += 1;
                i += 2;
                pieces += 2;
            }
            (b'*', Some(b'/')) => {
                depth -= 1;
                i += 2;
                pieces += 2;
                if depth == 0 {
                    return Comment::Ends(i);
                }
            }
            (b'/' | b'*', _) => {
                i += 1;
                pieces += 1;
            }
            _ => {
                while i < bytes.len() && !matches!(bytes[i], b'/' | b'*') {
                    i += 1;
                }
                pieces += 1;
            }
        }
        if pieces > MAX_COMMENT_PIECES {
            return Comment::TooLong;
        }
    }
    Comment::Unclosed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(n: usize) -> String {
        format!("{}{}\n", "a {".repeat(n), "}".repeat(n))
    }

    #[test]
    fn the_bound_itself_is_allowed_one_more_is_not() {
        assert_eq!(too_deep(&nested(MAX_NESTING)), None);
        let deeper = nested(MAX_NESTING + 1);
        assert_eq!(too_deep(&deeper), Some(TooDeep::Block(3 * MAX_NESTING + 2)));
    }

    #[test]
    fn siblings_do_not_add_up() {
        let text = "a { b {} }\n".repeat(MAX_NESTING * 2);
        assert_eq!(too_deep(&text), None);
    }

    #[test]
    fn braces_in_strings_and_comments_are_not_blocks() {
        let many = "{".repeat(MAX_NESTING + 5);
        for text in [
            format!("n \"{many}\""),
            format!("n \"\\\"{many}\""),
            format!("n \"\"\"\n  a \"q\" {many}\n  \"\"\""),
            format!("n #\"{many}\"#"),
            format!("n ##\"\"#{many}\"##"),
            format!("n #\"\"\"\n{many}\n\"\"\"#"),
            format!("// {many}\nn"),
            format!("/* /* {many} */ {many} */ n"),
            format!("n #true \"{many}\""),
        ] {
            assert_eq!(too_deep(&text), None, "{text}");
        }
    }

    #[test]
    fn slashdashed_blocks_still_count() {
        // The parser descends into a `/-` commented block too, so it must be bounded.
        let text = format!("/-{}", nested(MAX_NESTING + 1));
        assert!(too_deep(&text).is_some());
    }

    /// Three ways past the first version of this scan, each a few KB that overflowed the
    /// parser's stack (found in review, checked against kdl 6.7.1 on a 2 MiB thread).
    #[test]
    fn comments_and_strings_do_not_hide_nesting() {
        let deep = nested(MAX_NESTING + 1);
        // A `//` comment ends at every KDL newline, not only at `\n`.
        for newline in [
            "\r", "\r\n", "\u{b}", "\u{c}", "\u{85}", "\u{2028}", "\u{2029}",
        ] {
            let text = format!("// x{newline}{deep}");
            assert!(
                matches!(too_deep(&text), Some(TooDeep::Block(_))),
                "{newline:?}"
            );
        }
        // An unclosed single-line string ends at its line; an unclosed anything does not stop
        // the count, since the parser's recovery goes on parsing after it.
        assert!(too_deep(&format!("n \"abc\n{deep}\n\"")).is_some());
        assert!(too_deep(&format!("n \"{}", "{".repeat(100))).is_some());
        assert!(too_deep(&format!("n #\"abc\n{deep}")).is_some());
        assert_eq!(too_deep("/* a {"), None);
        // The parser recurses once per `/` or `*` of a block comment.
        let slashes = format!("/* {} */ n", "/".repeat(5_000));
        assert_eq!(too_deep(&slashes), Some(TooDeep::Comment(0)));
        let commented = format!(
            "/* {} */ n",
            "a long line // with http://x/y urls\n".repeat(100)
        );
        assert_eq!(too_deep(&commented), None);
    }

    /// Found by the compile fuzzer: the parser ends a string at a NUL and parses the braces
    /// after it as blocks, which the scan had counted as the string's text.
    #[test]
    fn braces_the_parser_may_not_take_for_a_string_are_bounded_too() {
        let text = format!("n \"{}\0{}\"", "{".repeat(200), "{".repeat(200));
        assert_eq!(too_deep(&text), Some(TooDeep::Braces(3 + 200 + 1 + 56)));
        let just_under = format!("n \"{}\"", "{".repeat(MAX_RAW_BRACES));
        assert_eq!(too_deep(&just_under), None);
    }

    #[test]
    fn an_escaped_newline_continues_a_string() {
        // KDL's `\` + whitespace (line continuation): the string goes on, and so do its braces.
        let text = format!("n \"a \\\n   {} b\"", "{".repeat(100));
        assert_eq!(too_deep(&text), None);
    }
}
