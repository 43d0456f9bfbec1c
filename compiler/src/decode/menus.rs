//! `menu NAME { … }` and its submenus, items and separators.

use kdl::KdlNode;

use super::values::{children, positional, Decoder};
use crate::codes::Code;
use crate::fleet::{Entry, Menu, Spanned};

const MENU_CHILDREN: &[&str] = &["title", "timeout", "default", "item", "separator", "menu"];

impl Decoder<'_> {
    pub(super) fn menu(
        &mut self,
        node: &KdlNode,
        parent: Option<usize>,
        menus: &mut Vec<Menu>,
    ) -> Option<usize> {
        let (name, label) = if parent.is_some() {
            self.check_entries(node, 2, &[]);
            let name = self.name_arg(node, "menu");
            let label = self.string_arg(
                node,
                1,
                "a label",
                "menu \"rescue\" \"Rescue systems\" { … }",
            );
            (name?, label)
        } else {
            self.check_entries(node, 1, &[]);
            (self.name_arg(node, "menu")?, None)
        };
        if let Some(l) = &label {
            self.check_text(l, "a menu label");
        }
        let index = menus.len();
        menus.push(Menu {
            name,
            parent,
            label,
            title: None,
            timeout: None,
            default: None,
            entries: Vec::new(),
        });
        let mut seen = Vec::new();
        for child in children(node) {
            let key = child.name().value();
            if !MENU_CHILDREN.contains(&key) {
                self.unknown_node(child, MENU_CHILDREN, "in a menu");
                continue;
            }
            if matches!(key, "title" | "timeout" | "default") && !self.once(&mut seen, child) {
                continue;
            }
            if key != "menu" {
                self.no_children(child);
            }
            match key {
                "title" => {
                    self.check_entries(child, 1, &[]);
                    let t = self.string_arg(child, 0, "a title", "title \"Lab\"");
                    if let Some(t) = &t {
                        self.check_text(t, "a menu title");
                    }
                    menus[index].title = t;
                }
                "timeout" => {
                    self.check_entries(child, 1, &[]);
                    let Some(e) = positional(child).first().copied() else {
                        self.string_arg(child, 0, "a number of seconds", "timeout 10");
                        continue;
                    };
                    if let Some(n) = self.int_entry(e, "`timeout`") {
                        match u32::try_from(n.value) {
                            Ok(s) if s <= 86_400 => {
                                menus[index].timeout = Some(Spanned::new(s, n.span))
                            }
                            _ => self.error(
                                Code::BadValue,
                                format!("timeout {} is out of range", n.value),
                                n.span,
                                "out of range",
                                "the timeout is 0 (wait forever) to 86400 seconds".into(),
                            ),
                        }
                    }
                }
                "default" => {
                    self.check_entries(child, 1, &[]);
                    menus[index].default =
                        self.string_arg(child, 0, "an item of this menu", "default \"local-disk\"");
                }
                "item" => {
                    self.check_entries(child, 2, &[]);
                    let target = self.string_arg(
                        child,
                        0,
                        "a profile name",
                        "item \"debian-install\" \"Install Debian\"",
                    );
                    let label = self.string_arg(
                        child,
                        1,
                        "a label",
                        "item \"debian-install\" \"Install Debian\"",
                    );
                    if let Some(l) = &label {
                        self.check_text(l, "a menu label");
                    }
                    if let (Some(target), Some(label)) = (target, label) {
                        menus[index].entries.push(Entry::Item { target, label });
                    }
                }
                "separator" => {
                    self.check_entries(child, 1, &[]);
                    let text = match positional(child).first() {
                        Some(e) => self.string_entry(e, "a separator"),
                        None => None,
                    };
                    if let Some(t) = &text {
                        self.check_text(t, "a separator");
                    }
                    menus[index].entries.push(Entry::Separator(text));
                }
                "menu" => {
                    if let Some(sub) = self.menu(child, Some(index), menus) {
                        menus[index].entries.push(Entry::Submenu(sub));
                    }
                }
                _ => unreachable!("checked against MENU_CHILDREN"),
            }
        }
        Some(index)
    }
}
