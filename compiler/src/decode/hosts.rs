//! `group` and `host`: the machines, their MACs, labels and what they boot.

use kdl::KdlNode;
use netboot_manifest::MacAddr;

use super::values::{children, name_span, Decoder};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::fleet::{Fleet, Group, HostDecl, Install, Spanned, Target};

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
        self.check_entries(node, 1, &["profile", "menu", "generation", "secure-boot"]);
        let Some(name) = self.name_arg(node, "group") else {
            return;
        };
        let target = self.target(node);
        let generation = self.generation(node);
        let mut install = None;
        let mut seen = Vec::new();
        let secure_boot = self.bool_prop(node, "secure-boot");
        for child in children(node) {
            if child.name().value() == "install" && self.once(&mut seen, child) {
                install = self.install(child, target.as_ref());
            }
        }
        let index = fleet.groups.len();
        let says_what_to_boot = target.is_some() || install.is_some();
        fleet.groups.push(Group {
            name,
            target,
            install,
            generation,
            secure_boot,
        });
        for child in children(node) {
            match child.name().value() {
                "install" => {}
                "host" => {
                    if let Some(h) = self.host(child, Some(index), says_what_to_boot) {
                        fleet.hosts.push(h);
                    }
                }
                _ => self.unknown_node(child, &["host", "install"], "in a group"),
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
            &[
                "mac",
                "profile",
                "menu",
                "cmdline-append",
                "generation",
                "secure-boot",
            ],
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
        let generation = self.generation(node);
        let mut install = None;
        let mut seen = Vec::new();
        for child in children(node) {
            if child.name().value() == "install" && self.once(&mut seen, child) {
                install = self.install(child, target.as_ref());
            }
        }
        if target.is_none()
            && install.is_none()
            && !children(node).iter().any(|c| c.name().value() == "install")
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
            install,
            generation,
        })
    }

    /// `install "PROFILE" then="PROFILE"` on a group or host that has no `profile=`/`menu=`.
    fn install(&mut self, node: &KdlNode, target: Option<&Target>) -> Option<Install> {
        self.check_entries(node, 1, &["then"]);
        self.no_children(node);
        let example = r#"install "debian-auto" then="local-disk""#;
        let profile = self.string_arg(node, 0, "the profile that installs", example)?;
        let then = self.string_prop(node, "then");
        if then.is_none()
            && !node
                .entries()
                .iter()
                .any(|e| e.name().is_some_and(|n| n.value() == "then"))
        {
            self.error(
                Code::MissingValue,
                "`install` needs `then=`: what the machine boots once it is installed".into(),
                name_span(node),
                "no `then` profile",
                format!("write it like `{example}`"),
            );
        }
        if let Some(t) = target {
            self.push(
                Diagnostic::new(
                    Code::ConflictingProperties,
                    "give either `profile=`/`menu=` or an `install` lifecycle, not both",
                )
                .label(name_span(node), "`install` here")
                .label(t.name().span, "what it boots here")
                .help(
                    "a machine with an install lifecycle boots its `then` profile once installed",
                ),
            );
            return None;
        }
        Some(Install { profile, then })
    }

    /// `generation=N`: 1 or more.
    fn generation(&mut self, node: &KdlNode) -> Option<Spanned<u32>> {
        let entry = node
            .entries()
            .iter()
            .find(|e| e.name().is_some_and(|n| n.value() == "generation"))?;
        let n = self.int_entry(entry, "`generation`")?;
        match u32::try_from(n.value) {
            Ok(g) if g >= 1 => Some(Spanned::new(g, n.span)),
            _ => {
                self.error(
                    Code::BadValue,
                    format!("generation {} is out of range", n.value),
                    n.span,
                    "out of range",
                    "generations count from 1; bump it by one to reinstall the machine".into(),
                );
                None
            }
        }
    }

    /// A host's `label "key" "value"` children (the only children a host takes).
    pub(super) fn labels(&mut self, node: &KdlNode) -> std::collections::BTreeMap<String, String> {
        let mut labels = std::collections::BTreeMap::new();
        for child in children(node) {
            match child.name().value() {
                "label" => {}
                "install" => continue,
                _ => {
                    self.unknown_node(child, &["label", "install"], "in a host");
                    continue;
                }
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
