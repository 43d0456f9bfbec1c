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

/// The byte offset of the first `{` that opens a block deeper than [`MAX_NESTING`].
pub fn too_deep(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
                i += 1;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'"' => i = skip_quoted(bytes, i)?,
            b'#' => i = skip_raw(bytes, i)?,
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = bytes[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |n| i + n);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = skip_block_comment(bytes, i)?,
            _ => i += 1,
        }
    }
    None
}

/// `"…"` or `"""…"""` starting at `start`, with backslash escapes; the offset after it.
fn skip_quoted(bytes: &[u8], start: usize) -> Option<usize> {
    let close: &[u8] = if bytes[start..].starts_with(b"\"\"\"") {
        b"\"\"\""
    } else {
        b"\""
    };
    let mut i = start + close.len();
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            i += 2;
        } else if bytes[i..].starts_with(close) {
            return Some(i + close.len());
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

/// A `/* … */` comment, which KDL lets nest; the offset after it.
fn skip_block_comment(bytes: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => i += 1,
        }
    }
    None
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
        assert_eq!(too_deep(&deeper), Some(3 * MAX_NESTING + 2));
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

    #[test]
    fn unterminated_strings_stop_the_scan_not_the_parser() {
        assert_eq!(too_deep(&format!("n \"{}", "{".repeat(100))), None);
        assert_eq!(too_deep("/* a {"), None);
    }
}
