//! `netboot explain`: the exact chain one machine gets, from its first DHCP packet to the last
//! file it downloads, or why it gets nothing.
//!
//! Nothing here re-implements the server: the DHCP answers come from running the runtime's own
//! `answer` on the DISCOVER that firmware (and then iPXE) would send, and the scripts are the
//! compiler's output, followed by the compiler's [`ipxe_follow`]. A machine the fleet boots
//! through Secure Boot gets shim instead of iPXE: then the chain is shim → signed GRUB →
//! GRUB's configs (read as the compiler wrote them) → what they load.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};

use netboot_compiler::ipxe_follow::{self, Step};
use netboot_compiler::ServerOverrides;
use netboot_manifest::settings::{self, ServerBlock};
use netboot_manifest::{ClientKind, FileEntry, Host, MacAddr, Manifest};
use netboot_runtime::dhcp::{
    answer, discover, request_4011, Decision, Ignored, Offer, Port, ServerIdentity,
};
use netboot_runtime::install::{self, Next};

use crate::loaded::{LoadError, Loaded};
use crate::report_format::Format;

/// One file in the chain, with what it is for.
#[derive(Debug, Clone, serde::Serialize)]
struct FileRef {
    route: String,
    role: String,
    /// `None` for a URL the machine fetches from elsewhere.
    size: Option<u64>,
    sha256: Option<String>,
    served_over: Option<&'static str>,
}

#[derive(Debug, serde::Serialize)]
struct Machine {
    name: String,
    group: Option<String>,
    boots: String,
}

#[derive(Debug, serde::Serialize)]
struct DhcpStep {
    /// Who asks: the firmware or iPXE, with its vendor class.
    request: String,
    offer: Option<Offer>,
    /// UEFI PXE firmware, offered no PXE options, asks again on port 4011: the ACK.
    #[serde(skip_serializing_if = "Option::is_none")]
    ack_4011: Option<Offer>,
    /// Why the proxy stays silent.
    ignored: Option<String>,
}

/// The Secure Boot chain after the firmware's DHCP: shim (the loader), then GRUB.
#[derive(Debug, serde::Serialize)]
struct SecureBootChain {
    /// GRUB, which shim loads from its own directory.
    grub: FileRef,
    /// The configs GRUB reads, in order: `grub/grub.cfg`, then this machine's own or the
    /// default.
    configs: Vec<String>,
    /// What the last config loads (kernel, initrds, EFI binaries), every menu entry's.
    loads: Vec<FileRef>,
}

#[derive(Debug, serde::Serialize)]
struct Explanation {
    mac: MacAddr,
    arch: ClientKind,
    /// `${platform}` as iPXE sees it.
    platform: &'static str,
    /// `None`: the fleet does not list this machine, so it gets the default.
    machine: Option<Machine>,
    server_address: Option<Ipv4Addr>,
    http_port: u16,
    dhcp_mode: String,
    firmware_dhcp: DhcpStep,
    loader: Option<FileRef>,
    /// Present when the machine boots through Secure Boot (then there is no iPXE step).
    #[serde(skip_serializing_if = "Option::is_none")]
    secure_boot: Option<SecureBootChain>,
    ipxe_dhcp: Option<DhcpStep>,
    first_script: Option<String>,
    steps: Vec<Step>,
    scripts: BTreeMap<String, String>,
    files: Vec<FileRef>,
    problems: Vec<String>,
    notes: Vec<String>,
}

/// Which machine to explain, in which fleet.
#[derive(Debug, Clone)]
pub struct ExplainOptions {
    pub input: Input,
    pub mac: MacAddr,
    /// Firmware of the machine; `None`: the first kind the fleet serves.
    pub arch: Option<ClientKind>,
    /// Address the server answers on; `None`: the fleet's `address`.
    pub address: Option<Ipv4Addr>,
    /// The server's state directory: says which of a lifecycle host's two profiles it gets
    /// now. `None`: both are named, with the rule, and the `then` chain is followed.
    pub state_dir: Option<PathBuf>,
    pub format: Format,
}

/// What is explained.
#[derive(Debug, Clone)]
pub enum Input {
    /// A fleet, compiled in memory (or a `.json` path, read as a manifest).
    Fleet(PathBuf),
    /// A frozen build's `manifest.json`.
    Manifest(PathBuf),
}

