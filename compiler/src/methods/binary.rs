//! `efi ART` and/or `bios ART`: a binary booted directly (memtest, a firmware tool), picked
//! by `${platform}` when there are both.

use askama::Template;
use kdl::KdlNode;

use super::{Boot, Content, Declaration, Node, NotForGrub, Render};
use crate::decode::values::Decoder;
use crate::platform::Platform;
use crate::render;
use crate::spanned::Spanned;

pub const DECLARATION: Declaration = Declaration {
    name: "binary",
    nodes: &[Node::chooses("efi"), Node::chooses("bios")],
    decode,
    fetches: &[],
};

/// At least one of the two is present.
#[derive(Debug)]
struct Binary {
    efi: Option<Spanned<String>>,
    bios: Option<Spanned<String>>,
}

#[derive(Template)]
#[template(path = "methods/binary.ipxe", escape = "none")]
struct Script {
    efi: Option<String>,
    bios: Option<String>,
}

#[derive(Template)]
#[template(path = "methods/binary.grub", escape = "none")]
struct Grub {
    efi: String,
}

fn decode(d: &mut Decoder, nodes: &[&KdlNode]) -> Option<Box<dyn Boot>> {
    let (mut efi, mut bios) = (None, None);
    for node in nodes {
        d.check_entries(node, 1, &[]);
        match node.name().value() {
            "efi" => efi = d.string_arg(node, 0, "an artifact name", "efi \"memtest-efi\""),
            // Only the method's own nodes are handed to it.
            _ => bios = d.string_arg(node, 0, "an artifact name", "bios \"memtest-bios\""),
        }
    }
    (efi.is_some() || bios.is_some()).then(|| Box::new(Binary { efi, bios }) as Box<dyn Boot>)
}

impl Boot for Binary {
    fn artifacts(&self) -> Vec<&Spanned<String>> {
        self.efi.iter().chain(self.bios.iter()).collect()
    }

    fn contents(&self) -> Vec<(&Spanned<String>, Content)> {
        // A `bios` binary has no format to check: iPXE boots anything it recognises (a
        // bzImage, a PXE image, a COMBOOT module).
        self.efi.iter().map(|a| (a, Content::EfiBinary)).collect()
    }

    fn render(&self, cx: &mut dyn Render) -> Option<String> {
        Some(render::render(&Script {
            efi: self.efi.as_ref().map(|a| cx.fetch(&a.value)),
            bios: self.bios.as_ref().map(|a| cx.fetch(&a.value)),
        }))
    }

    fn grub_images(&self) -> Result<Vec<&Spanned<String>>, NotForGrub> {
        match (&self.efi, &self.bios) {
            (Some(efi), _) => Ok(vec![efi]),
            (None, Some(bios)) => Err(NotForGrub {
                span: bios.span,
                why: "it has only a BIOS binary, and Secure Boot machines boot UEFI",
                hint: "add a signed `efi` binary, or keep this profile to machines without `secure-boot`",
            }),
            (None, None) => Ok(Vec::new()),
        }
    }

    fn render_grub(&self, cx: &mut dyn Render) -> Option<String> {
        let efi = self.efi.as_ref()?;
        Some(render::render(&Grub {
            efi: cx.grub_fetch(&efi.value),
        }))
    }

    fn platforms(&self) -> Option<Vec<Platform>> {
        let efi = self.efi.as_ref().map(|_| Platform::Efi);
        let bios = self.bios.as_ref().map(|_| Platform::Bios);
        Some(efi.into_iter().chain(bios).collect())
    }
}
