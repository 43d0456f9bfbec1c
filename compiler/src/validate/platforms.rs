//! A profile tied to platforms (a binary for one firmware family) can boot every platform the
//! fleet serves, or says with `only` which one it is for.

use super::{Rule, Validator};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::files::LocalFile;
use crate::fleet::{LoaderKind, Platform};

pub(super) const RULE: Rule = Rule {
    name: "platforms",
    codes: &[Code::UnbootablePlatform],
    check: |v| {
        let loaders = std::mem::take(&mut v.loaders);
        v.platforms(&loaders);
        v.loaders = loaders;
    },
};

impl<'f> Validator<'f, '_> {
    fn platforms(&mut self, loaders: &[(LoaderKind, String, LocalFile)]) {
        for p in &self.fleet.profiles {
            let Some(binaries) = p.method.as_ref().and_then(|m| m.platforms()) else {
                continue;
            };
            let has = |pl: Platform| binaries.contains(&pl);
            if let Some(only) = &p.only {
                if !has(only.value) {
                    self.push(
                        Diagnostic::new(
                            Code::UnbootablePlatform,
                            format!(
                                "profile `{}` is only for {} but has no `{}` binary",
                                p.name.value,
                                only.value.describe(),
                                only.value.keyword()
                            ),
                        )
                        .label(only.span, "restricted to this platform")
                        .label(p.name.span, "in this profile")
                        .help(format!(
                            "add `{} \"ARTIFACT\"` or change `only`",
                            only.value.keyword()
                        )),
                    );
                }
                continue;
            }
            for pl in [Platform::Bios, Platform::Efi] {
                if has(pl) {
                    continue;
                }
                let Some((kind, _, _)) = loaders.iter().find(|(k, _, _)| k.platform() == pl) else {
                    continue;
                };
                let loader_span = self
                    .fleet
                    .loaders
                    .iter()
                    .find(|l| l.kind == *kind)
                    .map(|l| l.path.span);
                let other = if pl == Platform::Efi {
                    Platform::Bios
                } else {
                    Platform::Efi
                };
                let mut d = Diagnostic::new(
                    Code::UnbootablePlatform,
                    format!(
                        "profile `{}` cannot boot {} machines, but the fleet serves them",
                        p.name.value,
                        pl.describe()
                    ),
                )
                .label(p.name.span, format!("has no `{}` binary", pl.keyword()))
                .help(format!(
                    "add `{} \"ARTIFACT\"`, or `only \"{}\"` so menus offer it on {} machines only",
                    pl.keyword(),
                    other.keyword(),
                    other.describe()
                ));
                if let Some(s) = loader_span {
                    d = d.label(s, format!("{} machines are served here", pl.describe()));
                }
                self.push(d);
            }
        }
    }
}
