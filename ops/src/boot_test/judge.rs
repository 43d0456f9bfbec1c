//! The verdict on one VM's boot, from the server's own record of what the machine did: a pure
//! function of the expected steps, the events recorded for the machine since its VM started,
//! and its console, so every rule is a unit test over hand-made events.
//!
//! A machine booted when every step happened in order (each file delivered completely) and it
//! then stopped asking; a machine whose chain ends in `exit` booted once its scripts were
//! fetched. It failed at the first step that never happened: when it started over (DHCP again
//! after a file), powered off, stopped asking, or ran out of time. Two console lines fail a
//! boot the server cannot see fail: a kernel panic, and iPXE's "Could not boot".

use std::time::Duration;

use netboot_manifest::ClientKind;
use netboot_runtime::status::Event;

use super::plan::{End, Expect, ANSWER_FILE};

/// What the VM has done so far.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    /// The server's events for this machine, with their time since the VM started.
    pub events: &'a [(Duration, Event)],
    /// Time since the VM started.
    pub now: Duration,
    /// A transfer to this machine is in flight.
    pub busy: bool,
    /// QEMU has ended (the guest powered off).
    pub ended: bool,
    /// The serial console so far.
    pub console: &'a str,
}

/// How long to wait for what.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Quiet this long after the last step: the machine booted.
    pub quiet: Duration,
    /// Quiet this long with a step missing: the machine gave up.
    pub stall: Duration,
    pub timeout: Duration,
    /// A text the console must show before the boot counts.
    pub expect_console: Option<String>,
}

/// Where a boot stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Running,
    Passed,
    Failed(Failure),
}

/// The step that never happened, and what happened instead.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    pub step: String,
    pub why: String,
}

/// The verdict, and how many of the steps happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub verdict: Verdict,
    pub done: usize,
}

/// Console lines that mean the boot failed where the server cannot see it.
const FATAL_CONSOLE: &[&str] = &["Kernel panic - not syncing", "Could not boot"];

pub fn judge(steps: &[Expect], end: End, seen: Seen, rules: &Rules) -> Judgement {
    let events = seen.events;
    let mut at = 0;
    let mut done = 0;
    let mut last_file = None;
    for step in steps {
        let Some(j) = (at..events.len()).find(|&j| satisfies(step, &events[j].1)) else {
            break;
        };
        if !matches!(step, Expect::Dhcp { .. }) {
            last_file = Some(j);
        }
        at = j + 1;
        done += 1;
    }
    let failed = |step: String, why: String| Judgement {
        verdict: Verdict::Failed(Failure { step, why }),
        done,
    };
    let next = steps.get(done).map(Expect::describe);
    let last_event = events.last().map(|(t, _)| *t);
    let quiet_for = last_event.map(|t| seen.now.saturating_sub(t));

    if let Some(line) = fatal_line(seen.console) {
        let step = next.unwrap_or_else(|| after_the_last_file(steps, line));
        return failed(step, format!("the console shows: {line}"));
    }

    if let Some(step) = next {
        let missing = &steps[done];
        let trouble = trouble_with(missing, &events[at..]);
        // DHCP after a file means the machine started over; after a DHCP step it is the rest
        // of the same exchange (OFFER then ACK, a UEFI client's port 4011 request).
        let after_file = done > 0 && last_file == at.checked_sub(1);
        if after_file {
            let again = events[at..]
                .iter()
                .find(|(_, e)| matches!(e, Event::Dhcp(_)));
            if let Some((t, _)) = again {
                return failed(
                    step,
                    format!(
                        "the machine started over instead: DHCP again at {}{trouble}",
                        secs(*t)
                    ),
                );
            }
        }
        if seen.ended {
            return failed(step, format!("the VM powered off first{trouble}"));
        }
        if seen.now >= rules.timeout {
            return failed(step, format!("not within {}{trouble}", secs(rules.timeout)));
        }
        // A kernel that is booting asks for nothing until its own network is up: an installer
        // under emulation may take minutes to get to its answer file, so only the timeout
        // ends that wait.
        let booting = matches!(missing, Expect::File { role, .. } if role == ANSWER_FILE);
        if !booting && !seen.busy && quiet_for.is_some_and(|q| q >= rules.stall) {
            return failed(
                step,
                format!(
                    "the machine stopped asking: nothing for {} after its last request{trouble}",
                    secs(rules.stall)
                ),
            );
        }
        return Judgement {
            verdict: Verdict::Running,
            done,
        };
    }

    if end == End::Exits {
        return Judgement {
            verdict: Verdict::Passed,
            done,
        };
    }
    if let Some((t, e)) = events[at..].first() {
        return failed(
            "no more requests once booted".into(),
            format!(
                "it asked again at {} ({}): what it was given did not take over",
                secs(*t),
                describe_event(e)
            ),
        );
    }
    let settled = seen.ended || (!seen.busy && quiet_for.is_some_and(|q| q >= rules.quiet));
    if let Some(text) = &rules.expect_console {
        if !seen.console.contains(text.as_str()) {
            if seen.ended || seen.now >= rules.timeout {
                return failed(
                    format!("the console showing {text:?}"),
                    "every file was delivered, but the console never showed it".into(),
                );
            }
            return Judgement {
                verdict: Verdict::Running,
                done,
            };
        }
        // The text is the proof asked for: no need to wait for quiet.
        return Judgement {
            verdict: Verdict::Passed,
            done,
        };
    }
    if settled {
        return Judgement {
            verdict: Verdict::Passed,
            done,
        };
    }
    if seen.now >= rules.timeout {
        return failed(
            "no more requests once booted".into(),
            format!("still busy after {}", secs(rules.timeout)),
        );
    }
    Judgement {
        verdict: Verdict::Running,
        done,
    }
}

