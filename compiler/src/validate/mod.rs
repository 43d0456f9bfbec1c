//! The typed fleet → a checked fleet: names resolved, duplicates and cycles found, local
//! files read and hashed, templates compiled, platforms matched against the loaders.
//! Every problem becomes a diagnostic; the walk never stops at the first.
//!
//! Each check is a [`Rule`] in a module of its concern, naming the codes it reports, and
//! [`RULES`] runs them in order: a rule reads what earlier ones found (the name indexes,
//! which profiles are shared) from the [`Validator`] they all share.

mod artifact_contents;
mod artifacts;
mod lifecycle;
mod loaders;
mod menus;
mod names;
mod nothing_to_boot;
mod platforms;
mod secure_boot;
mod targets;
mod templates;
mod unused;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use netboot_manifest::settings::{self, ServerBlock};

use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics, SourceFile, Span};
use crate::files::{FileCache, FileProblem, LocalFile};
use crate::fleet::*;
use crate::template::Templates;
use crate::ServerOverrides;
pub use lifecycle::HostInstall;
pub use secure_boot::SecureBootChain;

/// A fleet whose references all resolve (when no error was reported).
pub struct Checked<'f> {
    pub fleet: &'f Fleet,
    pub server: netboot_manifest::Server,
    pub artifacts: HashMap<String, usize>,
    pub profiles: HashMap<String, usize>,
    /// Per profile: reachable by unknown machines or listed in a menu, so rendered once for
    /// everyone at `profiles/<name>.ipxe`.
    pub shared: Vec<bool>,
    /// Local artifacts by index into `fleet.artifacts`.
    pub local: HashMap<usize, LocalFile>,
    /// Loaders with the route they are served at.
    pub loaders: Vec<(LoaderKind, String, LocalFile)>,
    /// Each host's effective target (its own, else its group's; a lifecycle's `then`).
    pub host_targets: Vec<Option<Target>>,
    /// Each host's install lifecycle, if it has one.
    pub host_installs: Vec<Option<HostInstall>>,
    /// Compiled operator templates: `cmdline:<profile>` and `file:<path as written>`.
    pub templates: Templates,
    /// Every local file read, absolute.
    pub inputs: BTreeSet<std::path::PathBuf>,
    /// The Secure Boot chain, when the fleet has one (and its loaders are usable).
    pub secure_boot: Option<SecureBootChain>,
}

pub fn template_name_cmdline(profile: &str) -> String {
    format!("cmdline:{profile}")
}

pub fn template_name_file(path: &str) -> String {
    format!("file:{path}")
}

/// One check of the fleet and the codes it may report.
pub(super) struct Rule {
    /// What it checks, for the message when it reports a code it does not name.
    name: &'static str,
    codes: &'static [Code],
    check: fn(&mut Validator<'_, '_>),
}

/// Every check, in the order they run (later ones use what earlier ones resolved).
const RULES: &[&Rule] = &[
    &names::DUPLICATE_NAMES,
    &names::DUPLICATE_MACS,
    &loaders::RULE,
    &artifacts::FILES,
    &artifacts::REFERENCES,
    &lifecycle::RULE,
    &targets::RULE,
    &menus::ITEMS,
    &menus::CYCLES,
    &unused::RULE,
    &platforms::RULE,
    &artifact_contents::RULE,
    &templates::RULE,
    &secure_boot::RULE,
    &nothing_to_boot::RULE,
];

/// The walk's state: the fleet, where problems go, and what the rules found so far.
pub(super) struct Validator<'f, 'd> {
    fleet: &'f Fleet,
    src: Arc<SourceFile>,
    diags: &'d mut Diagnostics,
    files: FileCache,
    /// File templates compiled so far (path as written → compiled cleanly).
    file_templates: HashMap<String, bool>,
    /// The rule running, whose codes are the only ones it may report.
    rule: &'static Rule,
    server: netboot_manifest::Server,
    /// Name → index, per kind.
    artifacts: HashMap<String, usize>,
    profiles: HashMap<String, usize>,
    menus: HashMap<String, usize>,
    loaders: Vec<(LoaderKind, String, LocalFile)>,
    local: HashMap<usize, LocalFile>,
    /// Per artifact: named by a profile.
    used_artifacts: Vec<bool>,
    /// Per menu: shown by `default`, a host, a group or another menu.
    menu_used: Vec<bool>,
    /// Per profile: booted by a host (or its group) directly.
    direct: Vec<bool>,
    /// Per profile: where unknown machines or a menu reach it, if they do.
    shared: Vec<Option<Span>>,
    /// Per menu: the menus it links to, with the span that makes each link.
    links: Vec<Vec<(usize, Span)>>,
    host_targets: Vec<Option<Target>>,
    host_installs: Vec<Option<HostInstall>>,
    templates: Templates,
    inputs: BTreeSet<std::path::PathBuf>,
    secure_boot: Option<SecureBootChain>,
}

