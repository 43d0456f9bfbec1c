//! A machine's events read as boot attempts: DHCP → loader → script → kernel → initrd.
//!
//! Nothing here knows the fleet; the stage of a file follows from the boot protocol itself:
//! - a file named `*.ipxe` is a script (the compiler names every script so);
//! - a file fetched before any script is the loader (iPXE itself), and so is the file a DHCP
//!   answer of this attempt named;
//! - after a script, the first other file is the kernel (iPXE scripts load it first, and a
//!   kernel line must come before `initrd`), every further one an initrd.
//!
//! An attempt starts at a DHCP answer once the current one got past DHCP, except that the
//! iPXE a loader just started asks DHCP again as part of the same boot: a DHCP answer for a
//! client kind `ipxe` continues an attempt that has not reached a kernel yet.

use std::time::{Duration, SystemTime};

use netboot_manifest::{ClientKind, Protocol};

use super::event::Event;
use super::recorder::{host_script_mac, Stamped};

/// The steps of a network boot, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    Dhcp,
    Loader,
    Script,
    Kernel,
    Initrd,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::Dhcp,
        Stage::Loader,
        Stage::Script,
        Stage::Kernel,
        Stage::Initrd,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Dhcp => "dhcp",
            Stage::Loader => "loader",
            Stage::Script => "script",
            Stage::Kernel => "kernel",
            Stage::Initrd => "initrd",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Stage::Dhcp => "DHCP",
            Stage::Loader => "Loader",
            Stage::Script => "Script",
            Stage::Kernel => "Kernel",
            Stage::Initrd => "Initrd",
        }
    }
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// A transfer broke off, or a request was refused: worth an operator's look.
    Failed(String),
    /// The machine's own host script is not in the fleet; iPXE falls back to the menu.
    NotListed,
    /// A file a loader looks for and goes on without: shim's revocation lists and extra
    /// certificate, GRUB's module lists (Secure Boot chain).
    OptionalAbsent,
}

/// One step of an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub stage: Stage,
    pub at: SystemTime,
    /// Since the attempt started.
    pub offset: Duration,
    /// The file fetched, or for DHCP the boot file the answer named.
    pub file: String,
    pub protocol: Option<Protocol>,
    /// For DHCP: the kind of client answered.
    pub kind: Option<ClientKind>,
    pub bytes: Option<u64>,
    pub duration: Option<Duration>,
    pub user_agent: Option<String>,
    pub outcome: Outcome,
    /// Identical DHCP answers in a row (firmware retries) count here instead of as new steps.
    pub repeats: u32,
}

/// One boot of one machine, as far as it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub started: SystemTime,
    pub steps: Vec<Step>,
}

impl Attempt {
    pub fn stage(&self, stage: Stage) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(move |s| s.stage == stage)
    }

    /// The furthest stage with a step that went well.
    pub fn reached(&self) -> Option<Stage> {
        self.steps
            .iter()
            .filter(|s| s.outcome == Outcome::Ok)
            .map(|s| s.stage)
            .max()
    }

    pub fn errors(&self) -> impl Iterator<Item = &Step> {
        self.steps
            .iter()
            .filter(|s| matches!(s.outcome, Outcome::Failed(_)))
    }

    fn has(&self, stage: Stage) -> bool {
        self.stage(stage).next().is_some()
    }
}

/// Splits events (oldest first) into attempts (oldest first). Reloads are not machine events
/// and are skipped.
pub fn attempts<'a>(events: impl IntoIterator<Item = &'a Stamped>) -> Vec<Attempt> {
    let mut out: Vec<Attempt> = Vec::new();
    for stamped in events {
        let starts_new = match (&stamped.event, out.last()) {
            (Event::Reload(_), _) => continue,
            (_, None) => true,
            (Event::Dhcp(a), Some(current)) => {
                let past_dhcp = current.steps.iter().any(|s| s.stage != Stage::Dhcp);
                let ipxe_continues = a.kind == ClientKind::Ipxe
                    && !current.has(Stage::Kernel)
                    && !current.has(Stage::Initrd);
                past_dhcp && !ipxe_continues
            }
            (_, Some(_)) => false,
        };
        if starts_new {
            out.push(Attempt {
                started: stamped.at,
                steps: Vec::new(),
            });
        }
        if let Some(current) = out.last_mut() {
            add(current, stamped);
        }
    }
    out
}

