//! `profile NAME { … }`: one boot method and what surrounds it (`only`, per-machine `file`s).

use kdl::KdlNode;

use super::values::{children, name_span, positional, url_problem};
use super::Decoder;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Span};
use crate::fleet::*;
use crate::suggest;

const PROFILE_CHILDREN: &[&str] = &[
    "kernel", "initrd", "cmdline", "file", "chain", "exit", "efi", "bios", "wimboot", "sanboot",
    "only",
];

impl Decoder<'_> {
    pub(super) fn profile(&mut self, node: &KdlNode) -> Option<Profile> {
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

    pub(super) fn wimboot(&mut self, node: &KdlNode) -> Option<Method> {
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
}
