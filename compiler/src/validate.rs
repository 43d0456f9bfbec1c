//! The typed fleet → a checked fleet: names resolved, duplicates and cycles found, local
//! files read and hashed, templates compiled, platforms matched against the loaders.
//! Every problem becomes a diagnostic; the walk never stops at the first.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use netboot_manifest::settings::{self, ServerBlock};
use netboot_manifest::MacAddr;

use crate::diagnostic::{Diagnostic, Diagnostics, SourceFile, Span};
use crate::files::{FileCache, FileProblem, LocalFile};
use crate::fleet::*;
use crate::suggest;
use crate::template::{self, Templates, HOST_VARIABLES, VARIABLES};
use crate::ServerOverrides;

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
    /// Each host's effective target (its own, else its group's).
    pub host_targets: Vec<Option<Target>>,
    /// Compiled operator templates: `cmdline:<profile>` and `file:<path as written>`.
    pub templates: Templates,
    /// Every local file read, absolute.
    pub inputs: BTreeSet<std::path::PathBuf>,
}

pub fn template_name_cmdline(profile: &str) -> String {
    format!("cmdline:{profile}")
}

pub fn template_name_file(path: &str) -> String {
    format!("file:{path}")
}

struct Validator<'f, 'd> {
    fleet: &'f Fleet,
    src: Arc<SourceFile>,
    diags: &'d mut Diagnostics,
    files: FileCache,
    /// File templates compiled so far (path as written → compiled cleanly).
    file_templates: HashMap<String, bool>,
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
    };
    let mut inputs = BTreeSet::new();
    let server = v.server(overrides);
    let artifacts = v.index(&fleet.artifacts, |a| &a.name, "artifact");
    let profiles = v.index(&fleet.profiles, |p| &p.name, "profile");
    let menus = v.index(&fleet.menus, |m| &m.name, "menu");
    v.index(&fleet.groups, |g| &g.name, "group");
    v.index(&fleet.hosts, |h| &h.name, "host");
    v.macs();

    let loaders = v.loaders(&mut inputs);
    let local = v.artifacts(&mut inputs);
    let mut used_artifacts = vec![false; fleet.artifacts.len()];
    for p in &fleet.profiles {
        v.profile_artifacts(p, &artifacts, &mut used_artifacts);
    }

    // Targets: default, groups, hosts.
    let mut menu_used = vec![false; fleet.menus.len()];
    let mut direct = vec![false; fleet.profiles.len()];
    let mut shared: Vec<Option<Span>> = vec![None; fleet.profiles.len()];
    if let Some(t) = &fleet.default {
        match v.target(t, &profiles, &menus) {
            Some(Resolved::Profile(p)) => shared[p] = shared[p].or(Some(t.name().span)),
            Some(Resolved::Menu(m)) => menu_used[m] = true,
            None => {}
        }
    }
    for g in &fleet.groups {
        if let Some(t) = &g.target {
            v.target(t, &profiles, &menus);
        }
    }
    let mut host_targets = Vec::new();
    for h in &fleet.hosts {
        let target = h
            .target
            .clone()
            .or_else(|| h.group.and_then(|g| fleet.groups[g].target.clone()));
        let resolved = match (&h.target, &target) {
            (Some(t), _) => v.target(t, &profiles, &menus),
            // The group's target was checked (and reported) once, at the group.
            (None, Some(t)) => v.quiet_target(t, &profiles, &menus),
            (None, None) => None,
        };
        match resolved {
            Some(Resolved::Profile(p)) => {
                direct[p] = true;
                v.cmdline_append(h, Some(&fleet.profiles[p]));
            }
            Some(Resolved::Menu(m)) => {
                menu_used[m] = true;
                v.cmdline_append(h, None);
            }
            None => {}
        }
        host_targets.push(target);
    }

    // Menus: items, defaults, cycles; everything a menu lists is shared.
    let links = v.menu_items(&profiles, &menus, &mut shared, &mut menu_used);
    v.menu_cycles(&links);
    for (i, m) in fleet.menus.iter().enumerate() {
        if m.parent.is_none() && !menu_used[i] {
            v.push(
                Diagnostic::warning(
                    "fleet::unused-menu",
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

    // Unused profiles and artifacts.
    for (i, p) in fleet.profiles.iter().enumerate() {
        if shared[i].is_none() && !direct[i] {
            v.push(
                Diagnostic::warning(
                    "fleet::unused-profile",
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
        if !used_artifacts[i] {
            v.push(
                Diagnostic::warning(
                    "fleet::unused-artifact",
                    format!("artifact `{}` is not used by any profile", a.name.value),
                )
                .label(a.name.span, "unused")
                .help("it is still served under artifacts/; remove it if nothing needs it"),
            );
        }
    }

    v.platforms(&loaders);
    let mut templates = Templates::default();
    for (i, p) in fleet.profiles.iter().enumerate() {
        v.templates(
            p,
            shared[i],
            server.address.is_some(),
            &mut templates,
            &mut inputs,
        );
    }

    if fleet.hosts.is_empty() && fleet.default.is_none() {
        v.push(
            Diagnostic::error("fleet::nothing-to-boot", "the fleet boots nothing: it names no hosts and has no `default`")
                .label(Span::new(0, 0), "in this fleet")
                .help("add `host` nodes, or `default menu=\"…\"` / `default profile=\"…\"` for every machine"),
        );
    }

    Checked {
        fleet,
        server,
        artifacts,
        profiles,
        shared: shared.iter().map(Option::is_some).collect(),
        local,
        loaders,
        host_targets,
        templates,
        inputs,
    }
}

enum Resolved {
    Profile(usize),
    Menu(usize),
}

impl<'f> Validator<'f, '_> {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d.in_source(&self.src));
    }

    fn server(&mut self, o: &ServerOverrides) -> netboot_manifest::Server {
        let s = &self.fleet.server;
        let block = ServerBlock {
            interface: s.interface.as_ref().map(|i| i.value.clone()),
            address: s.address.as_ref().map(|a| a.value),
            http_port: s.http_port.as_ref().map(|p| p.value),
            tftp_port: s.tftp_port.as_ref().map(|p| p.value),
            dhcp: s.dhcp.as_ref().map(|d| d.value.clone()),
        };
        settings::settle(&block, o)
    }

    /// Name → index, reporting duplicates with both places labelled.
    fn index<T>(
        &mut self,
        items: &'f [T],
        name: impl Fn(&T) -> &Spanned<String>,
        what: &str,
    ) -> HashMap<String, usize> {
        let mut map: HashMap<String, usize> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let n = name(item);
            if let Some(&first) = map.get(&n.value) {
                let first = name(&items[first]).span;
                self.push(
                    Diagnostic::error(
                        "fleet::duplicate-name",
                        format!("{what} `{}` is defined twice", n.value),
                    )
                    .label(n.span, "defined again here")
                    .label(first, "first defined here")
                    .help(format!("{what} names must be unique: rename or remove one")),
                );
            } else {
                map.insert(n.value.clone(), i);
            }
        }
        map
    }

    fn macs(&mut self) {
        let mut seen: HashMap<MacAddr, usize> = HashMap::new();
        for (i, h) in self.fleet.hosts.iter().enumerate() {
            let Some(mac) = &h.mac else { continue };
            if let Some(&first) = seen.get(&mac.value) {
                let other = &self.fleet.hosts[first];
                let first_span = other.mac.as_ref().map_or(other.name.span, |m| m.span);
                self.push(
                    Diagnostic::error(
                        "fleet::duplicate-mac",
                        format!(
                            "MAC {} is given to both `{}` and `{}`",
                            mac.value, other.name.value, h.name.value
                        ),
                    )
                    .label(mac.span, "used again here")
                    .label(first_span, "first used here")
                    .help("a machine can have only one entry: remove one, or fix the address"),
                );
            } else {
                seen.insert(mac.value, i);
            }
        }
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
            Diagnostic::error(problem.code(), problem.describe(&written.value))
                .label(written.span, problem.label(what))
                .help(help),
        );
    }

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
                    Diagnostic::error(
                        "fleet::missing-file",
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
                    Diagnostic::error(
                        "fleet::route-collision",
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
                            Diagnostic::error(
                                "fleet::url-without-sha256",
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
                                Diagnostic::error(
                                    "fleet::sha256-mismatch",
                                    format!("`{}` does not match its sha256", p.value),
                                )
                                .label(want.span, "expected this")
                                .help(format!("the file's sha256 is {}; update the fleet or restore the file", f.sha256)),
                            ),
                            Some(_) => {}
                            None => self.push(
                                Diagnostic::warning(
                                    "fleet::artifact-without-sha256",
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
                    Diagnostic::error(
                        "fleet::unknown-artifact",
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
        let mut refs: Vec<&Spanned<String>> = Vec::new();
        match method {
            Method::Kernel {
                kernel, initrds, ..
            } => {
                refs.push(kernel);
                refs.extend(initrds);
            }
            Method::Binary { efi, bios } => refs.extend(efi.iter().chain(bios.iter())),
            Method::Wimboot { wimboot, files } => {
                refs.push(wimboot);
                refs.extend(files.iter().map(|(_, a)| a));
            }
            Method::Sanboot(a) => refs.push(a),
            Method::Chain(_) | Method::Exit => {}
        }
        for r in refs {
            self.artifact_ref(r, index, used);
        }
    }

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

    fn target(
        &mut self,
        t: &Target,
        profiles: &HashMap<String, usize>,
        menus: &HashMap<String, usize>,
    ) -> Option<Resolved> {
        let found = self.quiet_target(t, profiles, menus);
        if found.is_none() {
            let (code, what, names): (_, _, Vec<&str>) = match t {
                Target::Profile(_) => (
                    "fleet::unknown-profile",
                    "profile",
                    self.fleet
                        .profiles
                        .iter()
                        .map(|p| p.name.value.as_str())
                        .collect(),
                ),
                Target::Menu(_) => (
                    "fleet::unknown-menu",
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
                Diagnostic::error(code, format!("no {what} is named `{}`", n.value))
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
        let kernel = profile.is_some_and(|p| matches!(p.method, Some(Method::Kernel { .. })));
        if !kernel {
            self.push(
                Diagnostic::error(
                    "fleet::needs-kernel",
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
                Diagnostic::error(
                    "fleet::unsafe-text",
                    format!("`cmdline-append` cannot contain {why}"),
                )
                .label(append.span, "unsafe in an iPXE script")
                .help("iPXE has no quoting: use plain kernel arguments"),
            );
        }
    }

    /// Checks items and defaults; returns the menu → menu links (with the span that makes each).
    fn menu_items(
        &mut self,
        profiles: &HashMap<String, usize>,
        menus: &HashMap<String, usize>,
        shared: &mut [Option<Span>],
        menu_used: &mut [bool],
    ) -> Vec<Vec<(usize, Span)>> {
        let fleet = self.fleet;
        let mut links = vec![Vec::new(); fleet.menus.len()];
        for (mi, m) in fleet.menus.iter().enumerate() {
            let mut ids: Vec<&str> = Vec::new();
            for e in &m.entries {
                match e {
                    Entry::Item { target, .. } => {
                        ids.push(&target.value);
                        if let Some(&p) = profiles.get(&target.value) {
                            shared[p] = shared[p].or(Some(target.span));
                        } else if let Some(&other) = menus.get(&target.value) {
                            menu_used[other] = true;
                            links[mi].push((other, target.span));
                        } else {
                            let names = fleet
                                .profiles
                                .iter()
                                .map(|p| p.name.value.as_str())
                                .chain(fleet.menus.iter().map(|m| m.name.value.as_str()));
                            let help = suggest::help_for(&target.value, names, "profile or menu");
                            self.push(
                                Diagnostic::error(
                                    "fleet::unknown-profile",
                                    format!("no profile or menu is named `{}`", target.value),
                                )
                                .label(target.span, "unknown profile")
                                .help(help),
                            );
                        }
                    }
                    Entry::Submenu(s) => {
                        ids.push(&fleet.menus[*s].name.value);
                        menu_used[*s] = true;
                        links[mi].push((*s, fleet.menus[*s].name.span));
                    }
                    Entry::Separator(_) => {}
                }
            }
            if let Some(d) = &m.default {
                if !ids.contains(&d.value.as_str()) {
                    let help = match suggest::closest(&d.value, ids.iter().copied()) {
                        Some(c) => format!("did you mean `{c}`?"),
                        None if ids.is_empty() => "the menu has no items yet".into(),
                        None => format!(
                            "the default must be one of this menu's items: {}",
                            ids.join(", ")
                        ),
                    };
                    self.push(
                        Diagnostic::error(
                            "fleet::default-not-in-menu",
                            format!(
                                "menu `{}` defaults to `{}`, which it does not list",
                                m.name.value, d.value
                            ),
                        )
                        .label(d.span, "not an item of this menu")
                        .label(m.name.span, "in this menu")
                        .help(help),
                    );
                }
            }
        }
        links
    }

    fn menu_cycles(&mut self, links: &[Vec<(usize, Span)>]) {
        // Iterative DFS with colours; a link to a menu on the current path closes a cycle.
        #[derive(Clone, Copy, PartialEq)]
        enum Colour {
            White,
            Grey,
            Black,
        }
        let n = links.len();
        let mut colour = vec![Colour::White; n];
        for start in 0..n {
            if colour[start] != Colour::White {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            colour[start] = Colour::Grey;
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                if let Some(&(to, span)) = links[node].get(*next) {
                    *next += 1;
                    match colour[to] {
                        Colour::White => {
                            colour[to] = Colour::Grey;
                            stack.push((to, 0));
                        }
                        Colour::Grey => {
                            let from = stack.iter().position(|(m, _)| *m == to).unwrap_or(0);
                            let mut path: Vec<&str> = stack[from..]
                                .iter()
                                .map(|(m, _)| self.fleet.menus[*m].name.value.as_str())
                                .collect();
                            path.push(&self.fleet.menus[to].name.value);
                            let path = path.join(" → ");
                            self.push(
                                Diagnostic::error("fleet::menu-cycle", format!("menus link in a circle: {path}"))
                                    .label(span, "this link closes the circle")
                                    .help("submenus get a `Back` item automatically; remove the link back"),
                            );
                        }
                        Colour::Black => {}
                    }
                } else {
                    colour[node] = Colour::Black;
                    stack.pop();
                }
            }
        }
    }

    fn platforms(&mut self, loaders: &[(LoaderKind, String, LocalFile)]) {
        for p in &self.fleet.profiles {
            let Some(Method::Binary { efi, bios }) = &p.method else {
                continue;
            };
            let has = |pl: Platform| match pl {
                Platform::Efi => efi.is_some(),
                Platform::Bios => bios.is_some(),
            };
            if let Some(only) = &p.only {
                if !has(only.value) {
                    self.push(
                        Diagnostic::error(
                            "fleet::unbootable-platform",
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
                let mut d = Diagnostic::error(
                    "fleet::unbootable-platform",
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

    /// Compiles the profile's command line and file templates and checks what they read.
    fn templates(
        &mut self,
        p: &Profile,
        shared: Option<Span>,
        have_address: bool,
        templates: &mut Templates,
        inputs: &mut BTreeSet<std::path::PathBuf>,
    ) {
        if let Some(Method::Kernel {
            cmdline: Some(c), ..
        }) = &p.method
        {
            let name = template_name_cmdline(&p.name.value);
            match templates.add(&name, &c.value) {
                Ok(()) => {
                    let vars = templates.variables(&name);
                    self.template_vars(&vars, c.span, shared, have_address, "the command line");
                }
                Err(e) => self.push(
                    Diagnostic::error(
                        "fleet::template-syntax",
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
                    Diagnostic::error(
                        "fleet::file-in-shared-profile",
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
            self.template_vars(&vars, f.template.span, None, have_address, "the template");
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
            Diagnostic::error(
                "fleet::template-syntax",
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

    fn template_vars(
        &mut self,
        vars: &BTreeSet<String>,
        span: Span,
        shared: Option<Span>,
        have_address: bool,
        what: &str,
    ) {
        for v in vars {
            if !VARIABLES.contains(&v.as_str()) {
                let help = match suggest::closest(v, VARIABLES) {
                    Some(c) => format!("did you mean `{c}`? {}", template::variables_help()),
                    None => template::variables_help(),
                };
                self.push(
                    Diagnostic::error(
                        "fleet::undefined-variable",
                        format!("{what} uses `{v}`, which is not defined"),
                    )
                    .label(span, "uses an unknown variable")
                    .help(help),
                );
            } else if HOST_VARIABLES.contains(&v.as_str()) {
                if let Some(s) = shared {
                    self.push(
                        Diagnostic::error(
                            "fleet::host-variable-in-shared-profile",
                            format!("{what} uses `{v}`, but machines the fleet does not know can boot this profile"),
                        )
                        .label(span, format!("uses `{v}`"))
                        .label(s, "reachable from a menu or `default` here")
                        .help("only `server` is known for every machine; boot this profile from hosts only"),
                    );
                }
            } else if v == "server" && !have_address {
                self.push(
                    Diagnostic::error(
                        "fleet::address-needed",
                        format!("{what} uses `server`, but the fleet gives no address"),
                    )
                    .label(span, "needs the server's address")
                    .help("add `address \"…\"` to the `server` block, or pass --address"),
                );
            }
        }
    }
}
