//! Operator templates (command lines and per-machine files) compile, read only variables that
//! exist, and read per-machine ones only where every machine booting them is known.

use std::collections::BTreeSet;

use super::{template_name_cmdline, template_name_file, Rule, Validator};
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, SourceFile, Span};
use crate::fleet::{Profile, Spanned};
use crate::suggest;
use crate::template::{self, Templates, HOST_VARIABLES, VARIABLES};

pub(super) const RULE: Rule = Rule {
    name: "templates",
    codes: &[
        Code::TemplateSyntax,
        Code::UndefinedVariable,
        Code::HostVariableInSharedProfile,
        Code::FileInSharedProfile,
        Code::AddressNeeded,
        Code::DoneUrlOutsideInstall,
        Code::MissingFile,
        Code::UnreadableFile,
    ],
    check: |v| {
        let mut templates = Templates::default();
        let mut inputs = std::mem::take(&mut v.inputs);
        let have_address = v.server.address.is_some();
        let mut installs = vec![false; v.fleet.profiles.len()];
        for l in v.host_installs.iter().flatten() {
            installs[l.install] = true;
        }
        for (i, p) in v.fleet.profiles.iter().enumerate() {
            let uses = Uses {
                shared: v.shared[i],
                have_address,
                installs: installs[i],
            };
            v.templates(p, uses, &mut templates, &mut inputs);
        }
        v.templates = templates;
        v.inputs = inputs;
    },
};

/// What a profile's templates may read.
#[derive(Clone, Copy)]
struct Uses {
    /// Where unknown machines reach it, if they do.
    shared: Option<Span>,
    have_address: bool,
    /// Some host installs with it, so `install_done_url` is defined.
    installs: bool,
}

impl<'f> Validator<'f, '_> {
    /// Compiles the profile's command line and file templates and checks what they read.
    fn templates(
        &mut self,
        p: &Profile,
        uses: Uses,
        templates: &mut Templates,
        inputs: &mut BTreeSet<std::path::PathBuf>,
    ) {
        let shared = uses.shared;
        if let Some(c) = p.method.as_ref().and_then(|m| m.cmdline()) {
            let name = template_name_cmdline(&p.name.value);
            match templates.add(&name, &c.value) {
                Ok(()) => {
                    let vars = templates.variables(&name);
                    self.template_vars(&vars, c.span, uses, "the command line");
                }
                Err(e) => self.push(
                    Diagnostic::new(
                        Code::TemplateSyntax,
                        format!(
                            "the command line is not a valid template: {}",
                            e.detail().unwrap_or("syntax error")
                        ),
                    )
                    .label(c.span, "in this command line")
                    .help("templates use minijinja syntax: `{{ host }}`"),
                ),
            }
        }
        for f in &p.files {
            if let Some(s) = shared {
                self.push(
                    Diagnostic::new(
                        Code::FileInSharedProfile,
                        format!("profile `{}` renders a per-machine file but unknown machines can boot it", p.name.value),
                    )
                    .label(f.name.span, "rendered per machine")
                    .label(s, "shared here")
                    .help("per-machine files need a known machine: boot this profile from hosts only"),
                );
            }
            let name = template_name_file(&f.template.value);
            if !self.file_templates.contains_key(&f.template.value) {
                let ok = self.add_file_template(&f.template, &name, templates, inputs);
                self.file_templates.insert(f.template.value.clone(), ok);
            }
            if self.file_templates.get(&f.template.value) != Some(&true) {
                continue;
            }
            let vars = templates.variables(&name);
            let uses = Uses {
                shared: None,
                ..uses
            };
            self.template_vars(&vars, f.template.span, uses, "the template");
        }
    }

    fn add_file_template(
        &mut self,
        f: &Spanned<String>,
        name: &str,
        templates: &mut Templates,
        inputs: &mut BTreeSet<std::path::PathBuf>,
    ) -> bool {
        let (abs, text) = match self.files.read_text(&f.value) {
            Ok(t) => t,
            Err(problem) => {
                self.missing_file(f, &problem, "template");
                return false;
            }
        };
        inputs.insert(abs);
        let Err(e) = templates.add(name, &text) else {
            return true;
        };
        let span = match e.range() {
            Some(r) => Span::new(r.start, r.end.saturating_sub(r.start)),
            None => {
                let line = e.line().unwrap_or(1);
                let offset = text
                    .split_inclusive('\n')
                    .take(line.saturating_sub(1))
                    .map(str::len)
                    .sum();
                Span::new(offset, 0)
            }
        };
        let tsrc = SourceFile::new(&self.files.resolve(&f.value), text);
        self.diags.push(
            Diagnostic::new(
                Code::TemplateSyntax,
                format!(
                    "template `{}` is not valid: {}",
                    f.value,
                    e.detail().unwrap_or("syntax error")
                ),
            )
            .label(span, "here")
            .help("templates use minijinja syntax: `{{ host }}`")
            .in_source(&tsrc),
        );
        false
    }

    fn template_vars(&mut self, vars: &BTreeSet<String>, span: Span, uses: Uses, what: &str) {
        let Uses {
            shared,
            have_address,
            installs,
        } = uses;
        for v in vars {
            if !VARIABLES.contains(&v.as_str()) {
                let help = match suggest::closest(v, VARIABLES) {
                    Some(c) => format!("did you mean `{c}`? {}", template::variables_help()),
                    None => template::variables_help(),
                };
                self.push(
                    Diagnostic::new(
                        Code::UndefinedVariable,
                        format!("{what} uses `{v}`, which is not defined"),
                    )
                    .label(span, "uses an unknown variable")
                    .help(help),
                );
            } else if HOST_VARIABLES.contains(&v.as_str()) {
                if let Some(s) = shared {
                    self.push(
                        Diagnostic::new(
                            Code::HostVariableInSharedProfile,
                            format!("{what} uses `{v}`, but machines the fleet does not know can boot this profile"),
                        )
                        .label(span, format!("uses `{v}`"))
                        .label(s, "reachable from a menu or `default` here")
                        .help("only `server` is known for every machine; boot this profile from hosts only"),
                    );
                }
            }
            if v == "install_done_url" && !installs && shared.is_none() {
                self.push(
                    Diagnostic::new(
                        Code::DoneUrlOutsideInstall,
                        format!("{what} uses `install_done_url`, but no host installs with this profile"),
                    )
                    .label(span, "only defined for an install")
                    .help("a host gets a done URL from `install \"PROFILE\" then=\"…\"`; name this profile there"),
                );
            }
            if (v == "server" || v == "install_done_url") && !have_address {
                self.push(
                    Diagnostic::new(
                        Code::AddressNeeded,
                        format!("{what} uses `{v}`, but the fleet gives no address"),
                    )
                    .label(span, "needs the server's address")
                    .help("add `address \"…\"` to the `server` block, or pass --address"),
                );
            }
        }
    }
}
