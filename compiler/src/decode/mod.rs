//! KDL document → typed [`Fleet`]. Checks shape and value syntax (unknown nodes and
//! properties, missing values, wrong types, malformed MACs, addresses, ports, URLs, hashes,
//! names); references between items are checked later by `validate`.

use std::sync::Arc;

use kdl::KdlDocument;

use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics, SourceFile, Span};
use crate::fleet::*;
use crate::nesting;

mod artifacts;
mod full_dhcp;
mod hosts;
mod loaders;
mod menus;
mod profiles;
mod relayed_subnet;
mod server;
pub(crate) mod values;

pub use values::unsafe_text;
use values::{name_span, Decoder};

/// Parses and decodes; syntax errors stop here (nothing else can be trusted after them).
pub fn decode(src: &Arc<SourceFile>, diags: &mut Diagnostics) -> Option<Fleet> {
    if let Some(deep) = nesting::too_deep(&src.text) {
        let d = match deep {
            nesting::TooDeep::Block(offset) => Diagnostic::new(
                Code::TooDeep,
                format!(
                    "blocks nest more than {} levels deep",
                    nesting::MAX_NESTING
                ),
            )
            .label(Span::new(offset, 1), "this block is one level too deep")
            .help("a fleet needs only a few levels (menus of submenus); check for a `{` without its `}`"),
            nesting::TooDeep::Braces(offset) => Diagnostic::new(
                Code::TooDeep,
                format!(
                    "more than {} `{{` are open at once, counting those in strings and comments",
                    nesting::MAX_RAW_BRACES
                ),
            )
            .label(Span::new(offset, 1), "this one is too many")
            .help("a fleet needs only a few levels (menus of submenus); check for a `{` without its `}`, or a string the parser ends early (a NUL or other control character in it)"),
            nesting::TooDeep::Comment(offset) => Diagnostic::new(
                Code::TooDeep,
                format!(
                    "this block comment has more than {} `/`, `*` and runs of text: too many for the parser",
                    nesting::MAX_COMMENT_PIECES
                ),
            )
            .label(Span::new(offset, 2), "this comment")
            .help("comment long stretches out with `//` line comments (or remove them: the fleet is in git)"),
        };
        diags.push(d.in_source(src));
        return None;
    }
    let doc: KdlDocument = match src.text.parse() {
        Ok(doc) => doc,
        Err(err) => {
            let err: kdl::KdlError = err;
            let total = err.diagnostics.len();
            let mut diagnostics = err.diagnostics.into_iter();
            for d in diagnostics.by_ref().take(MAX_SYNTAX_ERRORS) {
                let message = d.message.unwrap_or_else(|| "invalid KDL syntax".into());
                let mut diag = Diagnostic::new(Code::Syntax, format!("syntax error: {message}"))
                    .label(d.span.into(), d.label.unwrap_or_else(|| "here".into()))
                    .in_source(src);
                diag.help = Some(d.help.unwrap_or_else(|| {
                    "the fleet is a KDL v2 document: see schema/fleet-language.md".into()
                }));
                diags.push(diag);
            }
            // One broken bracket can make the parser's recovery report an error per character
            // after it (5,000 for a 10 KB line, and a report of megabytes): the first few say
            // what to fix, and the rest are counted.
            if let Some(next) = diagnostics.next() {
                let hidden = total - MAX_SYNTAX_ERRORS;
                diags.push(
                    Diagnostic::new(
                        Code::Syntax,
                        format!("{hidden} more syntax errors, not shown"),
                    )
                    .label(next.span.into(), "the next one is here")
                    .help("fix the errors above first: one unclosed bracket or quote often causes the rest")
                    .in_source(src),
                );
            }
            return None;
        }
    };
    let mut d = Decoder {
        src: src.clone(),
        diags,
    };
    Some(d.fleet(&doc))
}

/// Syntax errors reported one by one; more are counted in one last diagnostic.
const MAX_SYNTAX_ERRORS: usize = 10;

const TOP_LEVEL: &[&str] = &[
    "server",
    "loaders",
    "artifact",
    "artifact-origin",
    "profile",
    "menu",
    "group",
    "host",
    "default",
];

impl Decoder<'_> {
    fn fleet(&mut self, doc: &KdlDocument) -> Fleet {
        let mut fleet = Fleet::default();
        let mut seen = Vec::new();
        for node in doc.nodes() {
            match node.name().value() {
                "server" => {
                    if self.once(&mut seen, node) {
                        self.server(node, &mut fleet.server);
                    }
                }
                "loaders" => {
                    if self.once(&mut seen, node) {
                        self.loaders(node, &mut fleet);
                    }
                }
                "artifact-origin" => {
                    if self.once(&mut seen, node) {
                        fleet.artifact_origin = self.artifact_origin(node);
                    }
                }
                "artifact" => {
                    if let Some(a) = self.artifact(node) {
                        fleet.artifacts.push(a);
                    }
                }
                "profile" => {
                    if let Some(p) = self.profile(node) {
                        fleet.profiles.push(p);
                    }
                }
                "menu" => {
                    self.menu(node, None, &mut fleet.menus);
                }
                "group" => self.group(node, &mut fleet),
                "host" => {
                    if let Some(h) = self.host(node, None, false) {
                        fleet.hosts.push(h);
                    }
                }
                "default" => {
                    if self.once(&mut seen, node) {
                        self.check_entries(node, 0, &["profile", "menu", "secure-boot"]);
                        self.no_children(node);
                        fleet.default = self.target(node);
                        fleet.default_secure_boot = self.bool_prop(node, "secure-boot");
                        if fleet.default.is_none()
                            && !node.entries().iter().any(|e| e.name().is_some())
                        {
                            self.error(
                                Code::MissingValue,
                                "`default` needs `profile=` or `menu=`".into(),
                                name_span(node),
                                "says nothing to boot",
                                "write it like `default menu=\"main\"`, or remove it to let unknown machines exit".into(),
                            );
                        }
                    }
                }
                _ => self.unknown_node(node, TOP_LEVEL, "at the top level"),
            }
        }
        fleet
    }
}
