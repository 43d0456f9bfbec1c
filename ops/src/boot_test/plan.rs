//! What each VM must be seen to do: the steps of one machine's chain on one firmware, from the
//! fleet's own DHCP answers and scripts (followed by the compiler's `ipxe_follow`, as
//! `netboot explain` follows them), with a menu's default item standing in for the whole menu.
//! Pure over a loaded fleet, so it needs no network.

use netboot_compiler::grub_follow;
use netboot_compiler::ipxe_follow::{self, Step};
use netboot_compiler::linux_image::Arch;
use netboot_lab::Firmware;
use netboot_manifest::{ClientKind, MacAddr, Manifest};

use crate::loaded::Loaded;

/// One thing the server must see the machine do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum Expect {
    /// A DHCP answer with a boot file for a client of `kind` (the firmware, then iPXE).
    Dhcp { kind: ClientKind },
    /// A file delivered completely: the loader, a script, a kernel, an initrd, a binary.
    File {
        role: String,
        route: String,
        size: u64,
    },
    /// Any part of a disk image read (sanboot reads the ranges it needs, never the whole).
    Ranges { route: String },
    /// A URL the fleet does not serve: nothing answers it inside the private network.
    Outside { role: String, url: String },
}

impl Expect {
    /// The step as a failure names it.
    pub fn describe(&self) -> String {
        match self {
            Expect::Dhcp { kind } => format!("a DHCP answer for its {kind} client"),
            Expect::File { role, route, size } => {
                format!("the {role} {route} ({size} bytes) downloaded completely")
            }
            Expect::Ranges { route } => format!("the disk image {route} read"),
            Expect::Outside { role, url } => format!(
                "the {role} {url}, which the fleet does not serve (nothing answers it in the private network)"
            ),
        }
    }
}

/// How the chain ends once every step happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum End {
    /// What was booted takes over: the machine asks for nothing more.
    Boots,
    /// iPXE exits to the next boot device; in a VM with no disk, the firmware tries the
    /// network again, which is then no failure.
    Exits,
}

/// One VM to boot: a machine (or the unknown machine the fleet's default serves) on one
/// firmware.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Case {
    /// `<machine>-<firmware>`: the JUnit test case's name and the evidence files' stem.
    pub name: String,
    /// The host's name, or `default` for the unknown machine.
    pub machine: String,
    pub mac: MacAddr,
    #[serde(serialize_with = "firmware_name")]
    pub firmware: Firmware,
    pub steps: Vec<Expect>,
    pub end: End,
    /// Why the chain cannot be booted at all (no loader for this firmware, a menu that waits
    /// for a key...): the case fails without a VM.
    pub unbootable: Option<String>,
    /// Why the case is not booted though nothing is wrong with it (an arm64 machine, and
    /// this lab boots x86 VMs only): reported as skipped, never as passed.
    pub skipped: Option<String>,
    /// What was chosen on the machine's behalf (a menu's default item).
    pub notes: Vec<String>,
    /// Seconds the menus on the path wait before their default: the machine asks nothing
    /// meanwhile, so this is no stall.
    pub menu_seconds: u64,
}

/// The role of an installer's answer file: the installed system's kernel fetches it, so it
/// comes only once that kernel has booted and found its network.
pub const ANSWER_FILE: &str = "answer file";

/// What the plan asks of the fleet's files beyond the manifest.
pub struct Files<'a> {
    /// The architecture of a served kernel, from its first bytes; `None` when unknown.
    pub kernel_arch: &'a dyn Fn(&str) -> Option<Arch>,
}

fn firmware_name<S: serde::Serializer>(f: &Firmware, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(f.name())
}

/// The MAC the unknown machine boots with: locally administered, QEMU's prefix, and checked
/// against the fleet's hosts.
pub fn unknown_mac(m: &Manifest) -> MacAddr {
    (1u8..=255)
        .map(|n| MacAddr([0x52, 0x54, 0x00, 0xde, 0xfa, n]))
        .find(|mac| !m.hosts.contains_key(mac))
        .unwrap_or(MacAddr([0x52, 0x54, 0x00, 0xde, 0xfb, 0x01]))
}

/// The client kind the firmware's first DHCP request comes from.
pub fn first_client(firmware: Firmware) -> ClientKind {
    match firmware {
        // SeaBIOS runs the NIC's iPXE ROM: the first client is iPXE already.
        Firmware::Bios => ClientKind::Ipxe,
        Firmware::UefiPxe | Firmware::UefiSecureBoot => ClientKind::EfiX64,
        Firmware::UefiHttp => ClientKind::HttpX64,
    }
}

