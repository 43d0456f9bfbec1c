//! Loaders exist, are readable, and are served under names that do not collide.

use std::collections::BTreeSet;
use std::path::Path;

use super::{Rule, Validator};
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Span};
use crate::files::LocalFile;
use crate::fleet::LoaderKind;

pub(super) const RULE: Rule = Rule {
    name: "loaders",
    codes: &[
        Code::MissingFile,
        Code::UnreadableFile,
        Code::RouteCollision,
    ],
    check: |v| {
        let mut inputs = std::mem::take(&mut v.inputs);
        v.loaders = v.loaders(&mut inputs);
        v.inputs = inputs;
    },
};

impl<'f> Validator<'f, '_> {
    fn loaders(
        &mut self,
        inputs: &mut BTreeSet<std::path::PathBuf>,
    ) -> Vec<(LoaderKind, String, LocalFile)> {
        let mut out: Vec<(LoaderKind, String, LocalFile)> = Vec::new();
        let mut routes: Vec<(String, Span)> = Vec::new();
        for l in &self.fleet.loaders {
            let base = Path::new(&l.path.value)
                .file_name()
                .map(|b| b.to_string_lossy().into_owned())
                .filter(|b| !b.is_empty());
            let Some(base) = base else {
                self.push(
                    Diagnostic::new(
                        Code::MissingFile,
                        format!("`{}` does not name a file", l.path.value),
                    )
                    .label(l.path.span, "no file name")
                    .help("give the loader's file, like `/usr/lib/ipxe/ipxe.efi`"),
                );
                continue;
            };
            let route = match l.kind {
                LoaderKind::EfiArm64 => format!("arm64/{base}"),
                _ => base,
            };
            if let Some((_, first)) = routes.iter().find(|(r, _)| *r == route) {
                let first = *first;
                self.push(
                    Diagnostic::new(
                        Code::RouteCollision,
                        format!("two loaders would both be served as `{route}`"),
                    )
                    .label(l.path.span, "served as the same name")
                    .label(first, "as this one")
                    .help("loaders are served under their file name: rename one of the files"),
                );
                continue;
            }
            routes.push((route.clone(), l.path.span));
            match self.files.hashed(&l.path.value) {
                Ok(f) => {
                    inputs.insert(f.abs.clone());
                    out.push((l.kind, route, f));
                }
                Err(p) => self.missing_file(&l.path, &p, "loader"),
            }
        }
        out
    }
}
