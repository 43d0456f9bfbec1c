//! `netboot diff OLD NEW`: what a fleet change does to the machines, for code review.
//!
//! Each side is a fleet, a frozen `manifest.json`, or `git:REV:path/to/fleet.kdl`. Both are
//! compiled (or read) and compared by what they serve: the server block, the DHCP table, each
//! machine's whole boot chain (every file its scripts reach on BIOS and on UEFI, by sha256) and
//! the file list. A comment-only edit therefore shows no difference. A machine moving between
//! the iPXE chain and the Secure Boot chain (shim, GRUB) shows as a change of its `chain`.
//! The binary exits as diff(1) does: 0 no differences, 1 differences, 2 a side that cannot
//! be opened or does not compile.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use netboot_compiler::ipxe_follow::{self, Step};
use netboot_compiler::ServerOverrides;
use netboot_manifest::{sha256_hex, FileEntry, MacAddr, Manifest};

use crate::loaded::Loaded;
use crate::report_format::Format;

/// The two sides to compare: each a fleet.kdl, a manifest.json, or git:REV:path/to/fleet.kdl.
#[derive(Debug, Clone)]
pub struct DiffOptions {
    pub old: String,
    pub new: String,
    pub format: Format,
}

/// The comparison, rendered.
#[derive(Debug, Clone)]
pub struct Diffed {
    pub text: String,
    /// Some machine, setting or file differs.
    pub changed: bool,
}

/// Why a side could not be opened (unreadable, not compiling, not in git).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DiffError(String);

/// One changed value: `before` or `after` is `None` when it was added or removed.
#[derive(Debug, serde::Serialize)]
struct Change {
    what: String,
    before: Option<String>,
    after: Option<String>,
}

#[derive(Debug, serde::Serialize)]
struct MachineChange {
    /// A MAC, or `default` for machines the fleet does not list.
    mac: String,
    name: Option<String>,
    changes: Vec<Change>,
}

#[derive(Debug, Default, serde::Serialize)]
struct Report {
    old: String,
    new: String,
    server: Vec<Change>,
    dhcp: Vec<Change>,
    machines: Vec<MachineChange>,
    /// Lifecycle machines whose generation goes up: they install again on their next boot.
    reinstalls: Vec<Reinstall>,
    files: Vec<Change>,
    notes: Vec<String>,
}

#[derive(Debug, serde::Serialize)]
struct Reinstall {
    host: String,
    mac: String,
    from: u32,
    to: u32,
}

impl Report {
    fn is_empty(&self) -> bool {
        self.server.is_empty()
            && self.dhcp.is_empty()
            && self.machines.is_empty()
            && self.reinstalls.is_empty()
            && self.files.is_empty()
    }
}

/// Opens both sides and compares what they serve.
pub fn diff(options: &DiffOptions) -> Result<Diffed, DiffError> {
    let mut notes = Vec::new();
    let old = open_side(&options.old, &mut notes)?;
    let new = open_side(&options.new, &mut notes)?;
    let mut report = compare(&old, &new);
    report.old = options.old.clone();
    report.new = options.new.clone();
    report.notes = notes;
    let text = match options.format {
        Format::Human => render(&report),
        Format::Json => {
            serde_json::to_string_pretty(&report).expect("reports always serialise") + "\n"
        }
    };
    Ok(Diffed {
        text,
        changed: !report.is_empty(),
    })
}

fn open_side(spec: &str, notes: &mut Vec<String>) -> Result<Loaded, DiffError> {
    let loaded = match spec.strip_prefix("git:") {
        Some(rest) => {
            let Some((rev, path)) = rest.split_once(':') else {
                return Err(DiffError(format!(
                    "`{spec}`: expected git:REV:path/to/fleet.kdl"
                )));
            };
            let fleet = GitFleet::show(rev, path).map_err(DiffError)?;
            notes.push(format!(
                "{spec} is compiled against the working tree's artifacts, loaders and templates"
            ));
            Loaded::compile_text(
                &fleet.name,
                fleet.text,
                &fleet.base_dir,
                &ServerOverrides::default(),
            )
        }
        None => Loaded::load(Path::new(spec), &ServerOverrides::default()),
    };
    loaded.map_err(|e| DiffError(format!("{spec}: {e}")))
}