fn add(attempt: &mut Attempt, stamped: &Stamped) {
    let offset = stamped
        .at
        .duration_since(attempt.started)
        .unwrap_or_default();
    let step = match &stamped.event {
        Event::Reload(_) => return,
        Event::Dhcp(a) => {
            if let Some(last) = attempt.steps.last_mut() {
                if last.stage == Stage::Dhcp && last.kind == Some(a.kind) && last.file == a.file {
                    last.repeats += 1;
                    return;
                }
            }
            Step {
                stage: Stage::Dhcp,
                at: stamped.at,
                offset,
                file: a.file.clone(),
                protocol: None,
                kind: Some(a.kind),
                bytes: None,
                duration: None,
                user_agent: None,
                outcome: Outcome::Ok,
                repeats: 1,
            }
        }
        Event::Transfer(t) => Step {
            stage: stage_of(attempt, &t.file),
            at: stamped.at,
            offset,
            file: t.file.clone(),
            protocol: Some(t.protocol),
            kind: None,
            bytes: Some(t.bytes),
            duration: Some(t.duration),
            user_agent: t.user_agent.clone(),
            outcome: t
                .error
                .as_ref()
                .map_or(Outcome::Ok, |e| Outcome::Failed(e.clone())),
            repeats: 1,
        },
        Event::Refused(r) => {
            let file = r.file.trim_start_matches('/').to_string();
            let outcome = if host_script_mac(&file).is_some() {
                Outcome::NotListed
            } else if optional_probe(&file) {
                Outcome::OptionalAbsent
            } else {
                Outcome::Failed(format!("refused: {}", r.reason))
            };
            Step {
                stage: stage_of(attempt, &file),
                at: stamped.at,
                offset,
                file,
                protocol: Some(r.protocol),
                kind: None,
                bytes: None,
                duration: None,
                user_agent: r.user_agent.clone(),
                outcome,
                repeats: 1,
            }
        }
    };
    attempt.steps.push(step);
}

/// Files shim and signed GRUB ask for on every boot and do without (seen in the lab): shim's
/// `revocations_sku.efi`, `revocations_sbat.efi` and `shim_certificate_0.efi` from its own
/// directory, GRUB's `/grub/x86_64-efi/*.lst`.
fn optional_probe(file: &str) -> bool {
    let path = file.split(['?', '#']).next().unwrap_or(file);
    let name = path.rsplit('/').next().unwrap_or(path);
    let shim = matches!(
        name,
        "revocations_sku.efi" | "revocations_sbat.efi" | "shim_certificate_0.efi"
    );
    shim || (path.starts_with("grub/") && name.ends_with(".lst"))
}