/// The case for `machine` (`mac`) on `firmware`.
pub fn case(
    loaded: &Loaded,
    files: &Files,
    machine: &str,
    mac: MacAddr,
    firmware: Firmware,
) -> Case {
    let m = &loaded.manifest;
    let mut case = Case {
        name: format!("{machine}-{firmware}"),
        machine: machine.to_string(),
        mac,
        firmware,
        steps: Vec::new(),
        end: End::Boots,
        unbootable: None,
        skipped: None,
        notes: Vec::new(),
        menu_seconds: 0,
    };
    let first = first_client(firmware);
    case.steps.push(Expect::Dhcp { kind: first });
    let secure_loader = m
        .secure_boot
        .as_ref()
        .filter(|_| m.is_secure_boot(mac))
        .and_then(|sb| sb.dhcp.get(&first));
    if let Some(shim) = secure_loader {
        secure_boot_chain(loaded, files, mac, &shim.path, &mut case);
        return case;
    }
    if firmware == Firmware::UefiSecureBoot {
        case.skipped = Some(
            "the fleet boots it through iPXE, which Secure Boot firmware refuses (`secure-boot=#true` gives it shim and GRUB)"
                .into(),
        );
        return case;
    }
    if first != ClientKind::Ipxe {
        let Some(loader) = m.loader(first, mac) else {
            case.unbootable = Some(format!(
                "the fleet has no loader for {first} clients, so {firmware} firmware gets no answer"
            ));
            return case;
        };
        case.steps.push(file(m, "loader", &loader.path));
        case.steps.push(Expect::Dhcp {
            kind: ClientKind::Ipxe,
        });
    }
    let script = match m.hosts.get(&mac) {
        // The server's rule with no state yet: a lifecycle host installs.
        Some(host) => host
            .install
            .as_ref()
            .map_or(&host.script, |install| &install.script)
            .clone(),
        None => match m.dhcp.get(&ClientKind::Ipxe) {
            Some(entry) => entry.path.clone(),
            None => {
                case.unbootable = Some("the fleet gives iPXE no script".into());
                return case;
            }
        },
    };
    case.steps.push(file(m, "script", &script));
    let lookup = |r: &str| loaded.script_at(r);
    let ctx = ipxe_follow::Context {
        platform: if firmware == Firmware::Bios {
            "pcbios"
        } else {
            "efi"
        },
        mac_hexhyp: mac.hexhyp(),
        script: &lookup,
    };
    let steps = ipxe_follow::follow(&script, &ctx);
    let mut walker = Walker {
        m,
        files,
        answers: None,
        kernel_names_initrd: false,
        grub: false,
    };
    walker.walk(&steps, &mut case);
    walker.finish(&mut case);
    case
}

/// A machine the fleet boots through Secure Boot: shim, the signed GRUB shim loads from its
/// own directory, `grub/grub.cfg`, and what GRUB's configs boot (followed by the compiler's
/// `grub_follow`). Shim and GRUB run with Secure Boot off too, so any UEFI PXE firmware takes
/// this chain.
fn secure_boot_chain(loaded: &Loaded, files: &Files, mac: MacAddr, shim: &str, case: &mut Case) {
    let m = &loaded.manifest;
    case.steps.push(file(m, "loader", shim));
    let dir = shim.rsplit_once('/').map_or("", |(d, _)| d);
    let grub = if dir.is_empty() {
        "grubx64.efi".to_string()
    } else {
        format!("{dir}/grubx64.efi")
    };
    if !m.files.contains_key(&grub) {
        case.unbootable = Some(format!(
            "shim loads {grub} from its own directory, and the fleet does not serve it"
        ));
        return;
    }
    case.steps.push(file(m, "GRUB", &grub));
    const GRUB_CFG: &str = "grub/grub.cfg";
    if !m.files.contains_key(GRUB_CFG) {
        case.unbootable = Some(format!(
            "signed GRUB reads {GRUB_CFG}, which the fleet does not serve"
        ));
        return;
    }
    case.steps.push(file(m, "script", GRUB_CFG));
    let config = |r: &str| -> Option<Option<String>> {
        m.files.get(r)?;
        Some(
            loaded
                .generated(r)
                .map(|b| String::from_utf8_lossy(&b).into_owned()),
        )
    };
    let steps = grub_follow::follow(
        GRUB_CFG,
        &grub_follow::Context {
            mac: mac.to_string(),
            config: &config,
        },
    );
    let mut walker = Walker {
        m,
        files,
        answers: None,
        kernel_names_initrd: false,
        grub: true,
    };
    walker.walk(&steps, case);
    walker.finish(case);
}

