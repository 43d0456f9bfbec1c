//! `sanboot ART`: boot a disk image (an ISO) as if it were a local disk.

use askama::Template;
use kdl::KdlNode;

use super::{Boot, Content, Declaration, Fetch, Node, NotForGrub, Render};
use crate::decode::values::Decoder;
use crate::render;
use crate::spanned::Spanned;

pub const DECLARATION: Declaration = Declaration {
    name: "sanboot",
    nodes: &[Node::chooses("sanboot")],
    decode,
    fetches: &[Fetch {
        command: "sanboot",
        role: "sanboot",
        ends_script: true,
    }],
};

#[derive(Debug)]
struct Sanboot(Spanned<String>);

#[derive(Template)]
#[template(path = "methods/sanboot.ipxe", escape = "none")]
struct Script {
    fetch: String,
}

fn decode(d: &mut Decoder, nodes: &[&KdlNode]) -> Option<Box<dyn Boot>> {
    let mut image = None;
    for node in nodes {
        d.check_entries(node, 1, &[]);
        image = d.string_arg(node, 0, "an artifact name", "sanboot \"rescue-iso\"");
    }
    Some(Box::new(Sanboot(image?)))
}

impl Boot for Sanboot {
    fn artifacts(&self) -> Vec<&Spanned<String>> {
        vec![&self.0]
    }

    fn contents(&self) -> Vec<(&Spanned<String>, Content)> {
        vec![(&self.0, Content::DiskImage)]
    }

    fn render(&self, cx: &mut dyn Render) -> Option<String> {
        let fetch = cx.fetch(&self.0.value);
        Some(render::render(&Script { fetch }))
    }

    fn grub_images(&self) -> Result<Vec<&Spanned<String>>, NotForGrub> {
        Err(NotForGrub {
            span: self.0.span,
            why: "`sanboot` is an iPXE command; GRUB cannot boot a disk image over the network",
            hint: "boot the image's signed kernel and initrd with `kernel`/`initrd`, or keep this profile to machines without `secure-boot`",
        })
    }

    fn render_grub(&self, _: &mut dyn Render) -> Option<String> {
        None
    }
}
