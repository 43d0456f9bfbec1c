//! The Secure Boot chain's files: shim and signed GRUB under `sb/`, and GRUB's configs under
//! `grub/` — where Debian's signed network GRUB looks, whatever directory shim was in (its
//! prefix `/grub` is built into the signed image). `grub/grub.cfg` hands each machine its
//! `grub/hosts/<mac>.cfg`, else `grub/default.cfg`. Everything is fetched over TFTP: Debian
//! 12's signed GRUB has no HTTP.

use askama::Template;
use netboot_manifest::{BootAnswer, ClientKind, Protocol, SecureBoot};

use super::{Generator, RenderCx};
use crate::fleet::{Entry, HostDecl, Target};
use crate::grub_text::quote;
use crate::render;
use crate::template::Vars;
use crate::validate::SecureBootChain;

/// Where shim is served; shim loads `grubx64.efi` from the same directory, which it takes
/// from the BOOTP `file` field.
pub const SHIM_ROUTE: &str = "sb/shimx64.efi";
const GRUB_ROUTE: &str = "sb/grubx64.efi";

#[derive(Template)]
#[template(path = "grub/grub.cfg", escape = "none")]
struct Dispatch<'a> {
    fleet_file: &'a str,
}

#[derive(Template)]
#[template(path = "grub/host.cfg", escape = "none")]
struct HostConfig<'a> {
    fleet_file: &'a str,
    name: &'a str,
    mac: String,
    group: Option<&'a str>,
    boots: String,
    body: String,
}

#[derive(Template)]
#[template(path = "grub/default.cfg", escape = "none")]
struct DefaultConfig<'a> {
    fleet_file: &'a str,
    comment: String,
    body: Option<String>,
}

/// One menu level: its settings and entries, already rendered below it.
#[derive(Template)]
#[template(path = "grub/menu.cfg", escape = "none")]
struct MenuLevel {
    timeout: Option<u32>,
    default: Option<String>,
    entries: Vec<GrubEntry>,
}

enum GrubEntry {
    /// A separator's text (GRUB has none: a comment keeps the source readable).
    Gap(String),
    Block(Block),
}

struct Block {
    /// `menuentry` or `submenu`.
    keyword: &'static str,
    /// Quoted.
    label: String,
    id: String,
    body: String,
}

impl Generator<'_, '_> {
    /// Serves the chain's loaders and writes `grub/grub.cfg` and `grub/default.cfg`; the
    /// manifest's Secure Boot table.
    pub(super) fn secure_boot_chain(&mut self, sb: &SecureBootChain, shared: &Vars) -> SecureBoot {
        self.artifact_route(SHIM_ROUTE, &sb.shim, true);
        self.artifact_route(GRUB_ROUTE, &sb.grub, true);
        let dispatch = render::render(&Dispatch {
            fleet_file: &self.fleet_file,
        });
        self.script("grub/grub.cfg", dispatch, true);
        let fleet = self.c.fleet;
        let (comment, body) = match (&fleet.default, sb.default) {
            (Some(t), true) => (
                format!("Everyone else, through Secure Boot: {}.", describe(t)),
                self.grub_target(t, shared, None),
            ),
            (None, true) => (
                "Everyone else: no `default` in the fleet, so boot from the next device.".into(),
                Some("exit\n".into()),
            ),
            (_, false) => (
                "Everyone else boots iPXE, not this chain (`default` has no `secure-boot=#true`)."
                    .into(),
                None,
            ),
        };
        let text = render::render(&DefaultConfig {
            fleet_file: &self.fleet_file,
            comment,
            body,
        });
        self.script("grub/default.cfg", text, true);
        let shim = BootAnswer {
            protocol: Protocol::Tftp,
            path: SHIM_ROUTE.into(),
        };
        SecureBoot {
            dhcp: [(ClientKind::EfiX64, shim)].into(),
            default: sb.default,
        }
    }