/// The explanation, rendered.
#[derive(Debug, Clone)]
pub struct Explained {
    pub text: String,
    /// The machine boots something (exiting to its disk counts); else its chain is broken.
    pub boots: bool,
}

/// Follows one machine's boot chain through the fleet's real answers and scripts.
pub fn explain(options: &ExplainOptions) -> Result<Explained, LoadError> {
    let overrides = ServerOverrides {
        address: options.address,
        ..ServerOverrides::default()
    };
    let loaded = match &options.input {
        Input::Manifest(path) => Loaded::manifest(path)?,
        Input::Fleet(path) => Loaded::load(path, &overrides)?,
    };
    let kind = options.arch.unwrap_or_else(|| {
        loaded
            .manifest
            .dhcp
            .keys()
            .copied()
            .find(|k| *k != ClientKind::Ipxe)
            .unwrap_or(ClientKind::Bios)
    });
    let e = follow(
        &loaded,
        options.mac,
        kind,
        &overrides,
        options.state_dir.as_deref(),
    );
    let text = match options.format {
        Format::Human => render(&e),
        Format::Json => {
            serde_json::to_string_pretty(&e).expect("explanations always serialise") + "\n"
        }
    };
    Ok(Explained {
        text,
        boots: e.problems.is_empty(),
    })
}

fn follow(
    loaded: &Loaded,
    mac: MacAddr,
    kind: ClientKind,
    overrides: &ServerOverrides,
    state_dir: Option<&Path>,
) -> Explanation {
    let m = &loaded.manifest;
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let host_script = m
        .hosts
        .get(&mac)
        .map(|h| lifecycle_script(h, mac, state_dir, &mut notes));
    // A frozen build's settings, with the command line's address over them.
    let server_address = settings::settle(&ServerBlock::from(&m.server), overrides).address;
    if server_address.is_none() {
        let from = match &m.server.interface {
            Some(name) => format!("serve takes it from interface {name}"),
            None => "serve takes it from --interface or --address".to_string(),
        };
        notes.push(format!(
            "the fleet names no server address ({from}): addresses below show 0.0.0.0; pass --address to see the real ones"
        ));
    }
    let identity = ServerIdentity {
        addr: server_address.unwrap_or(Ipv4Addr::UNSPECIFIED),
        http_port: m.server.http_port,
    };
    if m.server.dhcp == netboot_manifest::DhcpMode::Off {
        notes.push(
            "the fleet turns proxy-DHCP off: another DHCP server must hand out the answers below"
                .into(),
        );
    }
    let platform = if kind == ClientKind::Bios {
        "pcbios"
    } else {
        "efi"
    };
    let machine = m.hosts.get(&mac).map(|h| Machine {
        name: h.name.clone(),
        group: h.group.clone(),
        boots: h.boots.clone(),
    });
    let mut files: Vec<FileRef> = Vec::new();

    let firmware_dhcp = ask(kind, mac, m, &identity, 0);
    let secure = m.is_secure_boot(mac)
        && m.secure_boot
            .as_ref()
            .is_some_and(|sb| sb.dhcp.contains_key(&kind));
    let loader = match (&firmware_dhcp.offer, m.loader(kind, mac)) {
        (Some(_), Some(entry)) => {
            let role = if secure { "shim" } else { "loader" };
            let r = file_ref(m, &entry.path, role);
            if r.size.is_none() {
                problems.push(format!(
                    "the loader {} is not in the manifest's files",
                    entry.path
                ));
            }
            files.push(r.clone());
            Some(r)
        }
        _ => {
            problems.push(why_silent(kind, &firmware_dhcp));
            None
        }
    };

    let ipxe_arch = match kind {
        ClientKind::Bios => 0,
        ClientKind::EfiArm64 | ClientKind::HttpArm64 => 11,
        _ => 7,
    };
    let mut ipxe_dhcp = None;
    let mut first_script = None;
    let mut steps = Vec::new();
    let mut secure_boot = None;
    let mut scripts = BTreeMap::new();
    if let (true, Some(shim)) = (secure, &loader) {
        let chain = grub_chain(loaded, mac, &shim.route, &mut scripts, &mut problems);
        files.push(chain.grub.clone());
        files.extend(chain.configs.iter().map(|c| file_ref(m, c, "config")));
        files.extend(chain.loads.iter().cloned());
        if m.server.dhcp == netboot_manifest::DhcpMode::Proxy {
            notes.push(
                "Debian 12's signed GRUB takes its TFTP server from the LAN DHCP server's next-server, not from this proxy: the router must point next-server at this server, or run `dhcp \"full\"`".into(),
            );
        }
        secure_boot = Some(chain);
    } else if loader.is_some() {
        let step = ask(ClientKind::Ipxe, mac, m, &identity, ipxe_arch);
        let script = match (&step.offer, m.dhcp.get(&ClientKind::Ipxe)) {
            (Some(_), Some(entry)) => {
                Some(host_script.clone().unwrap_or_else(|| entry.path.clone()))
            }
            _ => {
                problems.push(format!(
                    "iPXE gets no script: {}",
                    step.ignored.as_deref().unwrap_or("no answer")
                ));
                None
            }
        };
        ipxe_dhcp = Some(step);
        if let Some(route) = script {
            let lookup = |r: &str| loaded.script_at(r);
            let ctx = ipxe_follow::Context {
                platform,
                mac_hexhyp: mac.hexhyp(),
                script: &lookup,
            };
            steps = ipxe_follow::follow(&route, &ctx);
            first_script = Some(route);
        }
    }

    if let Some(route) = &first_script {
        files.push(file_ref(m, route, "script"));
        collect(&steps, m, &mut files, &mut problems);
        for f in &files {
            if f.role == "script" {
                if let Some(b) = loaded.generated(&f.route) {
                    scripts.insert(f.route.clone(), String::from_utf8_lossy(&b).into_owned());
                }
            }
        }
    }
    if steps.iter().any(|s| matches!(s, Step::Menu { .. })) {
        notes.push("the machine shows a menu: every file any item fetches is listed".into());
    }

    Explanation {
        mac,
        arch: kind,
        platform,
        machine,
        server_address,
        http_port: m.server.http_port,
        dhcp_mode: format!("{:?}", m.server.dhcp).to_lowercase(),
        firmware_dhcp,
        loader,
        secure_boot,
        ipxe_dhcp,
        first_script,
        steps,
        scripts,
        files,
        problems,
        notes,
    }
}