fn satisfies(step: &Expect, event: &Event) -> bool {
    match (step, event) {
        (Expect::Dhcp { kind }, Event::Dhcp(a)) => a.kind == *kind,
        (Expect::File { route, size, .. }, Event::Transfer(t)) => {
            t.file == *route && t.error.is_none() && t.bytes >= *size
        }
        (Expect::Ranges { route }, Event::Transfer(t)) => t.file == *route && t.error.is_none(),
        _ => false,
    }
}

/// What the server saw go wrong with the missing step's file, as `: …` to append.
fn trouble_with(step: &Expect, events: &[(Duration, Event)]) -> String {
    let route = match step {
        Expect::File { route, .. } | Expect::Ranges { route } => route,
        Expect::Dhcp {
            kind: ClientKind::Ipxe,
        } => return "; iPXE never asked (did the loader start?)".into(),
        _ => return String::new(),
    };
    let last = events.iter().rev().find_map(|(t, e)| match e {
        Event::Transfer(x) if x.file == *route => Some((*t, e)),
        Event::Refused(x) if x.file.trim_start_matches('/') == route => Some((*t, e)),
        _ => None,
    });
    match last {
        Some((t, e)) => format!("; at {} {}", secs(t), describe_event(e)),
        None => format!("; it never asked for {route}"),
    }
}

/// The step the server cannot see that a fatal console line says never happened, once every
/// file was delivered: a kernel that looked for a root file system did not get its initrd
/// (under UEFI, the usual cause is a kernel line without `initrd=`).
fn after_the_last_file(steps: &[Expect], line: &str) -> String {
    let initrd = steps.iter().rev().find_map(|s| match s {
        Expect::File { role, route, .. } if role == "initrd" => Some(route),
        _ => None,
    });
    match initrd {
        Some(route) if line.contains("Unable to mount root fs") => {
            format!("the kernel using its initrd {route}")
        }
        _ => "what it booted running".into(),
    }
}

fn fatal_line(console: &str) -> Option<&str> {
    console
        .lines()
        .find(|l| FATAL_CONSOLE.iter().any(|f| l.contains(f)))
        .map(|l| l.trim_matches(|c: char| c.is_whitespace() || c.is_control()))
}

/// One event as the server saw it, for failures and the per-machine server lines.
pub fn describe_event(e: &Event) -> String {
    match e {
        Event::Dhcp(a) => format!("DHCP answer to its {} client: {}", a.kind, a.file),
        Event::Transfer(t) => match &t.error {
            None => format!(
                "{} {} delivered ({} bytes)",
                proto(t.protocol),
                t.file,
                t.bytes
            ),
            Some(err) => format!(
                "{} {} broke off after {} bytes: {err}",
                proto(t.protocol),
                t.file,
                t.bytes
            ),
        },
        Event::Refused(r) => format!("{} {} refused: {}", proto(r.protocol), r.file, r.reason),
        Event::Reload(_) => "reload".into(),
    }
}

