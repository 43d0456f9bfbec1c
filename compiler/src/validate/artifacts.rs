//! Artifacts: local files exist and match their sha256 (or are told to pin one), URL
//! artifacts carry one; every artifact a boot method names is defined.

use std::collections::{BTreeSet, HashMap};

use super::{Rule, Validator};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::files::LocalFile;
use crate::fleet::{Location, Profile, Spanned};
use crate::suggest;

pub(super) const FILES: Rule = Rule {
    name: "artifact files",
    codes: &[
        Code::UrlWithoutSha256,
        Code::Sha256Mismatch,
        Code::ArtifactWithoutSha256,
        Code::MissingFile,
        Code::UnreadableFile,
    ],
    check: |v| {
        let mut inputs = std::mem::take(&mut v.inputs);
        v.local = v.artifacts(&mut inputs);
        v.inputs = inputs;
    },
};

pub(super) const REFERENCES: Rule = Rule {
    name: "artifact references",
    codes: &[Code::UnknownArtifact],
    check: |v| {
        let index = std::mem::take(&mut v.artifacts);
        let mut used = vec![false; v.fleet.artifacts.len()];
        for p in &v.fleet.profiles {
            v.profile_artifacts(p, &index, &mut used);
        }
        v.artifacts = index;
        v.used_artifacts = used;
    },
};

impl<'f> Validator<'f, '_> {
    fn artifacts(
        &mut self,
        inputs: &mut BTreeSet<std::path::PathBuf>,
    ) -> HashMap<usize, LocalFile> {
        let mut local = HashMap::new();
        for (i, a) in self.fleet.artifacts.iter().enumerate() {
            match &a.location {
                Location::Url(u) => {
                    if a.sha256.is_none() {
                        self.push(
                            Diagnostic::new(
                                Code::UrlWithoutSha256,
                                format!(
                                    "artifact `{}` comes from a URL but has no `sha256`",
                                    a.name.value
                                ),
                            )
                            .label(u.span, "fetched from here")
                            .help("add `sha256=\"…\"` so the download can be verified"),
                        );
                    }
                }
                Location::Path(p) => {
                    match self.files.hashed(&p.value) {
                        Ok(f) => {
                            inputs.insert(f.abs.clone());
                            match &a.sha256 {
                            Some(want) if want.value != f.sha256 => self.push(
                                Diagnostic::new(
                                    Code::Sha256Mismatch,
                                    format!("`{}` does not match its sha256", p.value),
                                )
                                .label(want.span, "expected this")
                                .help(format!("the file's sha256 is {}; update the fleet or restore the file", f.sha256)),
                            ),
                            Some(_) => {}
                            None => self.push(
                                Diagnostic::new(
                                    Code::ArtifactWithoutSha256,
                                    format!("artifact `{}` has no `sha256`", a.name.value),
                                )
                                .label(a.name.span, "not pinned")
                                .help(format!("add `sha256=\"{}\"` to catch a changed or corrupted file", f.sha256)),
                            ),
                        }
                            local.insert(i, f);
                        }
                        Err(problem) => self.missing_file(p, &problem, "artifact"),
                    }
                }
            }
        }
        local
    }

    fn artifact_ref(
        &mut self,
        r: &Spanned<String>,
        index: &HashMap<String, usize>,
        used: &mut [bool],
    ) {
        match index.get(&r.value) {
            Some(&i) => used[i] = true,
            None => {
                let help = suggest::help_for(
                    &r.value,
                    self.fleet.artifacts.iter().map(|a| a.name.value.as_str()),
                    "artifact",
                );
                self.push(
                    Diagnostic::new(
                        Code::UnknownArtifact,
                        format!("no artifact is named `{}`", r.value),
                    )
                    .label(r.span, "unknown artifact")
                    .help(help),
                );
            }
        }
    }

    fn profile_artifacts(
        &mut self,
        p: &Profile,
        index: &HashMap<String, usize>,
        used: &mut [bool],
    ) {
        let Some(method) = &p.method else { return };
        let refs = method.artifacts();
        for r in refs {
            self.artifact_ref(r, index, used);
        }
    }
}
