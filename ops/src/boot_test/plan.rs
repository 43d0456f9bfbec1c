//! What each VM must be seen to do: the steps of one machine's chain on one firmware, from the
//! fleet's own DHCP answers and scripts (followed by the compiler's `ipxe_follow`, as
//! `netboot explain` follows them), with a menu's default item standing in for the whole menu.
//! Pure over a loaded fleet, so it needs no network.

use netboot_compiler::ipxe_follow::{self, Step};
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
    /// What was chosen on the machine's behalf (a menu's default item).
    pub notes: Vec<String>,
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
pub fn case(loaded: &Loaded, machine: &str, mac: MacAddr, firmware: Firmware) -> Case {
    let m = &loaded.manifest;
    let mut case = Case {
        name: format!("{machine}-{firmware}"),
        machine: machine.to_string(),
        mac,
        firmware,
        steps: Vec::new(),
        end: End::Boots,
        unbootable: None,
        notes: Vec::new(),
    };
    let first = first_client(firmware);
    case.steps.push(Expect::Dhcp { kind: first });
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
    walk(&steps, m, &mut case);
    case
}

fn file(m: &Manifest, role: &str, route: &str) -> Expect {
    Expect::File {
        role: role.to_string(),
        route: route.to_string(),
        size: m.files.get(route).map_or(0, |f| f.size),
    }
}

/// Appends what the machine does along `steps`; a menu goes down its default item.
fn walk(steps: &[Step], m: &Manifest, case: &mut Case) {
    for step in steps {
        match step {
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
                walk(&item.steps, m, case);
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
