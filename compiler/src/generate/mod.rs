//! Checked fleet → generated scripts and files + the manifest that lists every route.
//! Rendering operator templates can still fail (a command line too long, a filter error), so
//! this reports diagnostics too.

use std::collections::BTreeMap;
use std::sync::Arc;

use netboot_manifest::{
    install_done_path, sha256_hex, BootAnswer, ClientKind, FileEntry, Host, InstallLifecycle,
    Manifest, Protocol, Source, FORMAT_VERSION,
};

use crate::boot::Render;
use crate::codes::Code;
use crate::decode::unsafe_text;
use crate::diagnostic::{Diagnostic, Diagnostics, SourceFile};
use crate::fleet::*;
use crate::render::{self, Body, MenuLine, MenuScript, MenuTarget, Only};
use crate::template::{self, Vars};
use crate::validate::{template_name_cmdline, template_name_file, Checked};

mod grub;

pub struct Output {
    pub manifest: Manifest,
    pub generated: BTreeMap<String, Vec<u8>>,
}

struct Generator<'c, 'f> {
    c: &'c Checked<'f>,
    src: Arc<SourceFile>,
    fleet_file: String,
    files: BTreeMap<String, FileEntry>,
    generated: BTreeMap<String, Vec<u8>>,
    /// Profiles whose per-machine rendering already produced a diagnostic (one each suffices).
    reported: Vec<bool>,
    diags: Vec<Diagnostic>,
}

