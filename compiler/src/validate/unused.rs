//! Warnings for what nothing uses: a top-level menu nobody is shown, a profile nothing boots,
//! an artifact no profile names.

use super::{Rule, Validator};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;

pub(super) const RULE: Rule = Rule {
    name: "unused",
    codes: &[Code::UnusedMenu, Code::UnusedProfile, Code::UnusedArtifact],
    check,
};

fn check(v: &mut Validator<'_, '_>) {
    let fleet = v.fleet;
    for (i, m) in fleet.menus.iter().enumerate() {
        if m.parent.is_none() && !v.menu_used[i] {
            v.push(
                Diagnostic::new(
                    Code::UnusedMenu,
                    format!("menu `{}` is never shown", m.name.value),
                )
                .label(
                    m.name.span,
                    "not used by `default`, any host or group, or another menu",
                )
                .help("boot it from a host, a group or `default`, or remove it"),
            );
        }
    }

    for (i, p) in fleet.profiles.iter().enumerate() {
        if v.shared[i].is_none() && !v.direct[i] {
            v.push(
                Diagnostic::new(
                    Code::UnusedProfile,
                    format!("profile `{}` is never booted", p.name.value),
                )
                .label(
                    p.name.span,
                    "not used by any menu, host, group or `default`",
                )
                .help("list it in a menu or point a host at it, or remove it"),
            );
        }
    }
    for (i, a) in fleet.artifacts.iter().enumerate() {
        if !v.used_artifacts[i] {
            v.push(
                Diagnostic::new(
                    Code::UnusedArtifact,
                    format!("artifact `{}` is not used by any profile", a.name.value),
                )
                .label(a.name.span, "unused")
                .help("it is still served under artifacts/; remove it if nothing needs it"),
            );
        }
    }
}