fn stage_of(attempt: &Attempt, file: &str) -> Stage {
    let path = file.split(['?', '#']).next().unwrap_or(file);
    // iPXE scripts, and on Secure Boot machines GRUB's configs (GRUB asks for `/grub/…`).
    let grub_config = path.trim_start_matches('/').starts_with("grub/") && path.ends_with(".cfg");
    if path.ends_with(".ipxe") || grub_config {
        return Stage::Script;
    }
    let named_by_dhcp = attempt
        .stage(Stage::Dhcp)
        .any(|d| d.file == path || d.file.ends_with(&format!("/{path}")));
    if named_by_dhcp || !attempt.has(Stage::Script) {
        return Stage::Loader;
    }
    let kernel = attempt.stage(Stage::Kernel).next();
    match kernel {
        None => Stage::Kernel,
        // A retried kernel is still the kernel.
        Some(k) if k.file == path => Stage::Kernel,
        Some(_) => Stage::Initrd,
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::UNIX_EPOCH;

    use netboot_manifest::MacAddr;

    use super::*;

    const MAC: MacAddr = MacAddr([0x52, 0x54, 0, 0xe2, 0xe0, 1]);

    fn ip() -> IpAddr {
        Ipv4Addr::new(10, 77, 1, 50).into()
    }

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000) + Duration::from_millis(ms)
    }

    fn dhcp(kind: ClientKind, file: &str) -> Event {
        Event::dhcp(MAC, Ipv4Addr::UNSPECIFIED, kind, file)
    }

    fn get(protocol: Protocol, file: &str, bytes: u64) -> Event {
        Event::done(protocol, ip(), file, bytes, Duration::from_millis(10))
    }

    fn stamp(events: Vec<Event>) -> Vec<Stamped> {
        events
            .into_iter()
            .enumerate()
            .map(|(i, event)| Stamped {
                at: at(i as u64 * 1000),
                event,
            })
            .collect()
    }

    fn stages(a: &Attempt) -> Vec<(Stage, &str)> {
        a.steps.iter().map(|s| (s.stage, s.file.as_str())).collect()
    }

    #[test]
    fn bios_pxe_chain_is_one_attempt_through_every_stage() {
        let url = "http://10.77.1.2:8080/boot.ipxe";
        let events = stamp(vec![
            dhcp(ClientKind::Bios, "undionly.kpxe"),
            dhcp(ClientKind::Bios, "undionly.kpxe"),
            get(Protocol::Tftp, "undionly.kpxe", 70_000),
            dhcp(ClientKind::Ipxe, url),
            get(Protocol::Http, "boot.ipxe", 300),
            get(Protocol::Http, "hosts/52-54-00-e2-e0-01.ipxe", 200),
            get(Protocol::Http, "artifacts/kernel", 5_000_000),
            get(Protocol::Http, "artifacts/initrd", 1_000_000),
        ]);
        let all = attempts(&events);
        assert_eq!(all.len(), 1);
        let a = &all[0];
        assert_eq!(
            stages(a),
            [
                (Stage::Dhcp, "undionly.kpxe"),
                (Stage::Loader, "undionly.kpxe"),
                (Stage::Dhcp, url),
                (Stage::Script, "boot.ipxe"),
                (Stage::Script, "hosts/52-54-00-e2-e0-01.ipxe"),
                (Stage::Kernel, "artifacts/kernel"),
                (Stage::Initrd, "artifacts/initrd"),
            ]
        );
        assert_eq!(
            a.steps[0].repeats, 2,
            "the retried DISCOVER folds into one step"
        );
        assert_eq!(a.reached(), Some(Stage::Initrd));
        assert_eq!(a.steps[5].offset, Duration::from_secs(6));
        assert_eq!(a.steps[5].bytes, Some(5_000_000));
        assert_eq!(a.errors().count(), 0);
    }

    #[test]
    fn ipxe_rom_skips_the_loader_and_a_reboot_starts_a_new_attempt() {
        let url = "http://10.77.1.2:8080/boot.ipxe";
        let events = stamp(vec![
            dhcp(ClientKind::Ipxe, url),
            get(Protocol::Http, "boot.ipxe", 300),
            get(Protocol::Http, "kernel", 5),
            get(Protocol::Http, "initrd", 5),
            dhcp(ClientKind::Ipxe, url),
            get(Protocol::Http, "boot.ipxe", 300),
        ]);
        let all = attempts(&events);
        assert_eq!(all.len(), 2);
        assert!(!all[0].has(Stage::Loader));
        assert_eq!(all[0].reached(), Some(Stage::Initrd));
        assert_eq!(all[1].reached(), Some(Stage::Script));
        assert_eq!(all[1].started, at(4000));
    }

    #[test]
    fn http_boot_loader_is_matched_by_its_url_and_multiple_initrds_follow_the_kernel() {
        let events = stamp(vec![
            dhcp(ClientKind::HttpX64, "http://10.77.1.2:8080/ipxe.efi"),
            get(Protocol::Http, "ipxe.efi", 1_000_000),
            dhcp(ClientKind::Ipxe, "http://10.77.1.2:8080/boot.ipxe"),
            get(Protocol::Http, "profiles/winpe.ipxe", 1),
            get(Protocol::Http, "artifacts/wimboot", 1),
            get(Protocol::Http, "artifacts/bcd", 1),
            get(Protocol::Http, "artifacts/boot.wim", 1),
        ]);
        let all = attempts(&events);
        assert_eq!(all.len(), 1);
        let s: Vec<Stage> = all[0].steps.iter().map(|s| s.stage).collect();
        assert_eq!(
            s,
            [
                Stage::Dhcp,
                Stage::Loader,
                Stage::Dhcp,
                Stage::Script,
                Stage::Kernel,
                Stage::Initrd,
                Stage::Initrd
            ]
        );
    }

    #[test]
    fn failures_are_errors_but_a_missing_host_script_is_the_normal_fallback() {
        let events = stamp(vec![
            dhcp(ClientKind::Ipxe, "http://x/boot.ipxe"),
            get(Protocol::Http, "boot.ipxe", 300),
            Event::refused(
                Protocol::Http,
                ip(),
                "/hosts/52-54-00-e2-e0-01.ipxe",
                "404 not in the manifest",
            ),
            get(Protocol::Http, "menus/main.ipxe", 300),
            Event::failed(
                Protocol::Http,
                ip(),
                "kernel",
                4096,
                Duration::from_secs(3),
                "connection reset",
            ),
        ]);
        let all = attempts(&events);
        let a = &all[0];
        assert_eq!(a.steps[2].outcome, Outcome::NotListed);
        assert_eq!(a.steps[2].file, "hosts/52-54-00-e2-e0-01.ipxe");
        let errors: Vec<&Step> = a.errors().collect();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].stage, Stage::Kernel);
        assert_eq!(
            errors[0].outcome,
            Outcome::Failed("connection reset".into())
        );
        assert_eq!(a.reached(), Some(Stage::Script));
    }

    #[test]
    fn secure_boot_chain_shows_shim_and_grub_as_loaders_and_grub_configs_as_scripts() {
        let events = stamp(vec![
            dhcp(ClientKind::EfiX64, "sb/shimx64.efi"),
            get(Protocol::Tftp, "sb/shimx64.efi", 1_000_000),
            Event::refused(
                Protocol::Tftp,
                ip(),
                "sb/revocations_sbat.efi",
                "not in the manifest",
            ),
            get(Protocol::Tftp, "sb/grubx64.efi", 3_800_000),
            Event::refused(
                Protocol::Tftp,
                ip(),
                "/grub/x86_64-efi/command.lst",
                "not in the manifest",
            ),
            get(Protocol::Tftp, "grub/grub.cfg", 300),
            // An unknown machine: no config of its own, GRUB falls back to the default.
            Event::refused(
                Protocol::Tftp,
                ip(),
                "/grub/hosts/52:54:00:e2:e0:01.cfg",
                "not in the manifest",
            ),
            get(Protocol::Tftp, "grub/default.cfg", 500),
            get(Protocol::Tftp, "artifacts/linux", 8_000_000),
            get(Protocol::Tftp, "artifacts/initrd", 1_000_000),
        ]);
        let all = attempts(&events);
        assert_eq!(all.len(), 1);
        let a = &all[0];
        assert_eq!(
            stages(a),
            [
                (Stage::Dhcp, "sb/shimx64.efi"),
                (Stage::Loader, "sb/shimx64.efi"),
                (Stage::Loader, "sb/revocations_sbat.efi"),
                (Stage::Loader, "sb/grubx64.efi"),
                (Stage::Loader, "grub/x86_64-efi/command.lst"),
                (Stage::Script, "grub/grub.cfg"),
                (Stage::Script, "grub/hosts/52:54:00:e2:e0:01.cfg"),
                (Stage::Script, "grub/default.cfg"),
                (Stage::Kernel, "artifacts/linux"),
                (Stage::Initrd, "artifacts/initrd"),
            ]
        );
        assert_eq!(a.steps[2].outcome, Outcome::OptionalAbsent);
        assert_eq!(a.steps[4].outcome, Outcome::OptionalAbsent);
        assert_eq!(a.steps[6].outcome, Outcome::NotListed);
        assert_eq!(
            a.errors().count(),
            0,
            "shim's and GRUB's probes are no errors"
        );
        assert_eq!(a.reached(), Some(Stage::Initrd));
    }

    #[test]
    fn transfers_without_dhcp_still_form_an_attempt() {
        // Another DHCP server hands out the boot file (`serve --no-dhcp`).
        let events = stamp(vec![
            get(Protocol::Tftp, "undionly.kpxe", 1),
            get(Protocol::Http, "boot.ipxe", 1),
            get(Protocol::Http, "vmlinuz", 1),
            Event::reloaded(),
        ]);
        let all = attempts(&events);
        assert_eq!(all.len(), 1);
        let s: Vec<Stage> = all[0].steps.iter().map(|s| s.stage).collect();
        assert_eq!(s, [Stage::Loader, Stage::Script, Stage::Kernel]);
        assert!(attempts(&[]).is_empty());
    }
}