pub fn generate(
    c: &Checked<'_>,
    src: &Arc<SourceFile>,
    fleet_file: &str,
    diags: &mut Diagnostics,
) -> Option<Output> {
    let mut g = Generator {
        c,
        src: src.clone(),
        fleet_file: fleet_file.to_string(),
        files: BTreeMap::new(),
        generated: BTreeMap::new(),
        reported: vec![false; c.fleet.profiles.len()],
        diags: Vec::new(),
    };
    let fleet = c.fleet;
    let mut dhcp = BTreeMap::new();

    for (kind, route, file) in &c.loaders {
        g.artifact_route(route, file, true);
        let (tftp_kind, http_kind) = match kind {
            LoaderKind::Bios => (ClientKind::Bios, None),
            LoaderKind::EfiX64 => (ClientKind::EfiX64, Some(ClientKind::HttpX64)),
            LoaderKind::EfiArm64 => (ClientKind::EfiArm64, Some(ClientKind::HttpArm64)),
        };
        dhcp.insert(
            tftp_kind,
            BootAnswer {
                protocol: Protocol::Tftp,
                path: route.clone(),
            },
        );
        if let Some(k) = http_kind {
            dhcp.insert(
                k,
                BootAnswer {
                    protocol: Protocol::Http,
                    path: route.clone(),
                },
            );
        }
    }
    dhcp.insert(
        ClientKind::Ipxe,
        BootAnswer {
            protocol: Protocol::Http,
            path: "boot.ipxe".into(),
        },
    );

    for (i, a) in fleet.artifacts.iter().enumerate() {
        if let Some(file) = c.local.get(&i) {
            // Only GRUB, on Secure Boot machines, fetches artifacts over TFTP.
            let tftp = c
                .secure_boot
                .as_ref()
                .is_some_and(|sb| sb.tftp_artifacts.contains(&i));
            g.artifact_route(&format!("artifacts/{}", a.name.value), file, tftp);
        }
    }

    let server = c
        .server
        .address
        .map(|a| format!("{a}:{}", c.server.http_port));
    for (i, p) in fleet.profiles.iter().enumerate() {
        if !c.shared[i] {
            continue;
        }
        let vars = Vars {
            server: server.clone(),
            ..Vars::default()
        };
        if let Some(body) = g.body(i, &vars, None) {
            let script = render::render(&render::ProfileScript {
                fleet_file: &g.fleet_file,
                name: &p.name.value,
                body,
            });
            g.script(&format!("profiles/{}.ipxe", p.name.value), script, true);
        }
    }

    for m in &fleet.menus {
        let script = g.menu(m);
        g.script(&format!("menus/{}.ipxe", m.name.value), script, true);
    }

    let shared = Vars {
        server: server.clone(),
        ..Vars::default()
    };
    let secure_boot = c
        .secure_boot
        .as_ref()
        .map(|sb| g.secure_boot_chain(sb, &shared));
    let mut hosts = BTreeMap::new();
    for (i, ((h, target), lifecycle)) in fleet
        .hosts
        .iter()
        .zip(&c.host_targets)
        .zip(&c.host_installs)
        .enumerate()
    {
        let (Some(mac), Some(target)) = (&h.mac, target) else {
            continue;
        };
        let group = h.group.map(|gi| fleet.groups[gi].name.value.as_str());
        let secure = c.secure_boot.as_ref().is_some_and(|sb| sb.hosts[i]);
        let route = format!("hosts/{}.ipxe", mac.value.hexhyp());
        let install_done_url = lifecycle.as_ref().and_then(|l| {
            let path = install_done_path(&h.name.value, mac.value, l.generation);
            server.as_ref().map(|s| format!("http://{s}/{path}"))
        });
        let vars = Vars {
            server: server.clone(),
            host: Some(h.name.value.clone()),
            mac: Some(mac.value.to_string()),
            group: Some(group.unwrap_or("").to_string()),
            labels: Some(h.labels.clone()),
            install_done_url,
        };
        // A Secure Boot machine's GRUB config boots its everyday target: GRUB asks no server
        // which of an install lifecycle's two profiles is due, so it never gets the installer.
        if secure {
            g.grub_host(h, target, &vars, &shared, group);
        }
        // The install script sits beside the everyday one; the runtime picks between them.
        let install = match lifecycle {
            None => None,
            Some(l) => {
                let p = &fleet.profiles[l.install];
                let Some(body) = g.body(l.install, &vars, Some(h)) else {
                    continue;
                };
                g.host_files(l.install, h, &vars);
                let script = render::render(&render::HostScript {
                    fleet_file: &g.fleet_file,
                    name: &h.name.value,
                    mac: mac.value.to_string(),
                    group,
                    boots: format!(
                        "install profile {} (generation {}), then profile {}",
                        p.name.value, l.generation, fleet.profiles[l.then].name.value
                    ),
                    body,
                });
                let install_route = format!("hosts/{}.install.ipxe", mac.value.hexhyp());
                g.script(&install_route, script, true);
                Some(InstallLifecycle {
                    profile: p.name.value.clone(),
                    then: fleet.profiles[l.then].name.value.clone(),
                    generation: l.generation,
                    script: install_route,
                })
            }
        };
        let (boots, body) = match target {
            Target::Menu(m) => (
                format!("menu:{}", m.value),
                format!("chain --replace ../menus/{}.ipxe\n", m.value),
            ),
            Target::Profile(p) => {
                let Some(&pi) = c.profiles.get(&p.value) else {
                    continue;
                };
                let Some(body) = g.body(pi, &vars, Some(h)) else {
                    continue;
                };
                g.host_files(pi, h, &vars);
                (format!("profile:{}", p.value), body)
            }
        };
        let script = render::render(&render::HostScript {
            fleet_file: &g.fleet_file,
            name: &h.name.value,
            mac: mac.value.to_string(),
            group,
            boots: boots.replace(':', " "),
            body,
        });
        g.script(&route, script, true);
        hosts.insert(
            mac.value,
            Host {
                name: h.name.value.clone(),
                group: group.map(str::to_string),
                boots,
                script: route,
                install,
                secure_boot: secure,
            },
        );
    }

    let (fallback_comment, fallback_chain) = match &fleet.default {
        None => (
            "Everyone else: no `default` in the fleet, so boot from the next device.".to_string(),
            None,
        ),
        Some(Target::Menu(m)) => (
            format!("Everyone else: menu {}.", m.value),
            Some(format!("menus/{}.ipxe", m.value)),
        ),
        Some(Target::Profile(p)) => (
            format!("Everyone else: profile {}.", p.value),
            Some(format!("profiles/{}.ipxe", p.value)),
        ),
    };
    let entry = render::render(&render::EntryScript {
        fleet_file: &g.fleet_file,
        has_hosts: !hosts.is_empty(),
        fallback_comment,
        fallback_chain,
    });
    g.script("boot.ipxe", entry, true);

    let failed = !g.diags.is_empty();
    for d in g.diags.drain(..) {
        diags.push(d);
    }
    if failed {
        return None;
    }
    Some(Output {
        manifest: Manifest {
            format: FORMAT_VERSION,
            compiler: format!("netboot {}", env!("CARGO_PKG_VERSION")),
            fleet_sha256: sha256_hex(src.text.as_bytes()),
            server: c.server.clone(),
            dhcp,
            secure_boot,
            hosts,
            artifact_root: ".".into(),
            files: g.files,
        },
        generated: g.generated,
    })
}

impl Generator<'_, '_> {
    fn error(&mut self, profile: usize, d: Diagnostic) {
        if !self.reported[profile] {
            self.reported[profile] = true;
            self.diags.push(d.in_source(&self.src));
        }
    }