/// What shim and GRUB fetch after the firmware loaded shim from `shim_route`: GRUB from the same
/// directory, `grub/grub.cfg`, then the machine's own config when there is one (GRUB tries it
/// first and falls back to the default), and what that config loads.
fn grub_chain(
    loaded: &Loaded,
    mac: MacAddr,
    shim_route: &str,
    scripts: &mut BTreeMap<String, String>,
    problems: &mut Vec<String>,
) -> SecureBootChain {
    let m = &loaded.manifest;
    let dir = shim_route.rsplit_once('/').map_or("", |(d, _)| d);
    let grub_route = if dir.is_empty() {
        "grubx64.efi".to_string()
    } else {
        format!("{dir}/grubx64.efi")
    };
    let grub = file_ref(m, &grub_route, "grub");
    if grub.size.is_none() {
        problems.push(format!(
            "shim loads {grub_route}, which the manifest does not serve"
        ));
    }
    let own = format!("grub/hosts/{mac}.cfg");
    let last = if m.files.contains_key(&own) {
        own
    } else {
        "grub/default.cfg".to_string()
    };
    let configs = vec!["grub/grub.cfg".to_string(), last.clone()];
    let mut loads = Vec::new();
    for c in &configs {
        match loaded.generated(c) {
            Some(bytes) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                if *c == last {
                    for (role, route) in grub_loads(&text) {
                        if !loads.iter().any(|f: &FileRef| f.route == route) {
                            let f = file_ref(m, &route, role);
                            if f.size.is_none() {
                                problems.push(format!(
                                    "{c} loads {route}, which the manifest does not serve"
                                ));
                            }
                            loads.push(f);
                        }
                    }
                }
                scripts.insert(c.clone(), text);
            }
            None => problems.push(format!("GRUB reads {c}, which the manifest does not serve")),
        }
    }
    SecureBootChain {
        grub,
        configs,
        loads,
    }
}

/// The files a generated GRUB config loads: `linux`, `initrd` and `chainloader` arguments
/// of the form `(tftp)/ROUTE` (the only form the compiler writes).
fn grub_loads(text: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let role = match words.next() {
            Some("linux") => "kernel",
            Some("initrd") => "initrd",
            Some("chainloader") => "efi",
            _ => continue,
        };
        // `linux` takes one file then the command line; `initrd` only files.
        let files: Vec<&str> = match role {
            "initrd" => words.collect(),
            _ => words.take(1).collect(),
        };
        for f in files {
            if let Some(route) = f.strip_prefix("(tftp)/") {
                out.push((role, route.to_string()));
            }
        }
    }
    out
}

