//! `kernel ART`, `initrd ART…`, `cmdline "…"`: a Linux kernel and its initrds, with a command
//! line rendered per machine (and a host's `cmdline-append` after it).

use askama::Template;
use kdl::KdlNode;

use super::{Boot, Content, Declaration, Node, NotForGrub, Render, KERNEL_AND_INITRD};
use crate::codes::Code;
use crate::decode::values::{positional, Decoder};
use crate::diagnostic::Diagnostic;
use crate::grub_text;
use crate::render;
use crate::spanned::Spanned;

/// The kernel command-line limit the fleet language promises to check.
pub const CMDLINE_MAX: usize = 4096;

pub const DECLARATION: Declaration = Declaration {
    name: "kernel",
    nodes: &[
        Node::chooses("kernel"),
        Node {
            name: "initrd",
            chooses: false,
            repeatable: true,
            block: false,
        },
        Node {
            name: "cmdline",
            chooses: false,
            repeatable: false,
            block: false,
        },
    ],
    decode,
    fetches: KERNEL_AND_INITRD,
};

#[derive(Debug)]
struct Kernel {
    kernel: Spanned<String>,
    initrds: Vec<Spanned<String>>,
    cmdline: Option<Spanned<String>>,
}

#[derive(Template)]
#[template(path = "methods/kernel.ipxe", escape = "none")]
struct Script {
    /// What `kernel` fetches (a relative URL or the artifact's own URL).
    fetch: String,
    /// The kernel's command line, `initrd=NAME` first.
    args: String,
    /// Arguments of each `initrd` line.
    initrds: Vec<String>,
}

#[derive(Template)]
#[template(path = "methods/kernel.grub", escape = "none")]
struct Grub {
    /// The kernel's path over TFTP, `(tftp)/artifacts/NAME`.
    kernel: String,
    /// The command line, each word quoted for GRUB where it needs it.
    args: String,
    initrds: Vec<String>,
}

fn decode(d: &mut Decoder, nodes: &[&KdlNode]) -> Option<Box<dyn Boot>> {
    let (mut kernel, mut initrds, mut cmdline) = (None, Vec::new(), None);
    for node in nodes {
        match node.name().value() {
            "kernel" => {
                d.check_entries(node, 1, &[]);
                kernel = d.string_arg(node, 0, "an artifact name", "kernel \"debian-kernel\"");
            }
            "initrd" => {
                d.check_entries(node, usize::MAX, &[]);
                let args = positional(node);
                if args.is_empty() {
                    d.string_arg(node, 0, "an artifact name", "initrd \"debian-initrd\"");
                }
                for e in args {
                    if let Some(s) = d.string_entry(e, "an initrd") {
                        initrds.push(s);
                    }
                }
            }
            // Only the method's own nodes are handed to it: this is `cmdline`.
            _ => {
                d.check_entries(node, 1, &[]);
                cmdline = d.string_arg(
                    node,
                    0,
                    "the kernel command line",
                    "cmdline \"console=ttyS0\"",
                );
            }
        }
    }
    Some(Box::new(Kernel {
        kernel: kernel?,
        initrds,
        cmdline,
    }))
}

impl Boot for Kernel {
    fn artifacts(&self) -> Vec<&Spanned<String>> {
        std::iter::once(&self.kernel).chain(&self.initrds).collect()
    }

    fn contents(&self) -> Vec<(&Spanned<String>, Content)> {
        vec![(&self.kernel, Content::Kernel)]
    }

    fn render(&self, cx: &mut dyn Render) -> Option<String> {
        let mut args: Vec<String> = self
            .initrds
            .iter()
            .map(|i| format!("initrd={}", i.value))
            .collect();
        if let Some(c) = &self.cmdline {
            let rendered = cx.cmdline(c)?;
            args.extend(rendered.split_whitespace().map(str::to_string));
        }
        let append = cx.cmdline_append();
        if let Some(a) = append {
            args.extend(a.value.split_whitespace().map(str::to_string));
        }
        let args = args.join(" ");
        if args.len() > CMDLINE_MAX {
            let who = cx
                .host_name()
                .map_or(String::new(), |h| format!(" for host `{h}`"));
            let mut d = Diagnostic::new(
                Code::CmdlineTooLong,
                format!(
                    "the kernel command line is {} bytes{who}, over the {CMDLINE_MAX}-byte limit",
                    args.len(),
                ),
            )
            .label(
                self.cmdline.as_ref().map_or(self.kernel.span, |c| c.span),
                "too long once rendered",
            )
            .help("shorten it; long settings belong in a per-machine `file`");
            if let Some(a) = append {
                d = d.label(a.span, "appended here");
            }
            cx.error(d);
            return None;
        }
        let initrds = self
            .initrds
            .iter()
            .map(|i| {
                if cx.is_url(&i.value) {
                    format!("--name {} {}", i.value, cx.fetch(&i.value))
                } else {
                    cx.fetch(&i.value)
                }
            })
            .collect();
        Some(render::render(&Script {
            fetch: cx.fetch(&self.kernel.value),
            args,
            initrds,
        }))
    }

    fn grub_images(&self) -> Result<Vec<&Spanned<String>>, NotForGrub> {
        // Initrds are not PE images: GRUB hands them to the signed kernel unchecked.
        Ok(vec![&self.kernel])
    }

    fn render_grub(&self, cx: &mut dyn Render) -> Option<String> {
        let mut args = Vec::new();
        if let Some(c) = &self.cmdline {
            let rendered = cx.cmdline(c)?;
            args.extend(rendered.split_whitespace().map(grub_text::word));
        }
        if let Some(a) = cx.cmdline_append() {
            args.extend(a.value.split_whitespace().map(grub_text::word));
        }
        Some(render::render(&Grub {
            kernel: cx.grub_fetch(&self.kernel.value),
            args: args.join(" "),
            initrds: self
                .initrds
                .iter()
                .map(|i| cx.grub_fetch(&i.value))
                .collect(),
        }))
    }

    fn cmdline(&self) -> Option<&Spanned<String>> {
        self.cmdline.as_ref()
    }

    fn takes_cmdline_append(&self) -> bool {
        true
    }
}
