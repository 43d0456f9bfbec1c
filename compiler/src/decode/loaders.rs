//! The `loaders` block: the iPXE binary each firmware family is handed over DHCP, and the
//! `secure-boot` set (shim, then signed GRUB) that Secure Boot machines get instead.

use kdl::KdlNode;

use super::values::children;
use super::values::name_span;
use super::values::Decoder;
use crate::codes::Code;
use crate::fleet::{Fleet, Loader, LoaderKind, SecureBootLoaders};

/// The node of the Secure Boot set in `loaders`.
const SECURE_BOOT: &str = "secure-boot";

impl Decoder<'_> {
    pub(super) fn loaders(&mut self, node: &KdlNode, fleet: &mut Fleet) {
        self.check_entries(node, 0, &[]);
        let mut keywords: Vec<&str> = LoaderKind::ALL.iter().map(|k| k.keyword()).collect();
        keywords.push(SECURE_BOOT);
        let mut seen = Vec::new();
        let loaders = &mut fleet.loaders;
        for child in children(node) {
            if child.name().value() == SECURE_BOOT {
                if self.once(&mut seen, child) {
                    fleet.secure_boot = Some(self.secure_boot_loaders(child));
                }
                continue;
            }
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

impl Decoder<'_> {
    fn secure_boot_loaders(&mut self, node: &KdlNode) -> SecureBootLoaders {
        self.check_entries(node, 0, &[]);
        let mut set = SecureBootLoaders {
            span: name_span(node),
            shim: None,
            grub: None,
        };
        let mut seen = Vec::new();
        for child in children(node) {
            let (slot, example) = match child.name().value() {
                "shim" => (&mut set.shim, r#"shim "/usr/lib/shim/shimx64.efi.signed""#),
                "grub" => (
                    &mut set.grub,
                    r#"grub "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed""#,
                ),
                _ => {
                    self.unknown_node(child, &["shim", "grub"], "in `secure-boot`");
                    continue;
                }
            };
            if !self.once(&mut seen, child) {
                continue;
            }
            self.check_entries(child, 1, &[]);
            self.no_children(child);
            *slot = self.string_arg(child, 0, "the loader's path", example);
        }
        for (name, missing) in [("shim", set.shim.is_none()), ("grub", set.grub.is_none())] {
            let written = seen.iter().any(|(n, _)| *n == name);
            if missing && !written {
                self.error(
                    Code::MissingValue,
                    format!("`secure-boot` needs `{name}`"),
                    set.span,
                    "incomplete Secure Boot loaders",
                    "write it like `secure-boot { shim \"/usr/lib/shim/shimx64.efi.signed\"; grub \"/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed\" }`".into(),
                );
            }
        }
        set
    }
}