/// The answer file an installer's kernel command line names on this server (Debian's
/// `url=` / `preseed/url=`, a kickstart's `inst.ks=` / `ks=`), as a route the fleet serves.
fn answer_file(args: &str, m: &Manifest) -> Option<String> {
    let address = m.server.address?;
    let port = m.server.http_port;
    let prefixes = if port == 80 {
        vec![
            format!("http://{address}:80/"),
            format!("http://{address}/"),
        ]
    } else {
        vec![format!("http://{address}:{port}/")]
    };
    args.split_whitespace().find_map(|word| {
        let (key, url) = word.split_once('=')?;
        if !["url", "preseed/url", "inst.ks", "ks"].contains(&key) {
            return None;
        }
        let route = prefixes.iter().find_map(|p| url.strip_prefix(p.as_str()))?;
        m.files.contains_key(route).then(|| route.to_string())
    })
}

fn file(m: &Manifest, role: &str, route: &str) -> Expect {
    Expect::File {
        role: role.to_string(),
        route: route.to_string(),
        size: m.files.get(route).map_or(0, |f| f.size),
    }
}

/// Follows a machine's chain down a menu's default items.
struct Walker<'a> {
    m: &'a Manifest,
    files: &'a Files<'a>,
    /// The installer's answer file, fetched once its kernel runs.
    answers: Option<Expect>,
    /// The last kernel line names an initrd (`initrd=`).
    kernel_names_initrd: bool,
    /// GRUB, not iPXE, loads the kernel (it hands the initrd over itself).
    grub: bool,
}

