//! `group` and `host`: the machines, their MACs, labels and what they boot.

use kdl::KdlNode;
use netboot_manifest::MacAddr;

use super::values::{children, name_span};
use super::Decoder;
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::fleet::{Fleet, Group, HostDecl, Spanned, Target};

impl Decoder<'_> {
    pub(super) fn target(&mut self, node: &KdlNode) -> Option<Target> {
        let profile = self.string_prop(node, "profile");
        let menu = self.string_prop(node, "menu");
        match (profile, menu) {
            (Some(p), None) => Some(Target::Profile(p)),
            (None, Some(m)) => Some(Target::Menu(m)),
            (Some(p), Some(m)) => {
                self.push(
                    Diagnostic::new(
                        Code::ConflictingProperties,
                        "give either `profile=` or `menu=`, not both",
                    )
                    .label(m.span, "`menu` here")
                    .label(p.span, "`profile` here")
                    .help("a machine boots one profile or shows one menu"),
                );
                None
            }
            (None, None) => None,
        }
    }

    pub(super) fn group(&mut self, node: &KdlNode, fleet: &mut Fleet) {
        self.check_entries(node, 1, &["profile", "menu", "secure-boot"]);
        let Some(name) = self.name_arg(node, "group") else {
            return;
        };
        let target = self.target(node);
        let secure_boot = self.bool_prop(node, "secure-boot");
        let index = fleet.groups.len();
        fleet.groups.push(Group {
            name,
            target,
            secure_boot,
        });
        for child in children(node) {
            if child.name().value() != "host" {
                self.unknown_node(child, &["host"], "in a group");
                continue;
            }
            if let Some(h) = self.host(child, Some(index), fleet.groups[index].target.is_some()) {
                fleet.hosts.push(h);
            }
        }
    }

    pub(super) fn host(
        &mut self,
        node: &KdlNode,
        group: Option<usize>,
        group_has_target: bool,
    ) -> Option<HostDecl> {
        let misspelt = self.check_entries(
            node,
            1,
            &["mac", "profile", "menu", "cmdline-append", "secure-boot"],
        );
        let labels = self.labels(node);
        let name = self.name_arg(node, "host")?;
        let mac = match self.string_prop(node, "mac") {
            Some(s) => match s.value.parse::<MacAddr>() {
                Ok(m) => Some(Spanned::new(m, s.span)),
                Err(e) => {
                    self.error(
                        Code::BadMac,
                        e.to_string(),
                        s.span,
                        "not a MAC address",
                        "six two-digit hex bytes separated by `:` or `-`".into(),
                    );
                    None
                }
            },
            None => {
                // A misspelt property is most likely the MAC: that error says enough.
                if !misspelt
                    && !node
                        .entries()
                        .iter()
                        .any(|e| e.name().is_some_and(|n| n.value() == "mac"))
                {
                    self.error(
                        Code::MissingValue,
                        format!("host `{}` needs a `mac=`", name.value),
                        name_span(node),
                        "no MAC address",
                        format!(
                            "write it like `host \"{}\" mac=\"52:54:00:12:34:56\"`",
                            name.value
                        ),
                    );
                }
                None
            }
        };
        let target = self.target(node);
        if target.is_none()
            && !misspelt
            && !group_has_target
            && !node.entries().iter().any(|e| {
                e.name()
                    .is_some_and(|n| matches!(n.value(), "profile" | "menu"))
            })
        {
            self.error(
                Code::MissingValue,
                format!("host `{}` does not say what to boot", name.value),
                name_span(node),
                "no profile or menu",
                "add `profile=\"…\"` or `menu=\"…\"` to the host or its group".into(),
            );
        }
        let cmdline_append = self.string_prop(node, "cmdline-append");
        let secure_boot = self.bool_prop(node, "secure-boot");
        Some(HostDecl {
            secure_boot,
            name,
            mac,
            target,
            cmdline_append,
            labels,
            group,
        })
    }

    /// A host's `label "key" "value"` children (the only children a host takes).
    pub(super) fn labels(&mut self, node: &KdlNode) -> std::collections::BTreeMap<String, String> {
        let mut labels = std::collections::BTreeMap::new();
        for child in children(node) {
            if child.name().value() != "label" {
                self.unknown_node(child, &["label"], "in a host");
                continue;
            }
            self.check_entries(child, 2, &[]);
            let example = r#"label "role" "database""#;
            let key = self.string_arg(child, 0, "a label name", example);
            let value = self.string_arg(child, 1, "a label value", example);
            if let (Some(key), Some(value)) = (key, value) {
                self.check_name(&key, "label");
                labels.insert(key.value, value.value);
            }
        }
        labels
    }
}
