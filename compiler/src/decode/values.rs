//! The shape of nodes and values: entries, positional values and properties, names, URLs
//! and text that lands in an iPXE script. Every other decoder builds on these, so each kind of
//! mistake is reported the same way wherever it is made.

use std::sync::Arc;

use kdl::{KdlEntry, KdlNode, KdlValue};

use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics, SourceFile, Span};
use crate::spanned::Spanned;
use crate::suggest;

/// Walks the document, reporting into `diags`: its core (values, entries, errors) is here, where
/// the boot methods use it too; the parts of the language add theirs, one file each.
pub(crate) struct Decoder<'a> {
    pub(super) src: Arc<SourceFile>,
    pub(super) diags: &'a mut Diagnostics,
}

pub(crate) fn name_span(node: &KdlNode) -> Span {
    node.name().span().into()
}

pub(crate) fn positional(node: &KdlNode) -> Vec<&KdlEntry> {
    node.entries()
        .iter()
        .filter(|e| e.name().is_none())
        .collect()
}

pub(crate) fn children(node: &KdlNode) -> &[KdlNode] {
    node.children().map_or(&[], |c| c.nodes())
}

pub(crate) fn type_name(v: &KdlValue) -> &'static str {
    match v {
        KdlValue::String(_) => "a string",
        KdlValue::Integer(_) => "a number",
        KdlValue::Float(_) => "a decimal number",
        KdlValue::Bool(_) => "a boolean",
        KdlValue::Null => "#null",
    }
}

/// Names of artifacts, profiles, menus, groups and hosts: short, lowercase, path-safe.
pub fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

/// Why `s` is not a URL iPXE can fetch, if it is not.
pub fn url_problem(s: &str) -> Option<&'static str> {
    let Some((scheme, rest)) = s.split_once("://") else {
        return Some("it has no scheme (`http://`, `https://` or `tftp://`)");
    };
    if !matches!(scheme, "http" | "https" | "tftp") {
        return Some("iPXE fetches only http://, https:// and tftp:// URLs");
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return Some("it names no host");
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("it contains whitespace or control characters");
    }
    None
}

/// Why text cannot be put on an iPXE command line verbatim, if it cannot.
pub fn unsafe_text(s: &str) -> Option<&'static str> {
    if s.chars().any(char::is_control) {
        return Some("line breaks or control characters");
    }
    if s.split_whitespace().any(|w| matches!(w, "||" | "&&" | ";")) {
        return Some("a lone `||`, `&&` or `;` (iPXE would read it as a command separator)");
    }
    None
}