/// A fleet as it was at a git revision, compiled in memory against the working tree's
/// directory of the fleet (so its relative paths resolve); nothing is written.
struct GitFleet {
    /// What diagnostics call it: the name a copy beside the working tree's fleet had when
    /// one was written there, so reports stay as they were.
    name: PathBuf,
    base_dir: PathBuf,
    text: String,
}

impl GitFleet {
    fn show(rev: &str, path: &str) -> Result<GitFleet, String> {
        // `REV:./path` is relative to the current directory, as the user typed it.
        let object = if path.starts_with('/') {
            return Err(format!(
                "git:{rev}:{path}: give the path relative to the current directory"
            ));
        } else {
            format!("{rev}:./{}", path.trim_start_matches("./"))
        };
        let out = std::process::Command::new("git")
            .args(["show", &object])
            .output()
            .map_err(|e| format!("cannot run git: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "git show {object}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let beside = Path::new(path);
        let dir = match beside.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(format!(
                "{} does not exist in the working tree, so the fleet's relative paths cannot resolve",
                dir.display()
            ));
        }
        let safe: String = rev
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let file = beside
            .file_name()
            .map_or("fleet.kdl".into(), |n| n.to_string_lossy().into_owned());
        let name = dir.join(format!(".{file}@{safe}.kdl"));
        let text = String::from_utf8(out.stdout)
            .map_err(|e| format!("cannot read {}: {e}", name.display()))?;
        Ok(GitFleet {
            name,
            base_dir: dir,
            text,
        })
    }
}

fn compare(old: &Loaded, new: &Loaded) -> Report {
    let (a, b) = (&old.manifest, &new.manifest);
    let mut r = Report::default();

    let server = |m: &Manifest| -> BTreeMap<&'static str, String> {
        let s = &m.server;
        BTreeMap::from([
            (
                "interface",
                s.interface.clone().unwrap_or_else(|| "-".into()),
            ),
            ("address", s.address.map_or("-".into(), |a| a.to_string())),
            ("http-port", s.http_port.to_string()),
            ("tftp-port", s.tftp_port.to_string()),
            ("dhcp", format!("{:?}", s.dhcp).to_lowercase()),
        ])
    };
    r.server = map_changes(&server(a), &server(b));

    let dhcp = |m: &Manifest| -> BTreeMap<String, String> {
        let answer = |v: &netboot_manifest::BootAnswer| {
            format!("{} {}", format!("{:?}", v.protocol).to_lowercase(), v.path)
        };
        let mut table: BTreeMap<String, String> = m
            .dhcp
            .iter()
            .map(|(k, v)| (k.to_string(), answer(v)))
            .collect();
        if let Some(sb) = &m.secure_boot {
            for (k, v) in &sb.dhcp {
                table.insert(format!("secure-boot {k}"), answer(v));
            }
        }
        table
    };
    r.dhcp = map_changes(&dhcp(a), &dhcp(b));

    let files = |l: &Loaded| -> BTreeMap<String, (String, String)> {
        l.manifest
            .files
            .iter()
            .map(|(k, e)| (k.clone(), (describe(e), behaviour(l, k, e))))
            .collect()
    };
    let (fa, fb) = (files(old), files(new));
    let routes: BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
    for route in routes {
        let (x, y) = (fa.get(route), fb.get(route));
        if x.map(|v| &v.1) != y.map(|v| &v.1) {
            r.files.push(Change {
                what: route.clone(),
                before: x.map(|v| v.0.clone()),
                after: y.map(|v| v.0.clone()),
            });
        }
    }