/// The script `hosts/<mac>.ipxe` answers for `host`: for a lifecycle host, the install
/// script while its generation is not reported, by the server's own rule; a note says which
/// and why.
fn lifecycle_script(
    host: &Host,
    mac: MacAddr,
    state_dir: Option<&Path>,
    notes: &mut Vec<String>,
) -> String {
    let Some(install) = &host.install else {
        return host.script.clone();
    };
    let (profile, then, generation) = (&install.profile, &install.then, install.generation);
    let Some(dir) = state_dir else {
        notes.push(format!(
            "install lifecycle: boots {profile} until it reports generation {generation} installed, then {then}; \
             shown: {then} (pass --state-dir to see which it gets now)"
        ));
        return host.script.clone();
    };
    let path = dir.join(install::STATE_FILE);
    match install::state_file::load(&path) {
        Ok(state) => match (install::next(install, state.get(&mac)), state.get(&mac)) {
            (Next::Install, None) => {
                notes.push(format!(
                    "install lifecycle: boots {profile} now: generation {generation} is not reported installed; then {then}"
                ));
                install.script.clone()
            }
            (Next::Install, Some(r)) => {
                notes.push(format!(
                    "install lifecycle: boots {profile} now: it reported generation {} installed, the fleet installs {generation}; then {then}",
                    r.generation
                ));
                install.script.clone()
            }
            (Next::Then, _) => {
                notes.push(format!(
                    "install lifecycle: boots {then} now: generation {generation} is reported installed (installs with {profile} after a generation bump)"
                ));
                host.script.clone()
            }
        },
        Err(e) => {
            notes.push(format!(
                "install lifecycle: boots {then} now, never {profile}: {e}"
            ));
            host.script.clone()
        }
    }
}

/// Runs the proxy's real decision on the DISCOVER a client of `kind` sends.
fn ask(
    kind: ClientKind,
    mac: MacAddr,
    m: &Manifest,
    server: &ServerIdentity,
    ipxe_arch: u16,
) -> DhcpStep {
    let request = discover(kind, mac, 0x6e65_7462, ipxe_arch);
    let who = match kind {
        ClientKind::Ipxe => format!("iPXE (arch {ipxe_arch}) sends DISCOVER with user class iPXE"),
        k if k.is_http() => format!("{k} firmware sends DISCOVER with vendor class HTTPClient"),
        k => format!("{k} firmware sends DISCOVER with vendor class PXEClient"),
    };
    let from = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68);
    match answer(&request, Port::Dhcp67, from, m, server) {
        Decision::Reply(reply) => {
            let offer = Offer::parse(&reply.bytes);
            let uefi_pxe = matches!(kind, ClientKind::EfiX64 | ClientKind::EfiArm64);
            let ack_4011 = match &offer {
                Some(o) if uefi_pxe && o.vendor_options.is_none() => {
                    let request = request_4011(kind, mac, 0x6e65_7462);
                    match answer(&request, Port::Pxe4011, from, m, server) {
                        Decision::Reply(r) => Offer::parse(&r.bytes),
                        Decision::Ignore(_) => None,
                    }
                }
                _ => None,
            };
            DhcpStep {
                request: who,
                offer,
                ack_4011,
                ignored: None,
            }
        }
        Decision::Ignore(why) => DhcpStep {
            request: who,
            offer: None,
            ack_4011: None,
            ignored: Some(match why {
                Ignored::NoAnswer(k) => format!("the manifest has no DHCP answer for {k}"),
                other => other.to_string(),
            }),
        },
    }
}

fn why_silent(kind: ClientKind, step: &DhcpStep) -> String {
    let loader_line = match kind {
        ClientKind::Bios => Some("bios \"/usr/lib/ipxe/undionly.kpxe\""),
        ClientKind::EfiX64 | ClientKind::HttpX64 => Some("efi-x64 \"/usr/lib/ipxe/ipxe.efi\""),
        ClientKind::EfiArm64 | ClientKind::HttpArm64 => {
            Some("efi-arm64 \"loaders/arm64/ipxe.efi\"")
        }
        ClientKind::Ipxe => None,
    };
    match (step.ignored.as_deref(), loader_line) {
        (Some(why), Some(line)) if why.starts_with("the manifest has no DHCP answer") => format!(
            "proxy-DHCP stays silent: the fleet has no loader for {kind} (add `{line}` to `loaders`)"
        ),
        (Some(why), _) => format!("proxy-DHCP stays silent: {why}"),
        (None, _) => "proxy-DHCP answers, but its reply could not be read back".into(),
    }
}