pub fn validate<'f>(
    fleet: &'f Fleet,
    src: &Arc<SourceFile>,
    fleet_dir: &Path,
    overrides: &ServerOverrides,
    diags: &mut Diagnostics,
) -> Checked<'f> {
    let mut v = Validator {
        fleet,
        src: src.clone(),
        diags,
        files: FileCache::new(fleet_dir.to_path_buf()),
        file_templates: HashMap::new(),
        rule: RULES[0],
        server: settings(&fleet.server, overrides),
        artifacts: HashMap::new(),
        profiles: HashMap::new(),
        menus: HashMap::new(),
        loaders: Vec::new(),
        local: HashMap::new(),
        used_artifacts: vec![false; fleet.artifacts.len()],
        menu_used: vec![false; fleet.menus.len()],
        direct: vec![false; fleet.profiles.len()],
        shared: vec![None; fleet.profiles.len()],
        links: vec![Vec::new(); fleet.menus.len()],
        host_targets: Vec::new(),
        host_installs: Vec::new(),
        templates: Templates::default(),
        inputs: BTreeSet::new(),
        secure_boot: None,
    };
    for rule in RULES {
        v.rule = rule;
        (rule.check)(&mut v);
    }
    Checked {
        fleet,
        server: v.server,
        artifacts: v.artifacts,
        profiles: v.profiles,
        shared: v.shared.iter().map(Option::is_some).collect(),
        local: v.local,
        loaders: v.loaders,
        host_targets: v.host_targets,
        host_installs: v.host_installs,
        templates: v.templates,
        inputs: v.inputs,
        secure_boot: v.secure_boot,
    }
}

/// The fleet's `server` block with the command line's overrides applied.
fn settings(s: &Server, o: &ServerOverrides) -> netboot_manifest::Server {
    let block = ServerBlock {
        interface: s.interface.as_ref().map(|i| i.value.clone()),
        address: s.address.as_ref().map(|a| a.value),
        http_port: s.http_port.as_ref().map(|p| p.value),
        tftp_port: s.tftp_port.as_ref().map(|p| p.value),
        dhcp: s.dhcp.as_ref().map(|d| d.value.clone()),
    };
    settings::settle(&block, o)
}

enum Resolved {
    Profile(usize),
    Menu(usize),
}

impl<'f> Validator<'f, '_> {
    fn push(&mut self, d: Diagnostic) {
        let d = d.in_source(&self.src);
        self.report(d);
    }

    /// Records a diagnostic as it is (with its own source); only the running rule's codes.
    fn report(&mut self, d: Diagnostic) {
        debug_assert!(
            self.rule.codes.iter().any(|c| c.name() == d.code),
            "the {} rule reports {}, which it does not name",
            self.rule.name,
            d.code
        );
        self.diags.push(d);
    }

    fn missing_file(&mut self, written: &Spanned<String>, problem: &FileProblem, what: &str) {
        let resolved = self.files.resolve(&written.value);
        let help = match problem {
            FileProblem::Unreadable(_) => format!(
                "{} is there but cannot be read: check its permissions (and its directory's) for the user netboot runs as",
                resolved.display()
            ),
            FileProblem::NotText { .. } => format!(
                "templates are UTF-8 text; convert {} (e.g. `iconv -f latin1 -t utf-8`)",
                resolved.display()
            ),
            FileProblem::Missing | FileProblem::NotAFile => format!(
                "relative paths start at the fleet's directory; this one is {}",
                resolved.display()
            ),
        };
        self.push(
            Diagnostic::new(problem.code(), problem.describe(&written.value))
                .label(written.span, problem.label(what))
                .help(help),
        );
    }
}
