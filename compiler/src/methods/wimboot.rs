//! `wimboot ART { bootmgr ART; bcd ART; boot-sdi ART; boot-wim ART }`: Windows PE through
//! wimboot, which presents the files to the Windows boot manager under their Windows names.

use askama::Template;
use kdl::KdlNode;

use super::{Boot, Declaration, Node, NotForGrub, Render, KERNEL_AND_INITRD};
use crate::codes::Code;
use crate::decode::values::{children, name_span, Decoder};
use crate::render;
use crate::spanned::Spanned;

pub const DECLARATION: Declaration = Declaration {
    name: "wimboot",
    nodes: &[Node {
        name: "wimboot",
        chooses: true,
        repeatable: false,
        block: true,
    }],
    decode,
    fetches: KERNEL_AND_INITRD,
};

/// The files wimboot needs, by the name Windows expects them under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WimFile {
    Bootmgr,
    Bcd,
    BootSdi,
    BootWim,
}

impl WimFile {
    /// In the order wimboot wants them, whatever order the fleet wrote them in.
    const ALL: [WimFile; 4] = [
        WimFile::Bootmgr,
        WimFile::Bcd,
        WimFile::BootSdi,
        WimFile::BootWim,
    ];

    fn keyword(self) -> &'static str {
        match self {
            WimFile::Bootmgr => "bootmgr",
            WimFile::Bcd => "bcd",
            WimFile::BootSdi => "boot-sdi",
            WimFile::BootWim => "boot-wim",
        }
    }

    /// The name wimboot presents the file under.
    fn windows_name(self) -> &'static str {
        match self {
            WimFile::Bootmgr => "bootmgr",
            WimFile::Bcd => "BCD",
            WimFile::BootSdi => "boot.sdi",
            WimFile::BootWim => "boot.wim",
        }
    }
}

#[derive(Debug)]
struct Wimboot {
    wimboot: Spanned<String>,
    files: Vec<(WimFile, Spanned<String>)>,
}

#[derive(Template)]
#[template(path = "methods/wimboot.ipxe", escape = "none")]
struct Script {
    fetch: String,
    files: Vec<NamedFetch>,
}

struct NamedFetch {
    name: &'static str,
    fetch: String,
}

fn decode(d: &mut Decoder, nodes: &[&KdlNode]) -> Option<Box<dyn Boot>> {
    // `wimboot` is not repeatable: one node at most.
    let node = nodes.first()?;
    d.check_entries(node, 1, &[]);
    let wimboot = d.string_arg(
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
            d.unknown_node(child, &keywords, "in `wimboot`");
            continue;
        };
        if !d.once(&mut seen, child) {
            continue;
        }
        d.check_entries(child, 1, &[]);
        d.no_children(child);
        let example = format!("{} \"winpe-{}\"", kind.keyword(), kind.keyword());
        if let Some(a) = d.string_arg(child, 0, "an artifact name", &example) {
            files.push((kind, a));
        }
    }
    if !files.iter().any(|(k, _)| *k == WimFile::BootWim) {
        d.error(
            Code::MissingValue,
            "`wimboot` needs at least a `boot-wim`".into(),
            name_span(node),
            "no boot.wim",
            "add `boot-wim \"ARTIFACT\"` (and `bootmgr`, `bcd`, `boot-sdi` as your WinPE needs) inside the block".into(),
        );
        return None;
    }
    Some(Box::new(Wimboot {
        wimboot: wimboot?,
        files,
    }))
}

impl Boot for Wimboot {
    fn artifacts(&self) -> Vec<&Spanned<String>> {
        let files = self.files.iter().map(|(_, a)| a);
        std::iter::once(&self.wimboot).chain(files).collect()
    }

    fn render(&self, cx: &mut dyn Render) -> Option<String> {
        let files = WimFile::ALL
            .iter()
            .filter_map(|k| self.files.iter().find(|(f, _)| f == k))
            .map(|(k, a)| NamedFetch {
                name: k.windows_name(),
                fetch: cx.fetch(&a.value),
            })
            .collect();
        Some(render::render(&Script {
            fetch: cx.fetch(&self.wimboot.value),
            files,
        }))
    }

    fn grub_images(&self) -> Result<Vec<&Spanned<String>>, NotForGrub> {
        Err(NotForGrub {
            span: self.wimboot.span,
            why: "wimboot is not signed, and shim's GRUB cannot load it",
            hint: "boot Windows PE from signed media, or keep this profile to machines without `secure-boot`",
        })
    }

    fn render_grub(&self, _: &mut dyn Render) -> Option<String> {
        None
    }
}