impl Walker<'_> {
    /// The installer asks for its answers once its kernel runs, after the initrd: the last
    /// step the server can see.
    fn finish(self, case: &mut Case) {
        if let Some(answers) = self.answers {
            if case.end == End::Boots {
                case.steps.push(answers);
            }
        }
    }

    /// Appends what the machine does along `steps`; a menu goes down its default item.
    fn walk(&mut self, steps: &[Step], case: &mut Case) {
        let m = self.m;
        for step in steps {
            match step {
                Step::Fetch {
                    role: "kernel",
                    route,
                    args,
                    served: true,
                } => {
                    if (self.files.kernel_arch)(route) == Some(Arch::Arm64) {
                        case.skipped = Some(format!(
                        "it boots the arm64 kernel {route}, and netboot test boots x86 VMs only"
                    ));
                        return;
                    }
                    case.steps.push(file(m, "kernel", route));
                    if let Some(route) = args.as_deref().and_then(|a| answer_file(a, m)) {
                        self.answers = Some(file(m, ANSWER_FILE, &route));
                    }
                    self.kernel_names_initrd = args
                        .as_deref()
                        .is_some_and(|a| a.split_whitespace().any(|w| w.starts_with("initrd=")));
                }
                Step::Fetch {
                    role: "initrd",
                    route,
                    served: true,
                    ..
                } => {
                    case.steps.push(file(m, "initrd", route));
                    // Verified with Debian 12's ipxe.efi: without `initrd=` the kernel boots
                    // with no initrd and panics looking for a root file system, though the
                    // server delivered every byte. Only the console can show it, so the
                    // failure needs this note to point at the cause.
                    if !self.grub && case.firmware != Firmware::Bios && !self.kernel_names_initrd {
                        case.notes.push(format!(
                            "its kernel line has no `initrd=`: under UEFI the kernel finds the initrd iPXE loaded ({route}) only when its command line names it"
                        ));
                    }
                }
                Step::Script { route } => case.steps.push(file(m, "script", route)),
                Step::Fetch {
                    role,
                    route,
                    served: true,
                    ..
                } if *role == "sanboot" => case.steps.push(Expect::Ranges {
                    route: route.clone(),
                }),
                Step::Fetch {
                    role,
                    route,
                    served: true,
                    ..
                } => case.steps.push(file(m, role, route)),
                Step::Fetch {
                    role,
                    route,
                    served: false,
                    ..
                } => case.steps.push(Expect::Outside {
                    role: role.to_string(),
                    url: route.clone(),
                }),
                Step::Menu {
                    title,
                    timeout_seconds,
                    items,
                    ..
                } => {
                    let Some(timeout) = timeout_seconds else {
                        case.unbootable = Some(format!(
                        "menu \"{title}\" has no timeout: it waits for a key, so no item is chosen (use `netboot try` to walk it by hand)"
                    ));
                        return;
                    };
                    let Some(item) = items.iter().find(|i| i.default).or(items.first()) else {
                        case.unbootable = Some(format!("menu \"{title}\" has no items"));
                        return;
                    };
                    case.notes.push(format!(
                        "menu \"{title}\": its default \"{}\" is chosen after {timeout} s",
                        item.label
                    ));
                    case.menu_seconds += timeout;
                    self.walk(&item.steps, case);
                    return;
                }
                Step::Exit => {
                    case.end = End::Exits;
                    return;
                }
                Step::Back { .. } => return,
                Step::Missing { route } => {
                    case.unbootable = Some(format!(
                        "a script fetches {route}, which the fleet does not serve"
                    ));
                    return;
                }
                Step::Unknown { route, command } => {
                    case.unbootable = Some(format!(
                        "{route} runs `{command}`, which netboot cannot follow"
                    ));
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netboot_compiler::ServerOverrides;
    use std::path::Path;

    /// The first bytes of real files (compiler/tests/pe/, all the plan and the build read of
    /// most files) copied into `dir` as (head, name, the real file's length if it matters).
    fn heads(dir: &Path, files: &[(&str, &str, Option<u64>)]) {
        let pe = Path::new(env!("CARGO_MANIFEST_DIR")).join("../compiler/tests/pe");
        for (from, to, len) in files {
            std::fs::copy(pe.join(from), dir.join(to)).unwrap();
            if let Some(len) = len {
                std::fs::File::options()
                    .write(true)
                    .open(dir.join(to))
                    .and_then(|f| f.set_len(*len))
                    .unwrap();
            }
        }
    }

    /// A fleet with an installer (its answer file on this server), an arm64 board and an
    /// `exit` default, over the first bytes of real files (all the plan reads of them; the
    /// arm64 kernel's EFI stub stands in for arm64 iPXE).
    fn fleet(dir: &Path) -> Loaded {
        heads(
            dir,
            &[
                ("ipxe.efi.head", "ipxe.efi", None),
                ("vmlinuz-6.1.0-57-amd64.head", "vmlinuz", None),
                ("linux-arm64.head", "linux-arm64", None),
                ("initrd.img.head", "initrd.img", None),
            ],
        );
        std::fs::write(dir.join("preseed.cfg"), "d-i x string {{ host }}\n").unwrap();
        let text = r#"
server { address "10.77.0.1"; http-port 8080; }
loaders { efi-x64 "ipxe.efi"; efi-arm64 "linux-arm64"; }
artifact "k" path="vmlinuz"
artifact "i" path="initrd.img"
artifact "arm" path="linux-arm64"
profile "inst" {
    kernel "k"
    initrd "i"
    cmdline "auto=true url=http://{{ server }}/m/{{ host }}/preseed.cfg priority=critical"
    file "preseed.cfg" template="preseed.cfg"
}
profile "arm" { kernel "arm"; initrd "i"; }
profile "disk" { exit; }
host "web1" mac="52:54:00:20:00:01" profile="inst"
host "pi" mac="dc:a6:32:00:00:01" profile="arm"
default profile="disk"
"#;
        match Loaded::compile_text(
            &dir.join("fleet.kdl"),
            text.into(),
            dir,
            &ServerOverrides::default(),
        ) {
            Ok(l) => l,
            Err(e) => panic!("{e}"),
        }
    }

    fn plan(loaded: &Loaded, dir: &Path, machine: &str, firmware: Firmware) -> Case {
        let m = &loaded.manifest;
        let arch = |route: &str| super::super::kernel_arch(m, dir, route);
        let files = Files { kernel_arch: &arch };
        let mac = match m.hosts.iter().find(|(_, h)| h.name == machine) {
            Some((mac, _)) => *mac,
            None => unknown_mac(m),
        };
        case(loaded, &files, machine, mac, firmware)
    }

    #[test]
    fn an_installer_is_expected_to_fetch_its_answer_file_after_its_initrd() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = fleet(dir.path());
        let c = plan(&loaded, dir.path(), "web1", Firmware::UefiPxe);
        let roles: Vec<String> = c
            .steps
            .iter()
            .map(|s| match s {
                Expect::Dhcp { kind } => format!("dhcp {kind}"),
                Expect::File { role, route, .. } => format!("{role} {route}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(roles[..3], ["dhcp efi-x64", "loader ipxe.efi", "dhcp ipxe"]);
        let tail: Vec<&str> = roles[roles.len() - 3..]
            .iter()
            .map(|r| &r[..r.find(' ').unwrap()])
            .collect();
        assert_eq!(tail, ["kernel", "initrd", "answer"], "{roles:?}");
        assert_eq!(roles.last().unwrap(), "answer file m/web1/preseed.cfg");
        assert_eq!(c.end, End::Boots);
        assert_eq!(c.menu_seconds, 0, "no menu on the way");
        // The compiler's kernel line names its initrd: no warning about `initrd=`.
        assert!(c.notes.is_empty(), "{:?}", c.notes);
        assert!(c.skipped.is_none() && c.unbootable.is_none());
    }

    /// A Secure Boot host, a plain one, and an unknown machine through Secure Boot's menu.
    fn secure_boot_fleet(dir: &Path) -> Loaded {
        // At their real lengths, so a signature's certificate table is inside the file
        // (shim's head stands in for signed GRUB too).
        heads(
            dir,
            &[
                ("ipxe.efi.head", "ipxe.efi", Some(850_528)),
                ("shimx64.efi.signed.head", "shimx64.efi", Some(1_048_504)),
                ("shimx64.efi.signed.head", "grubx64.efi", Some(1_048_504)),
                ("vmlinuz-6.1.0-57-amd64.head", "vmlinuz", Some(8_247_232)),
                ("initrd.img.head", "initrd.img", Some(1_028_285)),
            ],
        );
        let text = r#"
server { address "10.77.0.1"; }
loaders {
    efi-x64 "ipxe.efi"
    secure-boot { shim "shimx64.efi"; grub "grubx64.efi"; }
}
artifact "k" path="vmlinuz"
artifact "i" path="initrd.img"
profile "signed" { kernel "k"; initrd "i"; cmdline "console=ttyS0"; }
profile "disk" { exit; }
menu "main" {
    timeout 2
    default "disk"
    item "signed" "Signed kernel"
    item "disk" "Local disk"
}
host "secure" mac="52:54:00:5b:00:01" profile="signed" secure-boot=#true
host "plain" mac="52:54:00:5b:00:02" profile="signed"
default menu="main" secure-boot=#true
"#;
        match Loaded::compile_text(
            &dir.join("fleet.kdl"),
            text.into(),
            dir,
            &ServerOverrides::default(),
        ) {
            Ok(l) => l,
            Err(e) => panic!("{e}"),
        }
    }

    fn routes(c: &Case) -> Vec<String> {
        c.steps
            .iter()
            .map(|s| match s {
                Expect::Dhcp { kind } => format!("dhcp {kind}"),
                Expect::File { role, route, .. } => format!("{role} {route}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_secure_boot_machine_is_expected_through_shim_grub_and_its_grub_config() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = secure_boot_fleet(dir.path());
        for firmware in [Firmware::UefiSecureBoot, Firmware::UefiPxe] {
            let c = plan(&loaded, dir.path(), "secure", firmware);
            assert_eq!(
                routes(&c),
                [
                    "dhcp efi-x64",
                    "loader sb/shimx64.efi",
                    "GRUB sb/grubx64.efi",
                    "script grub/grub.cfg",
                    "script grub/hosts/52:54:00:5b:00:01.cfg",
                    "kernel artifacts/k",
                    "initrd artifacts/i",
                ],
                "{firmware}"
            );
            assert_eq!(c.end, End::Boots);
            // GRUB hands the initrd over itself: no word about `initrd=`.
            assert!(c.notes.is_empty(), "{:?}", c.notes);
        }
        // The unknown machine: GRUB's default config, whose menu default exits.
        let c = plan(&loaded, dir.path(), "default", Firmware::UefiSecureBoot);
        assert_eq!(routes(&c).last().unwrap(), "script grub/default.cfg");
        assert_eq!(c.end, End::Exits);
        assert_eq!(c.menu_seconds, 2);
        // A machine the fleet boots through iPXE is not tried under Secure Boot.
        let c = plan(&loaded, dir.path(), "plain", Firmware::UefiSecureBoot);
        assert!(
            c.skipped.as_deref().unwrap_or_default().contains("iPXE"),
            "{c:?}"
        );
        assert_eq!(
            routes(&plan(&loaded, dir.path(), "plain", Firmware::UefiPxe))[1],
            "loader ipxe.efi"
        );
    }

    #[test]
    fn an_arm64_machine_is_skipped_with_the_reason_and_an_x86_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = fleet(dir.path());
        for firmware in [Firmware::Bios, Firmware::UefiPxe] {
            let c = plan(&loaded, dir.path(), "pi", firmware);
            let why = c.skipped.unwrap_or_default();
            assert!(
                why.contains("arm64 kernel") && why.contains("x86 VMs only"),
                "{why}"
            );
            assert!(plan(&loaded, dir.path(), "default", firmware)
                .skipped
                .is_none());
        }
    }
}