    let macs: BTreeSet<&MacAddr> = a.hosts.keys().chain(b.hosts.keys()).collect();
    for mac in macs {
        let (ha, hb) = (a.hosts.get(mac), b.hosts.get(mac));
        let mut changes = Vec::new();
        let field =
            |h: Option<&netboot_manifest::Host>, f: fn(&netboot_manifest::Host) -> String| h.map(f);
        for (what, f) in [
            (
                "name",
                (|h: &netboot_manifest::Host| h.name.clone()) as fn(&_) -> String,
            ),
            ("group", |h| h.group.clone().unwrap_or_else(|| "-".into())),
            ("boots", |h| h.boots.clone()),
            ("chain", |h| chain(h.secure_boot).into()),
            ("install", |h| {
                h.install
                    .as_ref()
                    .map_or_else(|| "-".into(), |i| format!("{} then {}", i.profile, i.then))
            }),
        ] {
            let (x, y) = (field(ha, f), field(hb, f));
            if x != y && (ha.is_some() && hb.is_some() || what == "boots") {
                changes.push(Change {
                    what: what.into(),
                    before: x,
                    after: y,
                });
            }
        }
        // A bump is how a machine is reinstalled: say so in words, not as a changed number.
        let generation = |h: Option<&netboot_manifest::Host>| Some(h?.install.as_ref()?.generation);
        if let (Some(from), Some(to), Some(h)) = (generation(ha), generation(hb), hb) {
            if to > from {
                r.reinstalls.push(Reinstall {
                    host: h.name.clone(),
                    mac: mac.to_string(),
                    from,
                    to,
                });
            } else if to < from {
                changes.push(Change {
                    what: "generation".into(),
                    before: Some(from.to_string()),
                    after: Some(to.to_string()),
                });
            }
        }
        let reach = |l: &Loaded, h: Option<&netboot_manifest::Host>| {
            h.map(|h| reachable(l, &h.script, mac)).unwrap_or_default()
        };
        if ha.is_some() && hb.is_some() {
            changes.extend(map_changes(&reach(old, ha), &reach(new, hb)));
        }
        if !changes.is_empty() {
            r.machines.push(MachineChange {
                mac: mac.to_string(),
                name: hb.or(ha).map(|h| h.name.clone()),
                changes,
            });
        }
    }
    // Machines the fleet does not list: one the fleets have never heard of stands for all.
    let stranger = MacAddr([0x02, 0, 0, 0, 0, 0]);
    let entry = |m: &Manifest| {
        m.dhcp
            .get(&netboot_manifest::ClientKind::Ipxe)
            .map(|e| e.path.clone())
    };
    let unknown = |l: &Loaded| {
        entry(&l.manifest)
            .map(|p| reachable(l, &p, &stranger))
            .unwrap_or_default()
    };
    let mut changes = map_changes(&unknown(old), &unknown(new));
    let default_chain = |m: &Manifest| chain(m.secure_boot.as_ref().is_some_and(|sb| sb.default));
    if default_chain(a) != default_chain(b) {
        changes.insert(
            0,
            Change {
                what: "chain".into(),
                before: Some(default_chain(a).into()),
                after: Some(default_chain(b).into()),
            },
        );
    }
    if !changes.is_empty() {
        r.machines.push(MachineChange {
            mac: "default".into(),
            name: Some("machines not in the fleet".into()),
            changes,
        });
    }
    r
}

/// The loader chain a UEFI machine boots through.
fn chain(secure_boot: bool) -> &'static str {
    if secure_boot {
        "Secure Boot (shim, GRUB)"
    } else {
        "iPXE"
    }
}

/// Every served file a machine's chain can reach from `script`, on BIOS and on UEFI, with its
/// sha256 prefix: two chains that reach the same files with the same bytes boot the same.
fn reachable(l: &Loaded, script: &str, mac: &MacAddr) -> BTreeMap<String, String> {
    let m = &l.manifest;
    let lookup = |r: &str| -> Option<Option<String>> {
        m.files.get(r)?;
        Some(
            l.generated(r)
                .filter(|_| r.ends_with(".ipxe"))
                .map(|b| String::from_utf8_lossy(&b).into_owned()),
        )
    };
    let mut out = BTreeMap::new();
    let mut add = |route: &str, cmdline: Option<&str>| {
        let v = match m.files.get(route) {
            Some(e) => behaviour(l, route, e),
            None if route.contains("://") => "from that URL".into(),
            None => "not served".into(),
        };
        out.insert(format!("reaches {route}"), v);
        if let Some(c) = cmdline {
            out.insert(format!("cmdline of {route}"), format!("\"{c}\""));
        }
    };
    add(script, None);
    for platform in ["pcbios", "efi"] {
        let ctx = ipxe_follow::Context {
            platform,
            mac_hexhyp: mac.hexhyp(),
            script: &lookup,
        };
        walk(&ipxe_follow::follow(script, &ctx), &mut add);
    }
    out
}