    /// `grub/hosts/<mac>.cfg` for a Secure Boot host.
    pub(super) fn grub_host(
        &mut self,
        h: &HostDecl,
        target: &Target,
        vars: &Vars,
        shared: &Vars,
        group: Option<&str>,
    ) {
        let Some(mac) = &h.mac else { return };
        let body = match target {
            Target::Profile(_) => self.grub_target(target, vars, Some(h)),
            // Menus are the same for every machine (their profiles use no host variables).
            Target::Menu(_) => self.grub_target(target, shared, None),
        };
        let Some(body) = body else { return };
        let text = render::render(&HostConfig {
            fleet_file: &self.fleet_file,
            name: &h.name.value,
            mac: mac.value.to_string(),
            group,
            boots: describe(target),
            body,
        });
        // `$net_default_mac` is lower case with colons, like the manifest's MACs.
        self.script(&format!("grub/hosts/{}.cfg", mac.value), text, true);
    }

    /// What a machine booting `target` sees: one entry booted at once, or a menu.
    fn grub_target(
        &mut self,
        target: &Target,
        vars: &Vars,
        host: Option<&HostDecl>,
    ) -> Option<String> {
        match target {
            Target::Profile(p) => {
                let &pi = self.c.profiles.get(&p.value)?;
                let entry = self.grub_entry(pi, &p.value, vars, host)?;
                Some(render::render(&MenuLevel {
                    timeout: Some(0),
                    default: Some(entry.id.clone()),
                    entries: vec![GrubEntry::Block(entry)],
                }))
            }
            Target::Menu(m) => {
                let mi = self
                    .c
                    .fleet
                    .menus
                    .iter()
                    .position(|x| x.name.value == m.value)?;
                self.grub_menu(mi, vars)
            }
        }
    }

    fn grub_entry(
        &mut self,
        pi: usize,
        label: &str,
        vars: &Vars,
        host: Option<&HostDecl>,
    ) -> Option<Block> {
        let p = &self.c.fleet.profiles[pi];
        let steps = p.method.as_ref()?.render_grub(&mut RenderCx {
            g: self,
            profile: pi,
            vars,
            host,
        })?;
        Some(Block {
            keyword: "menuentry",
            label: quote(label),
            id: format!("p-{}", p.name.value),
            body: steps,
        })
    }

    /// A menu and, inline, its submenus and the menus it links to (validation refused cycles).
    fn grub_menu(&mut self, mi: usize, vars: &Vars) -> Option<String> {
        let fleet = self.c.fleet;
        let m = &fleet.menus[mi];
        let mut entries = Vec::new();
        for e in &m.entries {
            match e {
                Entry::Item { target, label } => {
                    if let Some(&pi) = self.c.profiles.get(&target.value) {
                        entries.push(GrubEntry::Block(self.grub_entry(
                            pi,
                            &label.value,
                            vars,
                            None,
                        )?));
                    } else {
                        let sub = fleet
                            .menus
                            .iter()
                            .position(|x| x.name.value == target.value)?;
                        entries.push(GrubEntry::Block(Block {
                            keyword: "submenu",
                            label: quote(&label.value),
                            id: format!("m-{}", target.value),
                            body: self.grub_menu(sub, vars)?,
                        }));
                    }
                }
                Entry::Submenu(s) => {
                    let sub = &fleet.menus[*s];
                    let label = sub.label.as_ref().map_or(&sub.name.value, |l| &l.value);
                    entries.push(GrubEntry::Block(Block {
                        keyword: "submenu",
                        label: quote(label),
                        id: format!("m-{}", sub.name.value),
                        body: self.grub_menu(*s, vars)?,
                    }));
                }
                Entry::Separator(text) => entries.push(GrubEntry::Gap(
                    text.as_ref().map_or(String::new(), |t| t.value.clone()),
                )),
            }
        }
        let default = m.default.as_ref().map(|d| {
            if self.c.profiles.contains_key(&d.value) {
                format!("p-{}", d.value)
            } else {
                format!("m-{}", d.value)
            }
        });
        Some(render::render(&MenuLevel {
            // iPXE waits for a choice when the timeout is 0 or absent; GRUB does when unset.
            timeout: m.timeout.as_ref().map(|t| t.value).filter(|&t| t > 0),
            default,
            entries,
        }))
    }
}

fn describe(t: &Target) -> String {
    match t {
        Target::Profile(p) => format!("profile {}", p.value),
        Target::Menu(m) => format!("menu {}", m.value),
    }
}
