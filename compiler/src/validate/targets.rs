//! What machines boot: `default`, groups and hosts name profiles and menus that exist, and a
//! host's `cmdline-append` has a kernel command line to go to.

use std::collections::HashMap;

use super::{Resolved, Rule, Validator};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::fleet::{HostDecl, Profile, Target};
use crate::suggest;

pub(super) const RULE: Rule = Rule {
    name: "targets",
    codes: &[
        Code::UnknownProfile,
        Code::UnknownMenu,
        Code::NeedsKernel,
        Code::UnsafeText,
    ],
    check: |v| {
        let fleet = v.fleet;
        let profiles = std::mem::take(&mut v.profiles);
        let menus = std::mem::take(&mut v.menus);
        if let Some(t) = &fleet.default {
            match v.target(t, &profiles, &menus) {
                Some(Resolved::Profile(p)) => {
                    v.shared[p] = v.shared[p].or(Some(t.name().span));
                }
                Some(Resolved::Menu(m)) => v.menu_used[m] = true,
                None => {}
            }
        }
        for g in &fleet.groups {
            if let Some(t) = &g.target {
                v.target(t, &profiles, &menus);
            }
        }
        for (hi, h) in fleet.hosts.iter().enumerate() {
            // A lifecycle host's everyday target is its `then` profile (checked by the
            // lifecycle rule, so looked up quietly here).
            let then = v.host_installs[hi]
                .as_ref()
                .map(|l| Target::Profile(fleet.profiles[l.then].name.clone()));
            let target = h
                .target
                .clone()
                .or(then)
                .or_else(|| h.group.and_then(|g| fleet.groups[g].target.clone()));
            let resolved = match (&h.target, &target) {
                (Some(t), _) => v.target(t, &profiles, &menus),
                // The group's target was checked (and reported) once, at the group.
                (None, Some(t)) => v.quiet_target(t, &profiles, &menus),
                (None, None) => None,
            };
            match resolved {
                Some(Resolved::Profile(p)) => {
                    v.direct[p] = true;
                    // A lifecycle host appends to whichever of its two profiles has a kernel.
                    let install = v.host_installs[hi].as_ref().map(|l| l.install);
                    let takes = |i: usize| {
                        fleet.profiles[i]
                            .method
                            .as_ref()
                            .is_some_and(|m| m.takes_cmdline_append())
                    };
                    let kernel = install.filter(|&i| takes(i) && !takes(p)).unwrap_or(p);
                    v.cmdline_append(h, Some(&fleet.profiles[kernel]));
                }
                Some(Resolved::Menu(m)) => {
                    v.menu_used[m] = true;
                    v.cmdline_append(h, None);
                }
                None => {}
            }
            v.host_targets.push(target);
        }
        v.profiles = profiles;
        v.menus = menus;
    },
};

impl<'f> Validator<'f, '_> {
    fn quiet_target(
        &self,
        t: &Target,
        profiles: &HashMap<String, usize>,
        menus: &HashMap<String, usize>,
    ) -> Option<Resolved> {
        match t {
            Target::Profile(n) => profiles.get(&n.value).map(|&i| Resolved::Profile(i)),
            Target::Menu(n) => menus.get(&n.value).map(|&i| Resolved::Menu(i)),
        }
    }

    pub(super) fn target(
        &mut self,
        t: &Target,
        profiles: &HashMap<String, usize>,
        menus: &HashMap<String, usize>,
    ) -> Option<Resolved> {
        let found = self.quiet_target(t, profiles, menus);
        if found.is_none() {
            let (code, what, names): (_, _, Vec<&str>) = match t {
                Target::Profile(_) => (
                    Code::UnknownProfile,
                    "profile",
                    self.fleet
                        .profiles
                        .iter()
                        .map(|p| p.name.value.as_str())
                        .collect(),
                ),
                Target::Menu(_) => (
                    Code::UnknownMenu,
                    "menu",
                    self.fleet
                        .menus
                        .iter()
                        .map(|m| m.name.value.as_str())
                        .collect(),
                ),
            };
            let n = t.name();
            let help = suggest::help_for(&n.value, names.iter().copied(), what);
            self.push(
                Diagnostic::new(code, format!("no {what} is named `{}`", n.value))
                    .label(n.span, format!("unknown {what}"))
                    .help(help),
            );
        }
        found
    }

    fn cmdline_append(&mut self, h: &HostDecl, profile: Option<&Profile>) {
        let Some(append) = &h.cmdline_append else {
            return;
        };
        let kernel = profile
            .and_then(|p| p.method.as_ref())
            .is_some_and(|m| m.takes_cmdline_append());
        if !kernel {
            self.push(
                Diagnostic::new(
                    Code::NeedsKernel,
                    format!(
                        "host `{}` appends to a kernel command line it does not boot",
                        h.name.value
                    ),
                )
                .label(append.span, "nothing to append to")
                .help("`cmdline-append` works only when the host boots a profile with a `kernel`"),
            );
        }
        if let Some(why) = crate::decode::unsafe_text(&append.value) {
            self.push(
                Diagnostic::new(
                    Code::UnsafeText,
                    format!("`cmdline-append` cannot contain {why}"),
                )
                .label(append.span, "unsafe in an iPXE script")
                .help("iPXE has no quoting: use plain kernel arguments"),
            );
        }
    }
}