fn describe(e: &FileEntry) -> String {
    format!("{} bytes, sha256 {}", e.size, short(&e.sha256))
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// What decides whether a file changed: its sha256, except that a generated script's comment
/// lines do not count (they name the fleet file, which differs for a git revision's copy).
fn behaviour(l: &Loaded, route: &str, e: &FileEntry) -> String {
    let script = route
        .ends_with(".ipxe")
        .then(|| l.generated(route))
        .flatten();
    match script {
        Some(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let code: String = text
                .lines()
                .filter(|line| !line.starts_with('#') || line.starts_with("#!"))
                .flat_map(|line| [line, "\n"])
                .collect();
            format!("script {}", short(&sha256_hex(code.as_bytes())))
        }
        None => format!("sha256 {}", short(&e.sha256)),
    }
}

fn walk(steps: &[Step], add: &mut dyn FnMut(&str, Option<&str>)) {
    for s in steps {
        match s {
            Step::Fetch { route, args, .. } => add(route, args.as_deref()),
            Step::Script { route } | Step::Missing { route } => add(route, None),
            Step::Menu { items, .. } => {
                for i in items {
                    walk(&i.steps, add);
                }
            }
            // The script that runs it is compared by its hash already; explain names it.
            Step::Exit | Step::Back { .. } | Step::Unknown { .. } => {}
        }
    }
}

fn map_changes<K: Ord + ToString>(a: &BTreeMap<K, String>, b: &BTreeMap<K, String>) -> Vec<Change> {
    let keys: BTreeSet<&K> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(k) != b.get(k))
        .map(|k| Change {
            what: k.to_string(),
            before: a.get(k).cloned(),
            after: b.get(k).cloned(),
        })
        .collect()
}

fn render(r: &Report) -> String {
    let mut o = format!("--- {}\n+++ {}\n", r.old, r.new);
    for n in &r.notes {
        o += &format!("note: {n}\n");
    }
    if !r.machines.is_empty() {
        o += "note: `script HASH` is the sha256 of a generated script without its comment lines\n";
    }
    if r.is_empty() {
        o += "no differences: every machine boots the same files\n";
        return o;
    }
    let section = |o: &mut String, title: &str, changes: &[Change], indent: &str| {
        if changes.is_empty() {
            return;
        }
        if !title.is_empty() {
            *o += &format!("\n{title}\n");
        }
        for c in changes {
            *o += &match (&c.before, &c.after) {
                (None, Some(y)) => format!("{indent}+ {}: {y}\n", c.what),
                (Some(x), None) => format!("{indent}- {}: {x}\n", c.what),
                (Some(x), Some(y)) => format!("{indent}~ {}: {x} -> {y}\n", c.what),
                (None, None) => String::new(),
            };
        }
    };
    if !r.reinstalls.is_empty() {
        o += "\nreinstalls\n";
        for i in &r.reinstalls {
            o += &format!(
                "  {}: will reinstall (generation {} → {})\n",
                i.host, i.from, i.to
            );
        }
    }
    section(&mut o, "server", &r.server, "  ");
    section(&mut o, "dhcp", &r.dhcp, "  ");
    if !r.machines.is_empty() {
        o += "\nmachines\n";
        for m in &r.machines {
            o += &format!(
                "  {} {}\n",
                m.mac,
                m.name
                    .as_deref()
                    .map(|n| format!("({n})"))
                    .unwrap_or_default()
            );
            section(&mut o, "", &m.changes, "    ");
        }
    }
    section(&mut o, "files", &r.files, "  ");
    let added = r.files.iter().filter(|c| c.before.is_none()).count();
    let removed = r.files.iter().filter(|c| c.after.is_none()).count();
    o += &format!(
        "\n{} machine entr{} changed; files: {added} added, {removed} removed, {} changed\n",
        r.machines.len(),
        if r.machines.len() == 1 { "y" } else { "ies" },
        r.files.len() - added - removed
    );
    o
}