fn file_ref(m: &Manifest, route: &str, role: &str) -> FileRef {
    let entry: Option<&FileEntry> = m.files.get(route);
    FileRef {
        route: route.to_string(),
        role: role.to_string(),
        size: entry.map(|e| e.size),
        sha256: entry.map(|e| e.sha256.clone()),
        served_over: entry.map(|e| match (e.tftp, e.http) {
            (true, true) => "tftp+http",
            (true, false) => "tftp",
            _ => "http",
        }),
    }
}

/// Every file the steps fetch, once each, in the order first met.
fn collect(steps: &[Step], m: &Manifest, files: &mut Vec<FileRef>, problems: &mut Vec<String>) {
    for step in steps {
        let (route, role) = match step {
            Step::Script { route } => (route, "script"),
            Step::Fetch { role, route, .. } => (route, *role),
            Step::Menu { items, .. } => {
                for item in items {
                    collect(&item.steps, m, files, problems);
                }
                continue;
            }
            Step::Missing { route } => {
                problems.push(format!(
                    "a script fetches {route}, which the manifest does not serve"
                ));
                continue;
            }
            Step::Unknown { route, command } => {
                problems.push(format!(
                    "{route} runs `{command}`, which explain does not understand"
                ));
                continue;
            }
            Step::Exit | Step::Back { .. } => continue,
        };
        if !files.iter().any(|f| &f.route == route) {
            files.push(file_ref(m, route, role));
        }
    }
}

fn render(e: &Explanation) -> String {
    let mut o = String::new();
    let who = match &e.machine {
        Some(h) => format!(
            "{} ({}{}), boots {}",
            e.mac,
            h.name,
            h.group
                .as_ref()
                .map(|g| format!(", group {g}"))
                .unwrap_or_default(),
            h.boots
        ),
        None => format!("{} (not in the fleet: gets the default)", e.mac),
    };
    o += &format!("machine   {who}\n");
    // A Secure Boot machine never runs iPXE: its chain is shim and GRUB.
    o += &match e.secure_boot {
        Some(_) => format!("firmware  {} (Secure Boot: shim, then GRUB)\n", e.arch),
        None => format!(
            "firmware  {} (iPXE ${{platform}} = {})\n",
            e.arch, e.platform
        ),
    };
    o += &format!(
        "server    {}, HTTP port {}, DHCP {}\n",
        e.server_address
            .map_or("address unknown".to_string(), |a| a.to_string()),
        e.http_port,
        e.dhcp_mode
    );
    for n in &e.notes {
        o += &format!("note      {n}\n");
    }
    o += "\n1. Firmware DHCP\n";
    render_dhcp(&mut o, &e.firmware_dhcp);
    if let Some(l) = &e.loader {
        let what = if e.secure_boot.is_some() {
            " (shim: this machine boots through Secure Boot)"
        } else {
            ""
        };
        o += &format!("\n2. Loader {}{what}\n", l.route);
        o += &format!("   {}\n", describe_file(l));
    }
    if let Some(sb) = &e.secure_boot {
        o += &format!(
            "\n3. shim loads {} (signed GRUB, from its own directory)\n",
            sb.grub.route
        );
        o += &format!("   {}\n", describe_file(&sb.grub));
        o += &format!("\n4. GRUB reads {}\n", sb.configs.join(", then "));
        for f in &sb.loads {
            o += &format!("   {} {}\n", f.role, f.route);
        }
    }
    if let Some(step) = &e.ipxe_dhcp {
        o += "\n3. iPXE DHCP\n";
        render_dhcp(&mut o, step);
    }
    if let Some(first) = &e.first_script {
        o += "\n4. iPXE runs\n";
        o += &format!("   script {first}\n");
        render_steps(&mut o, &e.steps, 3);
    }
    if !e.scripts.is_empty() {
        let title = if e.secure_boot.is_some() {
            "GRUB configs"
        } else {
            "Scripts"
        };
        o += &format!("\n{title}\n");
        for (route, text) in &e.scripts {
            o += &format!("   {route}\n");
            for line in text.lines() {
                o += format!("   | {line}").trim_end();
                o.push('\n');
            }
        }
    }
    if !e.files.is_empty() {
        o += "\nFiles fetched\n";
        let width = e.files.iter().map(|f| f.route.len()).max().unwrap_or(0);
        for f in &e.files {
            o += &format!(
                "   {:<7} {:<width$}  {}\n",
                f.role,
                f.route,
                describe_file(f)
            );
        }
    }
    if e.problems.is_empty() {
        o += "\nresult    this machine boots\n";
    } else {
        o += "\n";
        for p in &e.problems {
            o += &format!("problem   {p}\n");
        }
        o += "result    this machine gets nothing\n";
    }
    o
}