    fn artifact_route(&mut self, route: &str, file: &crate::files::LocalFile, tftp: bool) {
        self.files.insert(
            route.to_string(),
            FileEntry {
                size: file.size,
                sha256: file.sha256.clone(),
                source: Source::Artifact {
                    path: file.manifest_path.clone(),
                },
                tftp,
                http: true,
            },
        );
    }

    fn generated_route(&mut self, route: &str, bytes: Vec<u8>, tftp: bool) {
        self.files.insert(
            route.to_string(),
            FileEntry {
                size: bytes.len() as u64,
                sha256: sha256_hex(&bytes),
                source: Source::Generated {
                    file: route.to_string(),
                },
                tftp,
                http: true,
            },
        );
        self.generated.insert(route.to_string(), bytes);
    }

    fn script(&mut self, route: &str, text: String, tftp: bool) {
        self.generated_route(route, text.into_bytes(), tftp);
    }

    /// What a script fetches for an artifact: its route relative to a script one directory
    /// down, its content address on the fleet's `artifact-origin`, or its own URL.
    fn fetch(&self, name: &str) -> String {
        let i = self.c.artifacts.get(name).copied();
        match i.map(|i| &self.c.fleet.artifacts[i].location) {
            Some(Location::Url(u)) => u.value.clone(),
            _ => match self.origin_url(name) {
                Some(url) => url,
                None => format!("../artifacts/{name}"),
            },
        }
    }

    /// `<origin>/sha256/<hex>` for a local artifact when the fleet names an origin: the
    /// address `netboot build --bundle` gives its bytes.
    fn origin_url(&self, name: &str) -> Option<String> {
        let origin = self.c.fleet.artifact_origin.as_ref()?;
        let file = self.c.local.get(self.c.artifacts.get(name)?)?;
        Some(format!("{}/sha256/{}", origin.value, file.sha256))
    }

    /// Whether the script fetches the artifact by an absolute URL (its own, or the origin's),
    /// whose last segment is no artifact name: an initrd then needs `--name`.
    fn is_url(&self, name: &str) -> bool {
        self.c
            .artifacts
            .get(name)
            .is_some_and(|&i| matches!(self.c.fleet.artifacts[i].location, Location::Url(_)))
            || self.origin_url(name).is_some()
    }

    /// The boot steps of profile `pi` for one machine (or for everyone when `host` is None).
    fn body(&mut self, pi: usize, vars: &Vars, host: Option<&HostDecl>) -> Option<String> {
        let c = self.c;
        let p = &c.fleet.profiles[pi];
        let method = p.method.as_ref()?;
        let steps = method.render(&mut RenderCx {
            g: self,
            profile: pi,
            vars,
            host,
        })?;
        Some(render::render(&Body {
            name: p.name.value.clone(),
            only: p.only.as_ref().map(|o| Only {
                ipxe: o.value.ipxe_name(),
                describe: o.value.describe(),
            }),
            steps,
        }))
    }

    fn host_files(&mut self, pi: usize, h: &HostDecl, vars: &Vars) {
        let p = &self.c.fleet.profiles[pi];
        for f in &p.files {
            let name = template_name_file(&f.template.value);
            match self.c.templates.render(&name, vars) {
                Ok(text) => self.generated_route(
                    &format!("m/{}/{}", h.name.value, f.name.value),
                    text.into_bytes(),
                    false,
                ),
                Err(e) => self.error(
                    pi,
                    Diagnostic::new(
                        Code::TemplateRender,
                        format!(
                            "template `{}` cannot be rendered for host `{}`: {e}",
                            f.template.value, h.name.value
                        ),
                    )
                    .label(f.template.span, "this template")
                    .help(template::variables_help()),
                ),
            }
        }
    }

