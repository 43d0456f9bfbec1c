//! Menus: items name profiles or menus that exist, defaults are items, and menus do not link
//! in a circle.

use std::collections::HashMap;

use super::{Rule, Validator};
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Span};
use crate::fleet::Entry;
use crate::suggest;

pub(super) const ITEMS: Rule = Rule {
    name: "menu items",
    codes: &[Code::UnknownProfile, Code::DefaultNotInMenu],
    check: |v| {
        let profiles = std::mem::take(&mut v.profiles);
        let menus = std::mem::take(&mut v.menus);
        let mut shared = std::mem::take(&mut v.shared);
        let mut menu_used = std::mem::take(&mut v.menu_used);
        v.links = v.menu_items(&profiles, &menus, &mut shared, &mut menu_used);
        (v.profiles, v.menus, v.shared, v.menu_used) = (profiles, menus, shared, menu_used);
    },
};

pub(super) const CYCLES: Rule = Rule {
    name: "menu cycles",
    codes: &[Code::MenuCycle],
    check: |v| {
        let links = std::mem::take(&mut v.links);
        v.menu_cycles(&links);
        v.links = links;
    },
};

impl<'f> Validator<'f, '_> {
    /// Checks items and defaults; returns the menu → menu links (with the span that makes each).
    fn menu_items(
        &mut self,
        profiles: &HashMap<String, usize>,
        menus: &HashMap<String, usize>,
        shared: &mut [Option<Span>],
        menu_used: &mut [bool],
    ) -> Vec<Vec<(usize, Span)>> {
        let fleet = self.fleet;
        let mut links = vec![Vec::new(); fleet.menus.len()];
        for (mi, m) in fleet.menus.iter().enumerate() {
            let mut ids: Vec<&str> = Vec::new();
            for e in &m.entries {
                match e {
                    Entry::Item { target, .. } => {
                        ids.push(&target.value);
                        if let Some(&p) = profiles.get(&target.value) {
                            shared[p] = shared[p].or(Some(target.span));
                        } else if let Some(&other) = menus.get(&target.value) {
                            menu_used[other] = true;
                            links[mi].push((other, target.span));
                        } else {
                            let names = fleet
                                .profiles
                                .iter()
                                .map(|p| p.name.value.as_str())
                                .chain(fleet.menus.iter().map(|m| m.name.value.as_str()));
                            let help = suggest::help_for(&target.value, names, "profile or menu");
                            self.push(
                                Diagnostic::new(
                                    Code::UnknownProfile,
                                    format!("no profile or menu is named `{}`", target.value),
                                )
                                .label(target.span, "unknown profile")
                                .help(help),
                            );
                        }
                    }
                    Entry::Submenu(s) => {
                        ids.push(&fleet.menus[*s].name.value);
                        menu_used[*s] = true;
                        links[mi].push((*s, fleet.menus[*s].name.span));
                    }
                    Entry::Separator(_) => {}
                }
            }
            if let Some(d) = &m.default {
                if !ids.contains(&d.value.as_str()) {
                    let help = match suggest::closest(&d.value, ids.iter().copied()) {
                        Some(c) => format!("did you mean `{c}`?"),
                        None if ids.is_empty() => "the menu has no items yet".into(),
                        None => format!(
                            "the default must be one of this menu's items: {}",
                            ids.join(", ")
                        ),
                    };
                    self.push(
                        Diagnostic::new(
                            Code::DefaultNotInMenu,
                            format!(
                                "menu `{}` defaults to `{}`, which it does not list",
                                m.name.value, d.value
                            ),
                        )
                        .label(d.span, "not an item of this menu")
                        .label(m.name.span, "in this menu")
                        .help(help),
                    );
                }
            }
        }
        links
    }

    fn menu_cycles(&mut self, links: &[Vec<(usize, Span)>]) {
        // Iterative DFS with colours; a link to a menu on the current path closes a cycle.
        #[derive(Clone, Copy, PartialEq)]
        enum Colour {
            White,
            Grey,
            Black,
        }
        let n = links.len();
        let mut colour = vec![Colour::White; n];
        for start in 0..n {
            if colour[start] != Colour::White {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            colour[start] = Colour::Grey;
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                if let Some(&(to, span)) = links[node].get(*next) {
                    *next += 1;
                    match colour[to] {
                        Colour::White => {
                            colour[to] = Colour::Grey;
                            stack.push((to, 0));
                        }
                        Colour::Grey => {
                            let from = stack.iter().position(|(m, _)| *m == to).unwrap_or(0);
                            let mut path: Vec<&str> = stack[from..]
                                .iter()
                                .map(|(m, _)| self.fleet.menus[*m].name.value.as_str())
                                .collect();
                            path.push(&self.fleet.menus[to].name.value);
                            let path = path.join(" → ");
                            self.push(
                                Diagnostic::new(Code::MenuCycle, format!("menus link in a circle: {path}"))
                                    .label(span, "this link closes the circle")
                                    .help("submenus get a `Back` item automatically; remove the link back"),
                            );
                        }
                        Colour::Black => {}
                    }
                } else {
                    colour[node] = Colour::Black;
                    stack.pop();
                }
            }
        }
    }
}