fn describe_file(f: &FileRef) -> String {
    match (&f.size, &f.sha256) {
        (Some(size), Some(sha)) => format!(
            "{size} bytes  sha256 {sha}  over {}",
            f.served_over.unwrap_or("-")
        ),
        _ if f.route.contains("://") => "fetched from that URL, not served by netboot".into(),
        _ => "NOT SERVED".into(),
    }
}

fn render_dhcp(o: &mut String, step: &DhcpStep) {
    *o += &format!("   {}\n", step.request);
    match (&step.offer, &step.ignored) {
        (Some(offer), _) => {
            *o += &format!("   proxy answers {}:\n", offer.message_type);
            render_offer(o, offer);
            if let Some(ack) = &step.ack_4011 {
                *o += &format!(
                    "   firmware sends REQUEST to port 4011; proxy answers {}:\n",
                    ack.message_type
                );
                render_offer(o, ack);
            }
        }
        (None, Some(why)) => *o += &format!("   proxy stays silent: {why}\n"),
        (None, None) => *o += "   proxy answers, but the reply could not be read\n",
    }
}

fn render_offer(o: &mut String, offer: &Offer) {
    let mut field = |name: &str, value: String| {
        *o += &format!("     {name:<14} {value}\n");
    };
    field(
        "yiaddr",
        format!("{} (a proxy offers no address)", offer.yiaddr),
    );
    field("next-server", offer.siaddr.to_string());
    if let Some(id) = offer.server_id {
        field("server id (54)", id.to_string());
    }
    if let Some(s) = &offer.server_name {
        field("sname (66)", s.clone());
    }
    if let Some(f) = &offer.boot_file {
        field("boot file (67)", f.clone());
    }
    if let Some(v) = &offer.vendor_class {
        field("class (60)", v.clone());
    }
    let vendor = match offer.vendor_options.as_deref() {
        Some("06 01 08 ff") => "06 01 08 ff (skip boot server discovery)".to_string(),
        Some(v) => v.to_string(),
        None if offer.message_type == "OFFER" => {
            "absent (UEFI firmware asks again on port 4011)".into()
        }
        None => "absent".into(),
    };
    field("vendor (43)", vendor);
}

fn render_steps(o: &mut String, steps: &[Step], indent: usize) {
    let pad = " ".repeat(indent);
    for step in steps {
        match step {
            Step::Script { route } => *o += &format!("{pad}-> script {route}\n"),
            Step::Fetch {
                role, route, args, ..
            } => {
                *o += &format!("{pad}{role} {route}\n");
                if let Some(a) = args.as_ref().filter(|a| !a.is_empty()) {
                    *o += &format!("{pad}  cmdline: {a}\n");
                }
            }
            Step::Menu {
                title,
                timeout_seconds,
                default,
                items,
            } => {
                let after = match (default, timeout_seconds) {
                    (Some(d), Some(t)) => format!(", \"{d}\" after {t} s"),
                    (Some(d), None) => format!(", default \"{d}\" (waits)"),
                    _ => String::new(),
                };
                *o += &format!("{pad}menu \"{title}\"{after}:\n");
                for item in items {
                    *o += &format!("{pad}  * {}\n", item.label);
                    render_steps(o, &item.steps, indent + 4);
                }
            }
            Step::Exit => {
                *o += &format!("{pad}exit: the firmware boots its next device (local disk)\n")
            }
            Step::Back { route } => *o += &format!("{pad}(back to {route})\n"),
            Step::Missing { route } => *o += &format!("{pad}MISSING {route}: not served\n"),
            Step::Unknown { route, command } => {
                *o += &format!("{pad}UNKNOWN command `{command}` in {route}\n")
            }
        }
    }
}