fn proto(p: netboot_manifest::Protocol) -> &'static str {
    match p {
        netboot_manifest::Protocol::Tftp => "TFTP",
        netboot_manifest::Protocol::Http => "HTTP",
    }
}

pub fn secs(d: Duration) -> String {
    format!("+{:.1} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use netboot_manifest::{MacAddr, Protocol};
    use std::net::{IpAddr, Ipv4Addr};

    const MAC: MacAddr = MacAddr([0x52, 0x54, 0, 0xe2, 0xe0, 1]);
    const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 77, 0, 100));

    fn s(n: f64) -> Duration {
        Duration::from_secs_f64(n)
    }

    fn dhcp(kind: ClientKind) -> Event {
        Event::dhcp(MAC, Ipv4Addr::new(10, 77, 0, 100), kind, "x")
    }

    fn got(file: &str, bytes: u64) -> Event {
        Event::done(Protocol::Http, IP, file, bytes, s(0.1))
    }

    fn file(role: &str, route: &str, size: u64) -> Expect {
        Expect::File {
            role: role.into(),
            route: route.into(),
            size,
        }
    }

    /// UEFI PXE: firmware DHCP, loader, iPXE DHCP, host script, kernel, initrd.
    fn uefi_kernel() -> Vec<Expect> {
        vec![
            Expect::Dhcp {
                kind: ClientKind::EfiX64,
            },
            file("loader", "ipxe.efi", 1000),
            Expect::Dhcp {
                kind: ClientKind::Ipxe,
            },
            file("script", "hosts/52-54-00-e2-e0-01.ipxe", 200),
            file("kernel", "artifacts/vmlinuz", 8000),
            file("initrd", "artifacts/initrd.img", 3000),
        ]
    }

    fn full_boot() -> Vec<(Duration, Event)> {
        vec![
            (s(3.0), dhcp(ClientKind::EfiX64)),
            (s(3.1), dhcp(ClientKind::EfiX64)),
            (s(5.0), got("ipxe.efi", 1000)),
            (s(8.0), dhcp(ClientKind::Ipxe)),
            (s(8.2), got("hosts/52-54-00-e2-e0-01.ipxe", 200)),
            (s(9.0), got("artifacts/vmlinuz", 8000)),
            (s(9.5), got("artifacts/initrd.img", 3000)),
        ]
    }

    fn rules() -> Rules {
        Rules {
            quiet: s(10.0),
            stall: s(30.0),
            timeout: s(300.0),
            expect_console: None,
        }
    }

    fn seen<'a>(events: &'a [(Duration, Event)], now: f64) -> Seen<'a> {
        Seen {
            events,
            now: s(now),
            busy: false,
            ended: false,
            console: "",
        }
    }

    #[test]
    fn every_file_delivered_then_quiet_is_a_boot() {
        let events = full_boot();
        let j = judge(&uefi_kernel(), End::Boots, seen(&events, 20.0), &rules());
        assert_eq!(j.verdict, Verdict::Passed);
        assert_eq!(j.done, 6);
        // Not yet quiet long enough: still running.
        let j = judge(&uefi_kernel(), End::Boots, seen(&events, 12.0), &rules());
        assert_eq!(j.verdict, Verdict::Running);
        // A VM that powered off after its last file needs no quiet period.
        let off = Seen {
            ended: true,
            ..seen(&events, 10.0)
        };
        assert_eq!(
            judge(&uefi_kernel(), End::Boots, off, &rules()).verdict,
            Verdict::Passed
        );
    }

    #[test]
    fn a_kernel_that_is_not_a_kernel_shows_as_the_machine_asking_again() {
        let mut events = full_boot();
        events.push((s(15.0), dhcp(ClientKind::EfiX64)));
        let j = judge(&uefi_kernel(), End::Boots, seen(&events, 16.0), &rules());
        let Verdict::Failed(f) = j.verdict else {
            panic!("{j:?}")
        };
        assert_eq!(f.step, "no more requests once booted");
        assert!(f.why.contains("asked again at +15.0 s"), "{}", f.why);
        assert!(f.why.contains("did not take over"), "{}", f.why);
    }

    #[test]
    fn a_partial_download_names_the_file_and_where_it_broke_off() {
        let mut events = full_boot();
        events.truncate(5);
        events.push((
            s(9.0),
            Event::failed(
                Protocol::Http,
                IP,
                "artifacts/vmlinuz",
                4000,
                s(1.0),
                "connection reset",
            ),
        ));
        events.push((s(12.0), dhcp(ClientKind::EfiX64)));
        let j = judge(&uefi_kernel(), End::Boots, seen(&events, 13.0), &rules());
        assert_eq!(j.done, 4);
        let Verdict::Failed(f) = j.verdict else {
            panic!("{j:?}")
        };
        assert_eq!(
            f.step,
            "the kernel artifacts/vmlinuz (8000 bytes) downloaded completely"
        );
        assert!(
            f.why
                .contains("started over instead: DHCP again at +12.0 s"),
            "{}",
            f.why
        );
        assert!(
            f.why
                .contains("broke off after 4000 bytes: connection reset"),
            "{}",
            f.why
        );
    }

    #[test]
    fn a_machine_that_goes_quiet_with_a_step_missing_stopped_asking() {
        let mut events = full_boot();
        events.truncate(3);
        // Still within the stall allowance, or a transfer in flight: running.
        let j = judge(&uefi_kernel(), End::Boots, seen(&events, 20.0), &rules());
        assert_eq!(j.verdict, Verdict::Running);
        let busy = Seen {
            busy: true,
            ..seen(&events, 60.0)
        };
        assert_eq!(
            judge(&uefi_kernel(), End::Boots, busy, &rules()).verdict,
            Verdict::Running
        );
        let j = judge(&uefi_kernel(), End::Boots, seen(&events, 60.0), &rules());
        let Verdict::Failed(f) = j.verdict else {
            panic!("{j:?}")
        };
        assert_eq!(f.step, "a DHCP answer for its ipxe client");
        assert!(f.why.contains("iPXE never asked"), "{}", f.why);
    }

    #[test]
    fn the_rest_of_a_dhcp_exchange_is_not_starting_over() {
        let mut events = full_boot();
        events.truncate(4);
        // iPXE's OFFER, then its ACK: both recorded, neither a restart.
        events.push((s(8.1), dhcp(ClientKind::Ipxe)));
        let j = judge(&uefi_kernel(), End::Boots, seen(&events, 9.0), &rules());
        assert_eq!(j.verdict, Verdict::Running);
        assert_eq!(j.done, 3);
    }

    #[test]
    fn a_firmware_that_never_asks_fails_at_the_timeout_only() {
        let j = judge(&uefi_kernel(), End::Boots, seen(&[], 299.0), &rules());
        assert_eq!(j.verdict, Verdict::Running);
        let j = judge(&uefi_kernel(), End::Boots, seen(&[], 300.0), &rules());
        let Verdict::Failed(f) = j.verdict else {
            panic!("{j:?}")
        };
        assert_eq!(f.step, "a DHCP answer for its efi-x64 client");
        assert_eq!(f.why, "not within +300.0 s");
    }

    #[test]
    fn a_url_outside_the_fleet_is_the_step_named_when_the_machine_gives_up() {
        let steps = vec![
            Expect::Dhcp {
                kind: ClientKind::Ipxe,
            },
            file("script", "boot.ipxe", 100),
            file("script", "menus/main.ipxe", 100),
            Expect::Outside {
                role: "chain".into(),
                url: "http://192.0.2.1/gone.ipxe".into(),
            },
        ];
        let events = vec![
            (s(2.0), dhcp(ClientKind::Ipxe)),
            (s(2.5), got("boot.ipxe", 100)),
            (s(3.0), got("menus/main.ipxe", 100)),
            (s(40.0), dhcp(ClientKind::Ipxe)),
        ];
        let j = judge(&steps, End::Boots, seen(&events, 41.0), &rules());
        let Verdict::Failed(f) = j.verdict else {
            panic!("{j:?}")
        };
        assert!(
            f.step.starts_with("the chain http://192.0.2.1/gone.ipxe"),
            "{}",
            f.step
        );
        assert!(f.why.contains("DHCP again at +40.0 s"), "{}", f.why);
    }

    #[test]
    fn a_kernel_panic_on_the_console_fails_a_boot_the_server_saw_complete() {
        let events = full_boot();
        let panicked = Seen {
            console: "[    2.1] Kernel panic - not syncing: VFS: Unable to mount root fs\r\n",
            ..seen(&events, 20.0)
        };
        let j = judge(&uefi_kernel(), End::Boots, panicked, &rules());
        let Verdict::Failed(f) = j.verdict else {
            panic!("{j:?}")
        };
        // No root file system: the kernel never got the initrd the server delivered.
        assert_eq!(f.step, "the kernel using its initrd artifacts/initrd.img");
        assert!(
            f.why
                .ends_with("Kernel panic - not syncing: VFS: Unable to mount root fs"),
            "{}",
            f.why
        );
        // Any other panic is no more precise than "it did not run".
        let oops = Seen {
            console: "Kernel panic - not syncing: Attempted to kill init!\n",
            ..seen(&events, 20.0)
        };
        let Verdict::Failed(f) = judge(&uefi_kernel(), End::Boots, oops, &rules()).verdict else {
            panic!("a panic is a failure")
        };
        assert_eq!(f.step, "what it booted running");
    }

    #[test]
    fn the_console_text_asked_for_is_the_proof_of_the_boot() {
        let events = full_boot();
        let rules = Rules {
            expect_console: Some("NETBOOT-E2E-OK".into()),
            ..rules()
        };
        let j = judge(&uefi_kernel(), End::Boots, seen(&events, 20.0), &rules);
        assert_eq!(j.verdict, Verdict::Running);
        let off = Seen {
            ended: true,
            ..seen(&events, 20.0)
        };
        let Verdict::Failed(f) = judge(&uefi_kernel(), End::Boots, off, &rules).verdict else {
            panic!("no failure")
        };
        assert_eq!(f.step, "the console showing \"NETBOOT-E2E-OK\"");
        let shown = Seen {
            console: "NETBOOT-E2E-OK cmdline=x\n",
            ..seen(&events, 10.0)
        };
        assert_eq!(
            judge(&uefi_kernel(), End::Boots, shown, &rules).verdict,
            Verdict::Passed
        );
    }

    #[test]
    fn an_exit_profile_passes_once_its_scripts_came_even_if_the_firmware_tries_again() {
        let steps = vec![
            Expect::Dhcp {
                kind: ClientKind::Ipxe,
            },
            file("script", "boot.ipxe", 100),
        ];
        let events = vec![
            (s(2.0), dhcp(ClientKind::Ipxe)),
            (s(2.5), got("boot.ipxe", 100)),
            (s(9.0), dhcp(ClientKind::Ipxe)),
        ];
        let j = judge(&steps, End::Exits, seen(&events, 9.5), &rules());
        assert_eq!(j.verdict, Verdict::Passed);
    }

    /// An installer: kernel and initrd from iPXE, then the installed kernel's own DHCP (no
    /// boot answer, so the server records none) and its answer file, then quiet (no mirror).
    #[test]
    fn an_installer_is_waited_for_until_it_fetches_its_answer_file() {
        let mut steps = uefi_kernel();
        steps.push(file(ANSWER_FILE, "m/web1/preseed.cfg", 1300));
        let mut events = full_boot();
        // Minutes of a booting kernel with nothing asked: not a machine that gave up.
        let j = judge(&steps, End::Boots, seen(&events, 150.0), &rules());
        assert_eq!(j.verdict, Verdict::Running);
        assert_eq!(j.done, 6);
        events.push((s(160.0), got("m/web1/preseed.cfg", 1300)));
        let j = judge(&steps, End::Boots, seen(&events, 165.0), &rules());
        assert_eq!(j.verdict, Verdict::Running, "not yet quiet");
        let j = judge(&steps, End::Boots, seen(&events, 171.0), &rules());
        assert_eq!(j.verdict, Verdict::Passed);
        // Never asked: the timeout names the answer file.
        events.pop();
        let j = judge(&steps, End::Boots, seen(&events, 300.0), &rules());
        let Verdict::Failed(f) = j.verdict else {
            panic!("{j:?}")
        };
        assert!(
            f.step.starts_with("the answer file m/web1/preseed.cfg"),
            "{}",
            f.step
        );
        assert!(
            f.why.contains("it never asked for m/web1/preseed.cfg"),
            "{}",
            f.why
        );
    }
}
