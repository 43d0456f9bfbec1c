//! Names and MACs are unique: two items of one kind with one name, or two hosts with one MAC,
//! are reported with both places labelled.

use std::collections::HashMap;

use netboot_manifest::MacAddr;

use super::{Rule, Validator};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::fleet::Spanned;

pub(super) const DUPLICATE_NAMES: Rule = Rule {
    name: "duplicate names",
    codes: &[Code::DuplicateName],
    check: |v| {
        let fleet = v.fleet;
        v.artifacts = v.index(&fleet.artifacts, |a| &a.name, "artifact");
        v.profiles = v.index(&fleet.profiles, |p| &p.name, "profile");
        v.menus = v.index(&fleet.menus, |m| &m.name, "menu");
        v.index(&fleet.groups, |g| &g.name, "group");
        v.index(&fleet.hosts, |h| &h.name, "host");
    },
};

pub(super) const DUPLICATE_MACS: Rule = Rule {
    name: "duplicate MACs",
    codes: &[Code::DuplicateMac],
    check: |v| v.macs(),
};

impl<'f> Validator<'f, '_> {
    /// Name → index, reporting duplicates with both places labelled.
    fn index<T>(
        &mut self,
        items: &'f [T],
        name: impl Fn(&T) -> &Spanned<String>,
        what: &str,
    ) -> HashMap<String, usize> {
        let mut map: HashMap<String, usize> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let n = name(item);
            if let Some(&first) = map.get(&n.value) {
                let first = name(&items[first]).span;
                self.push(
                    Diagnostic::new(
                        Code::DuplicateName,
                        format!("{what} `{}` is defined twice", n.value),
                    )
                    .label(n.span, "defined again here")
                    .label(first, "first defined here")
                    .help(format!("{what} names must be unique: rename or remove one")),
                );
            } else {
                map.insert(n.value.clone(), i);
            }
        }
        map
    }

    fn macs(&mut self) {
        let mut seen: HashMap<MacAddr, usize> = HashMap::new();
        for (i, h) in self.fleet.hosts.iter().enumerate() {
            let Some(mac) = &h.mac else { continue };
            if let Some(&first) = seen.get(&mac.value) {
                let other = &self.fleet.hosts[first];
                let first_span = other.mac.as_ref().map_or(other.name.span, |m| m.span);
                self.push(
                    Diagnostic::new(
                        Code::DuplicateMac,
                        format!(
                            "MAC {} is given to both `{}` and `{}`",
                            mac.value, other.name.value, h.name.value
                        ),
                    )
                    .label(mac.span, "used again here")
                    .label(first_span, "first used here")
                    .help("a machine can have only one entry: remove one, or fix the address"),
                );
            } else {
                seen.insert(mac.value, i);
            }
        }
    }
}
