//! KDL document → typed [`Fleet`]. Checks shape and value syntax (unknown nodes and
//! properties, missing values, wrong types, malformed MACs, addresses, ports, URLs, hashes,
//! names); references between items are checked later by `validate`.

use std::sync::Arc;

use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};
use netboot_manifest::{DhcpMode, MacAddr};

use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics, SourceFile, Span};
use crate::fleet::*;
use crate::nesting;
use crate::suggest;

#[path = "decode_full_dhcp.rs"]
mod full_dhcp;

/// Parses and decodes; syntax errors stop here (nothing else can be trusted after them).
pub fn decode(src: &Arc<SourceFile>, diags: &mut Diagnostics) -> Option<Fleet> {
    if let Some(offset) = nesting::too_deep(&src.text) {
        diags.push(
            Diagnostic::new(
                Code::TooDeep,
                format!(
                    "blocks nest more than {} levels deep",
                    nesting::MAX_NESTING
                ),
            )
            .label(Span::new(offset, 1), "this block is one level too deep")
            .help("a fleet needs only a few levels (menus of submenus); check for a `{` without its `}`")
            .in_source(src),
        );
        return None;
    }
    let doc: KdlDocument = match src.text.parse() {
        Ok(doc) => doc,
        Err(err) => {
            let err: kdl::KdlError = err;
            for d in err.diagnostics {
                let message = d.message.unwrap_or_else(|| "invalid KDL syntax".into());
                let mut diag = Diagnostic::new(Code::Syntax, format!("syntax error: {message}"))
                    .label(d.span.into(), d.label.unwrap_or_else(|| "here".into()))
                    .in_source(src);
                diag.help = Some(d.help.unwrap_or_else(|| {
                    "the fleet is a KDL v2 document: see schema/fleet-language.md".into()
                }));
                diags.push(diag);
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

const TOP_LEVEL: &[&str] = &[
    "server", "loaders", "artifact", "profile", "menu", "group", "host", "default",
];
const PROFILE_CHILDREN: &[&str] = &[
    "kernel", "initrd", "cmdline", "file", "chain", "exit", "efi", "bios", "wimboot", "sanboot",
    "only",
];
const MENU_CHILDREN: &[&str] = &["title", "timeout", "default", "item", "separator", "menu"];
const SERVER_CHILDREN: &[&str] = &["interface", "address", "http-port", "tftp-port", "dhcp"];

struct Decoder<'a> {
    src: Arc<SourceFile>,
    diags: &'a mut Diagnostics,
}

fn name_span(node: &KdlNode) -> Span {
    node.name().span().into()
}

fn positional(node: &KdlNode) -> Vec<&KdlEntry> {
    node.entries()
        .iter()
        .filter(|e| e.name().is_none())
        .collect()
}

fn children(node: &KdlNode) -> &[KdlNode] {
    node.children().map_or(&[], |c| c.nodes())
}

fn type_name(v: &KdlValue) -> &'static str {
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

impl Decoder<'_> {
    /// Where an entry's value is written: for `key=value`, just the value.
    fn value_span(&self, entry: &KdlEntry) -> Span {
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

    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d.in_source(&self.src));
    }

    fn error(&mut self, code: Code, message: String, span: Span, label: &str, help: String) {
        self.push(Diagnostic::new(code, message).label(span, label).help(help));
    }

    fn unknown_node(&mut self, node: &KdlNode, allowed: &[&str], context: &str) {
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
    fn check_entries(&mut self, node: &KdlNode, max_args: usize, props: &[&str]) -> bool {
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

    fn no_children(&mut self, node: &KdlNode) {
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

    fn string_entry(&mut self, entry: &KdlEntry, what: &str) -> Option<Spanned<String>> {
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

    fn int_entry(&mut self, entry: &KdlEntry, what: &str) -> Option<Spanned<i128>> {
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
    fn string_arg(
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

    fn string_prop(&mut self, node: &KdlNode, key: &str) -> Option<Spanned<String>> {
        let entry = node
            .entries()
            .iter()
            .find(|e| e.name().is_some_and(|n| n.value() == key))?;
        self.string_entry(entry, &format!("`{key}`"))
    }

    fn name_arg(&mut self, node: &KdlNode, what: &str) -> Option<Spanned<String>> {
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

    fn check_name(&mut self, name: &Spanned<String>, what: &str) {
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
    fn once<'n>(&mut self, seen: &mut Vec<(&'n str, Span)>, node: &'n KdlNode) -> bool {
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
                        self.loaders(node, &mut fleet.loaders);
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
                        self.check_entries(node, 0, &["profile", "menu"]);
                        self.no_children(node);
                        fleet.default = self.target(node);
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

    fn server(&mut self, node: &KdlNode, server: &mut Server) {
        self.check_entries(node, 0, &[]);
        let mut seen = Vec::new();
        for child in children(node) {
            let key = child.name().value();
            if !SERVER_CHILDREN.contains(&key) {
                self.unknown_node(child, SERVER_CHILDREN, "in `server`");
                continue;
            }
            if !self.once(&mut seen, child) {
                continue;
            }
            self.check_entries(child, 1, &[]);
            // `dhcp "full"` has a block of settings; the other modes and settings take none.
            if key != "dhcp" {
                self.no_children(child);
            }
            match key {
                "interface" => {
                    server.interface =
                        self.string_arg(child, 0, "an interface name", "interface \"br0\"")
                }
                "address" => {
                    if let Some(s) =
                        self.string_arg(child, 0, "an IPv4 address", "address \"192.168.1.10\"")
                    {
                        match s.value.parse() {
                            Ok(ip) => server.address = Some(Spanned::new(ip, s.span)),
                            Err(_) => self.error(
                                Code::BadIp,
                                format!("`{}` is not an IPv4 address", s.value),
                                s.span,
                                "not an IPv4 address",
                                "write a dotted quad like `192.168.1.10`".into(),
                            ),
                        }
                    }
                }
                "http-port" | "tftp-port" => {
                    let Some(e) = positional(child).first().copied() else {
                        self.string_arg(child, 0, "a port number", &format!("{key} 8080"));
                        continue;
                    };
                    let Some(n) = self.int_entry(e, &format!("`{key}`")) else {
                        continue;
                    };
                    match u16::try_from(n.value) {
                        Ok(p) if p > 0 => {
                            let v = Some(Spanned::new(p, n.span));
                            if key == "http-port" {
                                server.http_port = v;
                            } else {
                                server.tftp_port = v;
                            }
                        }
                        _ => self.error(
                            Code::BadPort,
                            format!("{} is not a port number", n.value),
                            n.span,
                            "out of range",
                            "ports are 1 to 65535".into(),
                        ),
                    }
                }
                "dhcp" => {
                    if let Some(s) = self.string_arg(child, 0, "a DHCP mode", "dhcp \"proxy\"") {
                        match s.value.as_str() {
                            "proxy" => {
                                self.no_children(child);
                                server.dhcp = Some(Spanned::new(DhcpMode::Proxy, s.span));
                            }
                            "off" => {
                                self.no_children(child);
                                server.dhcp = Some(Spanned::new(DhcpMode::Off, s.span));
                            }
                            "full" => {
                                if let Some(full) = self.full_dhcp(child, s.span) {
                                    server.dhcp = Some(Spanned::new(DhcpMode::Full(full), s.span));
                                }
                            }
                            other => {
                                self.no_children(child);
                                let help =
                                    suggest::help_for(other, ["proxy", "off", "full"], "mode");
                                self.error(
                                    Code::BadValue,
                                    format!("unknown DHCP mode `{other}`"),
                                    s.span,
                                    "not a DHCP mode",
                                    help,
                                )
                            }
                        }
                    }
                }
                _ => unreachable!("checked against SERVER_CHILDREN"),
            }
        }
    }

    fn loaders(&mut self, node: &KdlNode, loaders: &mut Vec<Loader>) {
        self.check_entries(node, 0, &[]);
        let keywords: Vec<&str> = LoaderKind::ALL.iter().map(|k| k.keyword()).collect();
        let mut seen = Vec::new();
        for child in children(node) {
            let Some(kind) = LoaderKind::ALL
                .into_iter()
                .find(|k| k.keyword() == child.name().value())
            else {
                self.unknown_node(child, &keywords, "in `loaders`");
                continue;
            };
            if !self.once(&mut seen, child) {
                continue;
            }
            self.check_entries(child, 1, &[]);
            self.no_children(child);
            let example = format!("{} \"/usr/lib/ipxe/ipxe.efi\"", kind.keyword());
            if let Some(path) = self.string_arg(child, 0, "the loader's path", &example) {
                loaders.push(Loader { kind, path });
            }
        }
    }

    fn sha256(&mut self, node: &KdlNode) -> Option<Spanned<String>> {
        let s = self.string_prop(node, "sha256")?;
        if s.value.len() == 64 && s.value.bytes().all(|b| b.is_ascii_hexdigit()) {
            Some(Spanned::new(s.value.to_ascii_lowercase(), s.span))
        } else {
            self.error(
                Code::BadSha256,
                "`sha256` must be 64 hexadecimal digits".into(),
                s.span,
                "not a sha256",
                "compute it with `sha256sum FILE`".into(),
            );
            None
        }
    }

    fn artifact(&mut self, node: &KdlNode) -> Option<Artifact> {
        self.check_entries(node, 1, &["path", "url", "sha256"]);
        self.no_children(node);
        let name = self.name_arg(node, "artifact")?;
        let path = self.string_prop(node, "path");
        let url = self.string_prop(node, "url");
        let sha256 = self.sha256(node);
        let location = match (path, url) {
            (Some(p), None) => Location::Path(p),
            (None, Some(u)) => {
                if let Some(why) = url_problem(&u.value) {
                    self.error(
                        Code::BadUrl,
                        format!("`{}` is not a usable URL: {why}", u.value),
                        u.span,
                        "bad URL",
                        "write it like `https://example.org/vmlinuz`".into(),
                    );
                    return None;
                }
                Location::Url(u)
            }
            (Some(p), Some(u)) => {
                self.push(
                    Diagnostic::new(
                        Code::ConflictingProperties,
                        "an artifact has either `path` or `url`, not both",
                    )
                    .label(u.span, "`url` here")
                    .label(p.span, "`path` here")
                    .help("keep the one the file really comes from"),
                );
                return None;
            }
            (None, None) => {
                self.error(
                    Code::MissingValue,
                    format!("artifact `{}` needs `path=` or `url=`", name.value),
                    name_span(node),
                    "no location",
                    "write it like `artifact \"kernel\" path=\"artifacts/vmlinuz\"`".into(),
                );
                return None;
            }
        };
        Some(Artifact {
            name,
            location,
            sha256,
        })
    }

    fn profile(&mut self, node: &KdlNode) -> Option<Profile> {
        self.check_entries(node, 1, &[]);
        let name = self.name_arg(node, "profile")?;
        // Each boot-method node seen, by the method it starts (efi and bios share one).
        let mut methods: Vec<(&'static str, Span)> = Vec::new();
        let mut kernel = None;
        let mut initrds = Vec::new();
        let mut initrd_span = None;
        let mut cmdline = None;
        let mut cmdline_span = None;
        let mut chain = None;
        let mut efi = None;
        let mut bios = None;
        let mut wimboot = None;
        let mut sanboot = None;
        let mut only = None;
        let mut files: Vec<FileDecl> = Vec::new();
        let mut seen = Vec::new();
        let mut misspelt = false;
        for child in children(node) {
            let key = child.name().value();
            if !PROFILE_CHILDREN.contains(&key) {
                self.unknown_node(child, PROFILE_CHILDREN, "in a profile");
                misspelt = true;
                continue;
            }
            let repeatable = matches!(key, "initrd" | "file");
            if !repeatable && !self.once(&mut seen, child) {
                continue;
            }
            let method = match key {
                "kernel" => Some("kernel"),
                "chain" => Some("chain"),
                "exit" => Some("exit"),
                "efi" | "bios" => Some("binary"),
                "wimboot" => Some("wimboot"),
                "sanboot" => Some("sanboot"),
                _ => None,
            };
            if let Some(m) = method {
                if let Some((other, first)) = methods.iter().find(|(o, _)| *o != m).copied() {
                    self.push(
                        Diagnostic::new(
                            Code::ConflictingBootMethods,
                            format!("profile `{}` says both `{key}` and `{other}`", name.value),
                        )
                        .label(name_span(child), "second boot method")
                        .label(first, "first boot method")
                        .help("a profile boots exactly one way: split it into two profiles"),
                    );
                    continue;
                }
                methods.push((m, name_span(child)));
            }
            if key != "wimboot" {
                self.no_children(child);
            }
            match key {
                "kernel" => {
                    self.check_entries(child, 1, &[]);
                    kernel =
                        self.string_arg(child, 0, "an artifact name", "kernel \"debian-kernel\"");
                }
                "initrd" => {
                    self.check_entries(child, usize::MAX, &[]);
                    initrd_span.get_or_insert(name_span(child));
                    let args = positional(child);
                    if args.is_empty() {
                        self.string_arg(child, 0, "an artifact name", "initrd \"debian-initrd\"");
                    }
                    for e in args {
                        if let Some(s) = self.string_entry(e, "an initrd") {
                            initrds.push(s);
                        }
                    }
                }
                "cmdline" => {
                    self.check_entries(child, 1, &[]);
                    cmdline_span = Some(name_span(child));
                    cmdline = self.string_arg(
                        child,
                        0,
                        "the kernel command line",
                        "cmdline \"console=ttyS0\"",
                    );
                }
                "chain" => {
                    self.check_entries(child, 1, &[]);
                    if let Some(u) =
                        self.string_arg(child, 0, "a URL", "chain \"https://boot.netboot.xyz\"")
                    {
                        if let Some(why) = url_problem(&u.value) {
                            self.error(
                                Code::BadUrl,
                                format!("`{}` is not a usable URL: {why}", u.value),
                                u.span,
                                "bad URL",
                                "write it like `https://boot.netboot.xyz`".into(),
                            );
                        } else {
                            chain = Some(u);
                        }
                    }
                }
                "exit" => {
                    self.check_entries(child, 0, &[]);
                }
                "efi" => {
                    self.check_entries(child, 1, &[]);
                    efi = self.string_arg(child, 0, "an artifact name", "efi \"memtest-efi\"");
                }
                "bios" => {
                    self.check_entries(child, 1, &[]);
                    bios = self.string_arg(child, 0, "an artifact name", "bios \"memtest-bios\"");
                }
                "sanboot" => {
                    self.check_entries(child, 1, &[]);
                    sanboot =
                        self.string_arg(child, 0, "an artifact name", "sanboot \"rescue-iso\"");
                }
                "wimboot" => wimboot = self.wimboot(child),
                "only" => {
                    self.check_entries(child, 1, &[]);
                    if let Some(s) = self.string_arg(child, 0, "a platform", "only \"efi\"") {
                        match s.value.as_str() {
                            "efi" => only = Some(Spanned::new(Platform::Efi, s.span)),
                            "bios" => only = Some(Spanned::new(Platform::Bios, s.span)),
                            other => {
                                let help = suggest::help_for(other, ["efi", "bios"], "platform");
                                self.error(
                                    Code::BadValue,
                                    format!("unknown platform `{other}`"),
                                    s.span,
                                    "not a platform",
                                    help,
                                )
                            }
                        }
                    }
                }
                "file" => {
                    self.check_entries(child, 1, &["template"]);
                    let fname = self.string_arg(
                        child,
                        0,
                        "a file name",
                        "file \"preseed.cfg\" template=\"templates/preseed.cfg\"",
                    );
                    let template = self.string_prop(child, "template");
                    if template.is_none()
                        && !child
                            .entries()
                            .iter()
                            .any(|e| e.name().is_some_and(|n| n.value() == "template"))
                    {
                        self.error(
                            Code::MissingValue,
                            "`file` needs `template=`".into(),
                            name_span(child),
                            "no template",
                            "write it like `file \"preseed.cfg\" template=\"templates/preseed.cfg\"`".into(),
                        );
                    }
                    if let Some(f) = &fname {
                        let ok = !f.value.is_empty()
                            && f.value.len() <= 255
                            && f.value != "."
                            && f.value != ".."
                            && f.value
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
                        if !ok {
                            self.error(
                                Code::BadName,
                                format!("`{}` is not a valid file name", f.value),
                                f.span,
                                "invalid file name",
                                "file names are letters, digits, `.`, `_` and `-`, without slashes"
                                    .into(),
                            );
                        } else if let Some(prev) = files.iter().find(|p| p.name.value == f.value) {
                            self.push(
                                Diagnostic::new(
                                    Code::DuplicateName,
                                    format!("file `{}` is declared twice", f.value),
                                )
                                .label(f.span, "declared again here")
                                .label(prev.name.span, "first declared here")
                                .help("each per-machine file needs its own name"),
                            );
                        } else if let Some(t) = template.clone() {
                            files.push(FileDecl {
                                name: f.clone(),
                                template: t,
                            });
                        }
                    }
                }
                _ => unreachable!("checked against PROFILE_CHILDREN"),
            }
        }
        let method = match methods.first().map(|(m, _)| *m) {
            Some("kernel") => kernel.map(|kernel| Method::Kernel {
                kernel,
                initrds,
                cmdline,
            }),
            Some("chain") => chain.map(Method::Chain),
            Some("exit") => Some(Method::Exit),
            Some("binary") => {
                (efi.is_some() || bios.is_some()).then_some(Method::Binary { efi, bios })
            }
            Some("wimboot") => wimboot,
            Some("sanboot") => sanboot.map(Method::Sanboot),
            _ if misspelt => None,
            _ => {
                self.error(
                    Code::NoBootMethod,
                    format!("profile `{}` does not say how to boot", name.value),
                    name.span,
                    "nothing to boot",
                    "add one of `kernel`, `chain`, `exit`, `efi`/`bios`, `wimboot` or `sanboot`"
                        .into(),
                );
                None
            }
        };
        let uses_kernel = methods.first().is_some_and(|(m, _)| *m == "kernel");
        if !uses_kernel && !methods.is_empty() {
            for (what, span) in [("initrd", initrd_span), ("cmdline", cmdline_span)] {
                if let Some(span) = span {
                    self.error(
                        Code::NeedsKernel,
                        format!("`{what}` only applies to a profile that boots a `kernel`"),
                        span,
                        "no kernel to pass it to",
                        "remove it, or boot the profile with `kernel`".into(),
                    );
                }
            }
        }
        Some(Profile {
            name,
            method,
            only,
            files,
            keyword: name_span(node),
        })
    }

    fn wimboot(&mut self, node: &KdlNode) -> Option<Method> {
        self.check_entries(node, 1, &[]);
        let wimboot = self.string_arg(
            node,
            0,
            "the wimboot artifact",
            "wimboot \"wimboot\" { boot-wim \"winpe-wim\" }",
        );
        let keywords: Vec<&str> = WimFile::ALL.iter().map(|w| w.keyword()).collect();
        let mut files = Vec::new();
        let mut seen = Vec::new();
        for child in children(node) {
            let Some(kind) = WimFile::ALL
                .into_iter()
                .find(|w| w.keyword() == child.name().value())
            else {
                self.unknown_node(child, &keywords, "in `wimboot`");
                continue;
            };
            if !self.once(&mut seen, child) {
                continue;
            }
            self.check_entries(child, 1, &[]);
            self.no_children(child);
            let example = format!("{} \"winpe-{}\"", kind.keyword(), kind.keyword());
            if let Some(a) = self.string_arg(child, 0, "an artifact name", &example) {
                files.push((kind, a));
            }
        }
        if !files.iter().any(|(k, _)| *k == WimFile::BootWim) {
            self.error(
                Code::MissingValue,
                "`wimboot` needs at least a `boot-wim`".into(),
                name_span(node),
                "no boot.wim",
                "add `boot-wim \"ARTIFACT\"` (and `bootmgr`, `bcd`, `boot-sdi` as your WinPE needs) inside the block".into(),
            );
            return None;
        }
        Some(Method::Wimboot {
            wimboot: wimboot?,
            files,
        })
    }

    fn menu(
        &mut self,
        node: &KdlNode,
        parent: Option<usize>,
        menus: &mut Vec<Menu>,
    ) -> Option<usize> {
        let (name, label) = if parent.is_some() {
            self.check_entries(node, 2, &[]);
            let name = self.name_arg(node, "menu");
            let label = self.string_arg(
                node,
                1,
                "a label",
                "menu \"rescue\" \"Rescue systems\" { … }",
            );
            (name?, label)
        } else {
            self.check_entries(node, 1, &[]);
            (self.name_arg(node, "menu")?, None)
        };
        if let Some(l) = &label {
            self.check_text(l, "a menu label");
        }
        let index = menus.len();
        menus.push(Menu {
            name,
            parent,
            label,
            title: None,
            timeout: None,
            default: None,
            entries: Vec::new(),
        });
        let mut seen = Vec::new();
        for child in children(node) {
            let key = child.name().value();
            if !MENU_CHILDREN.contains(&key) {
                self.unknown_node(child, MENU_CHILDREN, "in a menu");
                continue;
            }
            if matches!(key, "title" | "timeout" | "default") && !self.once(&mut seen, child) {
                continue;
            }
            if key != "menu" {
                self.no_children(child);
            }
            match key {
                "title" => {
                    self.check_entries(child, 1, &[]);
                    let t = self.string_arg(child, 0, "a title", "title \"Lab\"");
                    if let Some(t) = &t {
                        self.check_text(t, "a menu title");
                    }
                    menus[index].title = t;
                }
                "timeout" => {
                    self.check_entries(child, 1, &[]);
                    let Some(e) = positional(child).first().copied() else {
                        self.string_arg(child, 0, "a number of seconds", "timeout 10");
                        continue;
                    };
                    if let Some(n) = self.int_entry(e, "`timeout`") {
                        match u32::try_from(n.value) {
                            Ok(s) if s <= 86_400 => {
                                menus[index].timeout = Some(Spanned::new(s, n.span))
                            }
                            _ => self.error(
                                Code::BadValue,
                                format!("timeout {} is out of range", n.value),
                                n.span,
                                "out of range",
                                "the timeout is 0 (wait forever) to 86400 seconds".into(),
                            ),
                        }
                    }
                }
                "default" => {
                    self.check_entries(child, 1, &[]);
                    menus[index].default =
                        self.string_arg(child, 0, "an item of this menu", "default \"local-disk\"");
                }
                "item" => {
                    self.check_entries(child, 2, &[]);
                    let target = self.string_arg(
                        child,
                        0,
                        "a profile name",
                        "item \"debian-install\" \"Install Debian\"",
                    );
                    let label = self.string_arg(
                        child,
                        1,
                        "a label",
                        "item \"debian-install\" \"Install Debian\"",
                    );
                    if let Some(l) = &label {
                        self.check_text(l, "a menu label");
                    }
                    if let (Some(target), Some(label)) = (target, label) {
                        menus[index].entries.push(Entry::Item { target, label });
                    }
                }
                "separator" => {
                    self.check_entries(child, 1, &[]);
                    let text = match positional(child).first() {
                        Some(e) => self.string_entry(e, "a separator"),
                        None => None,
                    };
                    if let Some(t) = &text {
                        self.check_text(t, "a separator");
                    }
                    menus[index].entries.push(Entry::Separator(text));
                }
                "menu" => {
                    if let Some(sub) = self.menu(child, Some(index), menus) {
                        menus[index].entries.push(Entry::Submenu(sub));
                    }
                }
                _ => unreachable!("checked against MENU_CHILDREN"),
            }
        }
        Some(index)
    }

    /// Text that lands on an iPXE command line verbatim (titles, labels): iPXE has no quoting,
    /// so a newline or a lone `||`, `&&` or `;` would end the command and start another.
    fn check_text(&mut self, text: &Spanned<String>, what: &str) {
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

    fn target(&mut self, node: &KdlNode) -> Option<Target> {
        let profile = self.string_prop(node, "profile");
        let menu = self.string_prop(node, "menu");
        match (profile, menu) {
            (Some(p), None) => Some(Target::Profile(p)),
            (None, Some(m)) => Some(Target::Menu(m)),
            (Some(p), Some(m)) => {
                self.push(
                    Diagnostic::new(
                        Code::ConflictingProperties,
                        "give either `profile=` or `menu=`, not both",
                    )
                    .label(m.span, "`menu` here")
                    .label(p.span, "`profile` here")
                    .help("a machine boots one profile or shows one menu"),
                );
                None
            }
            (None, None) => None,
        }
    }

    fn group(&mut self, node: &KdlNode, fleet: &mut Fleet) {
        self.check_entries(node, 1, &["profile", "menu"]);
        let Some(name) = self.name_arg(node, "group") else {
            return;
        };
        let target = self.target(node);
        let index = fleet.groups.len();
        fleet.groups.push(Group { name, target });
        for child in children(node) {
            if child.name().value() != "host" {
                self.unknown_node(child, &["host"], "in a group");
                continue;
            }
            if let Some(h) = self.host(child, Some(index), fleet.groups[index].target.is_some()) {
                fleet.hosts.push(h);
            }
        }
    }

    fn host(
        &mut self,
        node: &KdlNode,
        group: Option<usize>,
        group_has_target: bool,
    ) -> Option<HostDecl> {
        let misspelt = self.check_entries(node, 1, &["mac", "profile", "menu", "cmdline-append"]);
        let labels = self.labels(node);
        let name = self.name_arg(node, "host")?;
        let mac = match self.string_prop(node, "mac") {
            Some(s) => match s.value.parse::<MacAddr>() {
                Ok(m) => Some(Spanned::new(m, s.span)),
                Err(e) => {
                    self.error(
                        Code::BadMac,
                        e.to_string(),
                        s.span,
                        "not a MAC address",
                        "six two-digit hex bytes separated by `:` or `-`".into(),
                    );
                    None
                }
            },
            None => {
                // A misspelt property is most likely the MAC: that error says enough.
                if !misspelt
                    && !node
                        .entries()
                        .iter()
                        .any(|e| e.name().is_some_and(|n| n.value() == "mac"))
                {
                    self.error(
                        Code::MissingValue,
                        format!("host `{}` needs a `mac=`", name.value),
                        name_span(node),
                        "no MAC address",
                        format!(
                            "write it like `host \"{}\" mac=\"52:54:00:12:34:56\"`",
                            name.value
                        ),
                    );
                }
                None
            }
        };
        let target = self.target(node);
        if target.is_none()
            && !misspelt
            && !group_has_target
            && !node.entries().iter().any(|e| {
                e.name()
                    .is_some_and(|n| matches!(n.value(), "profile" | "menu"))
            })
        {
            self.error(
                Code::MissingValue,
                format!("host `{}` does not say what to boot", name.value),
                name_span(node),
                "no profile or menu",
                "add `profile=\"…\"` or `menu=\"…\"` to the host or its group".into(),
            );
        }
        let cmdline_append = self.string_prop(node, "cmdline-append");
        Some(HostDecl {
            name,
            mac,
            target,
            cmdline_append,
            labels,
            group,
        })
    }

    /// A host's `label "key" "value"` children (the only children a host takes).
    fn labels(&mut self, node: &KdlNode) -> std::collections::BTreeMap<String, String> {
        let mut labels = std::collections::BTreeMap::new();
        for child in children(node) {
            if child.name().value() != "label" {
                self.unknown_node(child, &["label"], "in a host");
                continue;
            }
            self.check_entries(child, 2, &[]);
            let example = r#"label "role" "database""#;
            let key = self.string_arg(child, 0, "a label name", example);
            let value = self.string_arg(child, 1, "a label value", example);
            if let (Some(key), Some(value)) = (key, value) {
                self.check_name(&key, "label");
                labels.insert(key.value, value.value);
            }
        }
        labels
    }
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
