//! Install lifecycles: which hosts install once and at what generation, and whether the
//! profiles they name exist and can ever stop reinstalling.
//!
//! A host's own `profile=`/`menu=` beats its group's `install`; its own `install` or
//! `generation=` beats its group's.

use super::{Rule, Validator};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::fleet::{Install, Target};

/// One host's lifecycle, settled: profiles by index, the generation it must report.
#[derive(Debug, Clone)]
pub struct HostInstall {
    pub install: usize,
    pub then: usize,
    pub generation: u32,
}

pub(super) const RULE: Rule = Rule {
    name: "lifecycle",
    codes: &[
        Code::UnknownProfile,
        Code::InstallLoop,
        Code::UnusedGeneration,
    ],
    check,
};

fn check(v: &mut Validator<'_, '_>) {
    let fleet = v.fleet;
    // Each `install` node is checked once, where it is written.
    let groups: Vec<Option<(usize, usize)>> = fleet
        .groups
        .iter()
        .map(|g| g.install.as_ref().and_then(|i| v.install(i)))
        .collect();
    let mut group_used = vec![false; fleet.groups.len()];
    for h in &fleet.hosts {
        let resolved = match (&h.target, &h.install, h.group) {
            (Some(_), _, _) => None,
            (None, Some(own), _) => v.install(own),
            (None, None, Some(g)) => groups[g],
            (None, None, None) => None,
        };
        let group_generation = h.group.and_then(|g| fleet.groups[g].generation.as_ref());
        let settled = resolved.map(|(install, then)| HostInstall {
            install,
            then,
            generation: h
                .generation
                .as_ref()
                .or(group_generation)
                .map_or(1, |g| g.value),
        });
        match (&settled, &h.generation) {
            (Some(s), _) => {
                v.direct[s.install] = true;
                if h.generation.is_none() {
                    if let Some(g) = h.group {
                        group_used[g] = true;
                    }
                }
            }
            (None, Some(g)) => v.push(
                Diagnostic::new(
                    Code::UnusedGeneration,
                    format!("host `{}` has a generation but nothing to install", h.name.value),
                )
                .label(g.span, "changes nothing")
                .help("`generation` counts installs of an `install \"…\" then=\"…\"` lifecycle on the host or its group"),
            ),
            (None, None) => {}
        }
        v.host_installs.push(settled);
    }
    for (i, g) in fleet.groups.iter().enumerate() {
        if let (Some(gen), false) = (&g.generation, group_used[i]) {
            v.push(
                Diagnostic::new(
                    Code::UnusedGeneration,
                    format!(
                        "group `{}` has a generation that no host installs by",
                        g.name.value
                    ),
                )
                .label(gen.span, "changes nothing")
                .help("give the group an `install \"…\" then=\"…\"`, or remove `generation`"),
            );
        }
    }
}

impl Validator<'_, '_> {
    /// The install and then profiles an `install` node names, when both exist and differ.
    fn install(&mut self, i: &Install) -> Option<(usize, usize)> {
        let profiles = std::mem::take(&mut self.profiles);
        let menus = std::mem::take(&mut self.menus);
        let install = self.profile_ref(&i.profile, &profiles, &menus);
        let then = i
            .then
            .as_ref()
            .and_then(|t| self.profile_ref(t, &profiles, &menus));
        self.profiles = profiles;
        self.menus = menus;
        // Named by a lifecycle: booted, even when the lifecycle itself is in error.
        for p in [install, then].into_iter().flatten() {
            self.direct[p] = true;
        }
        let (install, then) = (install?, then?);
        if install == then {
            let t = i.then.as_ref()?;
            self.push(
                Diagnostic::new(
                    Code::InstallLoop,
                    format!("`then` is the install profile `{}` itself", t.value),
                )
                .label(t.span, "boots the installer again")
                .label(i.profile.span, "the install profile")
                .help("`then` is what the machine boots once installed, usually a profile that boots the local disk (`exit`)"),
            );
            return None;
        }
        Some((install, then))
    }

    fn profile_ref(
        &mut self,
        name: &crate::fleet::Spanned<String>,
        profiles: &std::collections::HashMap<String, usize>,
        menus: &std::collections::HashMap<String, usize>,
    ) -> Option<usize> {
        match self.target(&Target::Profile(name.clone()), profiles, menus) {
            Some(super::Resolved::Profile(p)) => Some(p),
            _ => None,
        }
    }
}
