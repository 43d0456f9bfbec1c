//! `exit`: iPXE gives up and the firmware tries its next boot device (usually the disk).

use askama::Template;
use kdl::KdlNode;

use super::{Boot, Declaration, Node, NotForGrub, Render};
use crate::decode::values::Decoder;
use crate::render;
use crate::spanned::Spanned;

pub const DECLARATION: Declaration = Declaration {
    name: "exit",
    nodes: &[Node::chooses("exit")],
    decode,
    fetches: &[],
};

#[derive(Debug)]
struct Exit;

#[derive(Template)]
#[template(path = "methods/exit.ipxe", escape = "none")]
struct Script;

#[derive(Template)]
#[template(path = "methods/exit.grub", escape = "none")]
struct Grub;

fn decode(d: &mut Decoder, nodes: &[&KdlNode]) -> Option<Box<dyn Boot>> {
    for node in nodes {
        d.check_entries(node, 0, &[]);
    }
    Some(Box::new(Exit))
}

impl Boot for Exit {
    fn artifacts(&self) -> Vec<&Spanned<String>> {
        Vec::new()
    }

    fn render(&self, _: &mut dyn Render) -> Option<String> {
        Some(render::render(&Script))
    }

    fn grub_images(&self) -> Result<Vec<&Spanned<String>>, NotForGrub> {
        Ok(Vec::new())
    }

    fn render_grub(&self, _: &mut dyn Render) -> Option<String> {
        Some(render::render(&Grub))
    }
}
