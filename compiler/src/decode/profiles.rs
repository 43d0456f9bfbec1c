//! `profile NAME { … }`: one boot method (its nodes are declared in `methods`) and what
//! surrounds it: `only` a platform, and per-machine `file`s.

use kdl::KdlNode;

use super::values::{children, name_span, Decoder};
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Span};
use crate::fleet::*;
use crate::methods::{self, METHODS};
use crate::suggest;

/// The nodes a profile takes, as the "expected one of" help lists them: the first method's,
/// `file`, the other methods', `only` (the order the language reference introduced them in).
fn profile_children() -> Vec<&'static str> {
    let names = |m: &methods::Declaration| m.nodes.iter().map(|n| n.name).collect::<Vec<_>>();
    let (first, rest) = METHODS.split_first().expect("at least one boot method");
    let mut all = names(first);
    all.push("file");
    all.extend(rest.iter().flat_map(|m| names(m)));
    all.push("only");
    all
}

/// "`kernel`, `chain`, … or `sanboot`": every method by the nodes that choose it.
fn every_method() -> String {
    let all: Vec<String> = METHODS.iter().map(|m| methods::choosers(m)).collect();
    match all.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => all.concat(),
    }
}

impl Decoder<'_> {
    pub(super) fn profile(&mut self, node: &KdlNode) -> Option<Profile> {
        self.check_entries(node, 1, &[]);
        let name = self.name_arg(node, "profile")?;
        let allowed = profile_children();
        // Each node that chooses a method, by the method's index in METHODS.
        let mut chosen: Vec<(usize, Span)> = Vec::new();
        // Every method's nodes, in source order, to be decoded by the method.
        let mut owned: Vec<Vec<&KdlNode>> = vec![Vec::new(); METHODS.len()];
        let mut only = None;
        let mut files: Vec<FileDecl> = Vec::new();
        let mut seen = Vec::new();
        let mut misspelt = false;
        for child in children(node) {
            let key = child.name().value();
            let owner = methods::node(key);
            if owner.is_none() && !matches!(key, "file" | "only") {
                self.unknown_node(child, &allowed, "in a profile");
                misspelt = true;
                continue;
            }
            let repeatable = owner.map_or(key == "file", |(_, n)| n.repeatable);
            if !repeatable && !self.once(&mut seen, child) {
                continue;
            }
            if let Some((m, _)) = owner.filter(|(_, n)| n.chooses) {
                if let Some(&(other, first)) = chosen.iter().find(|(o, _)| *o != m) {
                    self.push(
                        Diagnostic::new(
                            Code::ConflictingBootMethods,
                            format!(
                                "profile `{}` says both `{key}` and `{}`",
                                name.value, METHODS[other].name
                            ),
                        )
                        .label(name_span(child), "second boot method")
                        .label(first, "first boot method")
                        .help("a profile boots exactly one way: split it into two profiles"),
                    );
                    continue;
                }
                chosen.push((m, name_span(child)));
            }
            if !owner.is_some_and(|(_, n)| n.block) {
                self.no_children(child);
            }
            match owner {
                Some((m, _)) => owned[m].push(child),
                None if key == "only" => only = self.only(child),
                None => self.file(child, &mut files),
            }
        }
        // Every method with nodes decodes them, so each node's own mistakes are reported
        // whichever method the profile ends up with.
        let mut decoded: Vec<Option<Box<dyn methods::Boot>>> = METHODS
            .iter()
            .zip(&owned)
            .map(|(m, nodes)| match nodes.is_empty() {
                true => None,
                false => (m.decode)(self, nodes),
            })
            .collect();
        let method = match chosen.first() {
            Some(&(m, _)) => decoded[m].take(),
            None if misspelt => None,
            None => {
                self.error(
                    Code::NoBootMethod,
                    format!("profile `{}` does not say how to boot", name.value),
                    name.span,
                    "nothing to boot",
                    format!("add one of {}", every_method()),
                );
                None
            }
        };
        // Nodes that add to a method the profile did not choose (`initrd` without `kernel`).
        // Only the kernel has such nodes today, hence the code's name.
        if let Some(&(m, _)) = chosen.first() {
            for (other, decl) in METHODS.iter().enumerate().filter(|(o, _)| *o != m) {
                let starter = decl.nodes.iter().find(|n| n.chooses).map_or("", |n| n.name);
                for n in decl.nodes.iter().filter(|n| !n.chooses) {
                    let Some(first) = owned[other].iter().find(|c| c.name().value() == n.name)
                    else {
                        continue;
                    };
                    self.error(
                        Code::NeedsKernel,
                        format!(
                            "`{}` only applies to a profile that boots a `{starter}`",
                            n.name
                        ),
                        name_span(first),
                        &format!("no {starter} to pass it to"),
                        format!("remove it, or boot the profile with `{starter}`"),
                    );
                }
            }
        }
        Some(Profile {
            name,
            method,
            only,
            files,
        })
    }

    /// `only "efi"` or `only "bios"`.
    fn only(&mut self, child: &KdlNode) -> Option<Spanned<Platform>> {
        self.check_entries(child, 1, &[]);
        let s = self.string_arg(child, 0, "a platform", "only \"efi\"")?;
        match s.value.as_str() {
            "efi" => Some(Spanned::new(Platform::Efi, s.span)),
            "bios" => Some(Spanned::new(Platform::Bios, s.span)),
            other => {
                let help = suggest::help_for(other, ["efi", "bios"], "platform");
                self.error(
                    Code::BadValue,
                    format!("unknown platform `{other}`"),
                    s.span,
                    "not a platform",
                    help,
                );
                None
            }
        }
    }

    /// `file "NAME" template="PATH"`: a file rendered per machine.
    fn file(&mut self, child: &KdlNode, files: &mut Vec<FileDecl>) {
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
        let Some(f) = &fname else { return };
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
                "file names are letters, digits, `.`, `_` and `-`, without slashes".into(),
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
        } else if let Some(t) = template {
            files.push(FileDecl {
                name: f.clone(),
                template: t,
            });
        }
    }
}
