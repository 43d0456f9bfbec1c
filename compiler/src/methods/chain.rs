//! `chain "URL"`: hand the machine to another iPXE script or binary, fetched from elsewhere.

use askama::Template;
use kdl::KdlNode;

use super::{Boot, Declaration, Node, NotForGrub, Render};
use crate::codes::Code;
use crate::decode::values::{url_problem, Decoder};
use crate::render;
use crate::spanned::Spanned;

pub const DECLARATION: Declaration = Declaration {
    name: "chain",
    nodes: &[Node::chooses("chain")],
    decode,
    fetches: &[],
};

#[derive(Debug)]
struct Chain(Spanned<String>);

#[derive(Template)]
#[template(path = "methods/chain.ipxe", escape = "none")]
struct Script<'a> {
    url: &'a str,
}

fn decode(d: &mut Decoder, nodes: &[&KdlNode]) -> Option<Box<dyn Boot>> {
    let mut chain = None;
    for node in nodes {
        d.check_entries(node, 1, &[]);
        if let Some(u) = d.string_arg(node, 0, "a URL", "chain \"https://boot.netboot.xyz\"") {
            if let Some(why) = url_problem(&u.value) {
                d.error(
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
    Some(Box::new(Chain(chain?)))
}

impl Boot for Chain {
    fn artifacts(&self) -> Vec<&Spanned<String>> {
        Vec::new()
    }

    fn render(&self, _: &mut dyn Render) -> Option<String> {
        Some(render::render(&Script { url: &self.0.value }))
    }

    fn grub_images(&self) -> Result<Vec<&Spanned<String>>, NotForGrub> {
        Err(NotForGrub {
            span: self.0.span,
            why: "GRUB cannot chain to a URL (and Debian 12's signed GRUB has no HTTP at all)",
            hint: "boot a signed kernel with `kernel`/`initrd` served by netboot, or keep this profile to machines without `secure-boot`",
        })
    }

    fn render_grub(&self, _: &mut dyn Render) -> Option<String> {
        None
    }
}
