//! The `loaders` block: the iPXE binary each firmware family is handed over DHCP.

use kdl::KdlNode;

use super::values::children;
use super::Decoder;
use crate::fleet::{Loader, LoaderKind};

impl Decoder<'_> {
    pub(super) fn loaders(&mut self, node: &KdlNode, loaders: &mut Vec<Loader>) {
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
}