    fn menu(&self, m: &Menu) -> String {
        let fleet = self.c.fleet;
        let mut lines = Vec::new();
        let mut targets: Vec<MenuTarget> = Vec::new();
        let mut add_target = |id: &str, fetch: String| {
            if !targets.iter().any(|t| t.id == id) {
                targets.push(MenuTarget {
                    id: id.to_string(),
                    fetch,
                });
            }
        };
        for e in &m.entries {
            match e {
                Entry::Item { target, label } => {
                    if let Some(&pi) = self.c.profiles.get(&target.value) {
                        let id = format!("p-{}", target.value);
                        add_target(&id, format!("../profiles/{}.ipxe", target.value));
                        lines.push(MenuLine {
                            id,
                            label: label.value.clone(),
                            gap: false,
                            only: fleet.profiles[pi]
                                .only
                                .as_ref()
                                .map(|o| o.value.ipxe_name()),
                        });
                    } else {
                        let id = format!("m-{}", target.value);
                        add_target(&id, format!("../menus/{}.ipxe", target.value));
                        lines.push(MenuLine {
                            id,
                            label: label.value.clone(),
                            gap: false,
                            only: None,
                        });
                    }
                }
                Entry::Submenu(s) => {
                    let sub = &fleet.menus[*s];
                    let id = format!("m-{}", sub.name.value);
                    add_target(&id, format!("../menus/{}.ipxe", sub.name.value));
                    let label = sub
                        .label
                        .as_ref()
                        .map_or(sub.name.value.clone(), |l| l.value.clone());
                    lines.push(MenuLine {
                        id,
                        label: format!("{label} >"),
                        gap: false,
                        only: None,
                    });
                }
                Entry::Separator(text) => lines.push(MenuLine {
                    id: String::new(),
                    label: text.as_ref().map_or(String::new(), |t| t.value.clone()),
                    gap: true,
                    only: None,
                }),
            }
        }
        let default = m.default.as_ref().map(|d| {
            if self.c.profiles.contains_key(&d.value) {
                format!("p-{}", d.value)
            } else {
                format!("m-{}", d.value)
            }
        });
        let parent = m.parent.map(|p| fleet.menus[p].name.value.as_str());
        let title = m
            .title
            .as_ref()
            .or(m.label.as_ref())
            .map_or(m.name.value.as_str(), |t| t.value.as_str());
        render::render(&MenuScript {
            fleet_file: &self.fleet_file,
            name: &m.name.value,
            parent,
            title,
            lines,
            timeout_ms: m
                .timeout
                .as_ref()
                .map(|t| u64::from(t.value) * 1000)
                .filter(|&t| t > 0),
            default,
            targets,
            back: parent.map(|p| format!("../menus/{p}.ipxe")),
        })
    }
}

/// What a boot method renders with: where its artifacts are fetched from, the machine it
/// renders for, and where its problems go (once per profile).
pub struct RenderCx<'a, 'c, 'f> {
    g: &'a mut Generator<'c, 'f>,
    profile: usize,
    vars: &'a Vars,
    host: Option<&'a HostDecl>,
}

impl Render for RenderCx<'_, '_, '_> {
    /// What a script fetches for an artifact (see `Generator::fetch`).
    fn fetch(&self, name: &str) -> String {
        self.g.fetch(name)
    }

    /// Where GRUB fetches an artifact: over TFTP from the server it booted from (Debian 12's
    /// signed GRUB has no HTTP), at the artifact's route.
    fn grub_fetch(&self, name: &str) -> String {
        format!("(tftp)/artifacts/{name}")
    }

    /// Whether the script fetches the artifact by an absolute URL (its own or the fleet's
    /// `artifact-origin`), so its file name is not the artifact's.
    fn is_url(&self, name: &str) -> bool {
        self.g.is_url(name)
    }

    fn host_name(&self) -> Option<&str> {
        self.host.map(|h| h.name.value.as_str())
    }

    fn cmdline_append(&self) -> Option<&Spanned<String>> {
        self.host.and_then(|h| h.cmdline_append.as_ref())
    }

    fn error(&mut self, d: Diagnostic) {
        self.g.error(self.profile, d);
    }

    /// The profile's command-line template `c`, rendered for this machine and checked for
    /// text iPXE would misread; `None` once a problem is reported.
    fn cmdline(&mut self, c: &Spanned<String>) -> Option<String> {
        let name = template_name_cmdline(&self.g.c.fleet.profiles[self.profile].name.value);
        let rendered = match self.g.c.templates.render(&name, self.vars) {
            Ok(r) => r,
            Err(e) => {
                let who = self
                    .host
                    .map_or(String::new(), |h| format!(" for host `{}`", h.name.value));
                self.error(
                    Diagnostic::new(
                        Code::TemplateRender,
                        format!("the command line cannot be rendered{who}: {e}"),
                    )
                    .label(c.span, "in this command line")
                    .help(template::variables_help()),
                );
                return None;
            }
        };
        if let Some(why) = unsafe_text(&rendered) {
            self.error(
                Diagnostic::new(
                    Code::UnsafeText,
                    format!("the rendered command line contains {why}"),
                )
                .label(c.span, "renders to unsafe text")
                .help("iPXE has no quoting: keep the command line to plain kernel arguments"),
            );
            return None;
        }
        Some(rendered)
    }
}