impl Decoder<'_> {
    /// Where an entry's value is written: for `key=value`, just the value.
    pub(crate) fn value_span(&self, entry: &KdlEntry) -> Span {
        let full: Span = entry.span().into();
        let Some(key) = entry.name() else { return full };
        let key: Span = key.span().into();
        let bytes = self.src.text.as_bytes();
        let end = (full.offset + full.len).min(bytes.len());
        let mut i = key.offset + key.len;
        while i < end && (bytes[i].is_ascii_whitespace() || bytes[i] == b'=') {
            i += 1;
        }
        if i >= end {
            return full;
        }
        Span::new(i, end - i)
    }

    pub(crate) fn push(&mut self, d: Diagnostic) {
        self.diags.push(d.in_source(&self.src));
    }

    pub(crate) fn error(
        &mut self,
        code: Code,
        message: String,
        span: Span,
        label: &str,
        help: String,
    ) {
        self.push(Diagnostic::new(code, message).label(span, label).help(help));
    }

    pub(crate) fn unknown_node(&mut self, node: &KdlNode, allowed: &[&str], context: &str) {
        let name = node.name().value();
        let help = suggest::help_for(name, allowed.iter().copied(), "node");
        self.error(
            Code::UnknownNode,
            format!("unknown node `{name}` {context}"),
            name_span(node),
            "not a known node here",
            help,
        );
    }

    /// Reports unknown and repeated properties and surplus positional values.
    pub(crate) fn check_entries(
        &mut self,
        node: &KdlNode,
        max_args: usize,
        props: &[&str],
    ) -> bool {
        let mut seen: Vec<(&str, Span)> = Vec::new();
        let mut args = 0;
        let mut unknown = false;
        for entry in node.entries() {
            match entry.name() {
                Some(key) => {
                    let k = key.value();
                    let span: Span = key.span().into();
                    if !props.contains(&k) {
                        unknown = true;
                        let help = if props.is_empty() {
                            format!("`{}` takes no properties", node.name().value())
                        } else {
                            suggest::help_for(k, props.iter().copied(), "property")
                        };
                        self.error(
                            Code::UnknownProperty,
                            format!("unknown property `{k}` on `{}`", node.name().value()),
                            span,
                            "not a known property here",
                            help,
                        );
                    } else if let Some((_, first)) = seen.iter().find(|(n, _)| *n == k) {
                        let first = *first;
                        self.push(
                            Diagnostic::new(
                                Code::DuplicateProperty,
                                format!("property `{k}` is given twice"),
                            )
                            .label(span, "given again here")
                            .label(first, "first given here")
                            .help("keep one of them"),
                        );
                    } else {
                        seen.push((k, span));
                    }
                }
                None => {
                    args += 1;
                    if args > max_args {
                        let help = match max_args {
                            0 => format!("`{}` takes no values", node.name().value()),
                            1 => format!("`{}` takes one value", node.name().value()),
                            n => format!("`{}` takes at most {n} values", node.name().value()),
                        };
                        self.error(
                            Code::UnexpectedValue,
                            format!("too many values for `{}`", node.name().value()),
                            entry.span().into(),
                            "unexpected value",
                            help,
                        );
                    }
                }
            }
        }
        unknown
    }

    pub(crate) fn no_children(&mut self, node: &KdlNode) {
        if let Some(doc) = node.children() {
            if !doc.nodes().is_empty() {
                let inner: Span = doc.span().into();
                // The children span starts inside the braces; point at the `{` itself.
                let brace = self.src.text[..inner.offset.min(self.src.text.len())]
                    .rfind('{')
                    .unwrap_or(inner.offset);
                self.error(
                    Code::UnexpectedChildren,
                    format!("`{}` takes no children", node.name().value()),
                    Span::new(brace, 1),
                    "unexpected block",
                    "remove the `{ … }` block".into(),
                );
            }
        }
    }

    pub(crate) fn string_entry(&mut self, entry: &KdlEntry, what: &str) -> Option<Spanned<String>> {
        match entry.value() {
            KdlValue::String(s) => Some(Spanned::new(s.clone(), self.value_span(entry))),
            other => {
                let found = type_name(other);
                self.error(
                    Code::WrongType,
                    format!("{what} must be a string, found {found}"),
                    self.value_span(entry),
                    "expected a string",
                    "put the value in double quotes".into(),
                );
                None
            }
        }
    }

    pub(crate) fn int_entry(&mut self, entry: &KdlEntry, what: &str) -> Option<Spanned<i128>> {
        match entry.value() {
            KdlValue::Integer(i) => Some(Spanned::new(*i, self.value_span(entry))),
            other => {
                let found = type_name(other);
                self.error(
                    Code::WrongType,
                    format!("{what} must be a whole number, found {found}"),
                    self.value_span(entry),
                    "expected a number",
                    "write the number without quotes, e.g. `8080`".into(),
                );
                None
            }
        }
    }

    /// The `i`th positional string; a missing one is reported with `example` as help.
    pub(crate) fn string_arg(
        &mut self,
        node: &KdlNode,
        i: usize,
        what: &str,
        example: &str,
    ) -> Option<Spanned<String>> {
        match positional(node).get(i) {
            Some(e) => self.string_entry(e, what),
            None => {
                self.error(
                    Code::MissingValue,
                    format!("`{}` needs {what}", node.name().value()),
                    name_span(node),
                    "value missing",
                    format!("write it like `{example}`"),
                );
                None
            }
        }
    }

    pub(crate) fn string_prop(&mut self, node: &KdlNode, key: &str) -> Option<Spanned<String>> {
        let entry = node
            .entries()
            .iter()
            .find(|e| e.name().is_some_and(|n| n.value() == key))?;
        self.string_entry(entry, &format!("`{key}`"))
    }

    pub(crate) fn bool_prop(&mut self, node: &KdlNode, key: &str) -> Option<Spanned<bool>> {
        let entry = node
            .entries()
            .iter()
            .find(|e| e.name().is_some_and(|n| n.value() == key))?;
        match entry.value() {
            KdlValue::Bool(b) => Some(Spanned::new(*b, self.value_span(entry))),
            other => {
                let found = type_name(other);
                self.error(
                    Code::WrongType,
                    format!("`{key}` must be #true or #false, found {found}"),
                    self.value_span(entry),
                    "expected #true or #false",
                    format!("write it like `{key}=#true` (KDL v2 booleans start with `#`)"),
                );
                None
            }
        }
    }

    pub(crate) fn name_arg(&mut self, node: &KdlNode, what: &str) -> Option<Spanned<String>> {
        let kw = node.name().value().to_string();
        let name = self.string_arg(
            node,
            0,
            &format!("a {what} name"),
            &format!("{kw} \"my-{what}\""),
        )?;
        self.check_name(&name, what);
        Some(name)
    }

    pub(crate) fn check_name(&mut self, name: &Spanned<String>, what: &str) {
        if !valid_name(&name.value) {
            self.error(
                Code::BadName,
                format!("`{}` is not a valid {what} name", name.value),
                name.span,
                "invalid name",
                "names are 1 to 63 characters of a-z, 0-9, `.`, `_` and `-`, starting with a letter or digit".into(),
            );
        }
    }

    /// Several identical children (`title` twice): label both.
    pub(crate) fn once<'n>(&mut self, seen: &mut Vec<(&'n str, Span)>, node: &'n KdlNode) -> bool {
        let name = node.name().value();
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
            let first = *first;
            self.push(
                Diagnostic::new(Code::DuplicateSetting, format!("`{name}` is given twice"))
                    .label(name_span(node), "given again here")
                    .label(first, "first given here")
                    .help("keep one of them"),
            );
            return false;
        }
        seen.push((name, name_span(node)));
        true
    }

    /// Text that lands on an iPXE command line verbatim (titles, labels): iPXE has no quoting,
    /// so a newline or a lone `||`, `&&` or `;` would end the command and start another.
    pub(crate) fn check_text(&mut self, text: &Spanned<String>, what: &str) {
        // `menu TITLE` and `item --gap TEXT` would parse a leading dash as an option.
        let dash = text.value.trim_start().starts_with('-');
        let why = unsafe_text(&text.value)
            .or(dash.then_some("a leading `-` (iPXE would read it as an option)"));
        if let Some(why) = why {
            self.error(
                Code::UnsafeText,
                format!("{what} cannot contain {why}"),
                text.span,
                "unsafe in an iPXE script",
                "iPXE has no quoting: use plain text (`${var}` expansions are allowed)".into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_spec() {
        assert!(valid_name("debian-12.x_y"));
        assert!(valid_name("0day"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("Debian"));
        assert!(!valid_name(""));
        assert!(!valid_name(&"a".repeat(64)));
        assert!(valid_name(&"a".repeat(63)));
    }

    #[test]
    fn urls_need_a_fetchable_scheme_and_host() {
        assert_eq!(url_problem("https://boot.netboot.xyz"), None);
        assert_eq!(url_problem("tftp://10.0.0.1/x"), None);
        assert!(url_problem("boot.netboot.xyz").is_some());
        assert!(url_problem("ftp://x/y").is_some());
        assert!(url_problem("http:///path").is_some());
        assert!(url_problem("http://a b").is_some());
    }

    #[test]
    fn text_with_separators_is_unsafe() {
        assert!(unsafe_text("Install Debian 12").is_none());
        assert!(unsafe_text("a || b").is_some());
        assert!(unsafe_text("a;b").is_none());
        assert!(unsafe_text("line\nbreak").is_some());
    }
}
