//! Boots the cases: one VM per case on its own tap, polled until the judge decides, with the
//! server's events for its MAC, its console and a screenshot taken every few seconds (a guest
//! that powers off leaves its last screen behind). Cases of one MAC run one after another (two
//! NICs with one MAC on a bridge would confuse everyone); different MACs run in parallel.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use netboot_lab::private_net::Bridge;
use netboot_lab::vm::{Purpose, Vm, VmOptions};
use netboot_lab::Accel;
use netboot_manifest::MacAddr;
use netboot_runtime::in_flight::InFlight;
use netboot_runtime::status::{Event, Events, Machine};

use super::judge::{self, describe_event, secs, Failure, Rules, Seen, Verdict};
use super::plan::{Case, Expect, ANSWER_FILE};
use super::report::CaseResult;

/// What every VM shares.
pub struct Lab {
    pub events: Events,
    pub in_flight: InFlight,
    pub bridge: Mutex<Bridge>,
    pub accel: Accel,
    /// Where VMs keep their files while they run.
    pub work: PathBuf,
    /// Where evidence is copied (`--report DIR`).
    pub report: Option<PathBuf>,
    pub rules: Rules,
    /// Each case's timeout: the one given, else the firmware's.
    pub timeout: Option<Duration>,
}

const POLL: Duration = Duration::from_millis(500);
const SCREEN_EVERY: Duration = Duration::from_secs(3);
const CONSOLE_LINES: usize = 25;

/// Runs every case on up to `jobs` VMs at once; results in the cases' order.
pub fn run_all(lab: &Arc<Lab>, cases: Vec<Case>, jobs: usize) -> Vec<CaseResult> {
    let mut by_mac: BTreeMap<MacAddr, Vec<(usize, Case)>> = BTreeMap::new();
    for (i, c) in cases.into_iter().enumerate() {
        by_mac.entry(c.mac).or_default().push((i, c));
    }
    let groups: VecDeque<Vec<(usize, Case)>> = by_mac.into_values().collect();
    let workers = jobs.clamp(1, groups.len().max(1));
    let queue = Arc::new(Mutex::new(groups));
    let results = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let (lab, queue, results) = (Arc::clone(lab), Arc::clone(&queue), Arc::clone(&results));
            std::thread::spawn(move || loop {
                let group = queue
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .pop_front();
                let Some(group) = group else { return };
                for (i, case) in group {
                    let r = run_case(&lab, case);
                    results
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((i, r));
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    let mut results = std::mem::take(&mut *results.lock().unwrap_or_else(PoisonError::into_inner));
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

fn run_case(lab: &Lab, case: Case) -> CaseResult {
    let started = Instant::now();
    if let Some(why) = &case.skipped {
        tracing::warn!(target: "netboot::test", case = %case.name, reason = %why, "skipped");
        return finish(case, None, 0, started, Vec::new(), Vec::new(), None, None);
    }
    if let Some(why) = &case.unbootable {
        let failure = Failure {
            step: case.steps.last().map_or("a boot".into(), |s| s.describe()),
            why: format!("not booted: {why}"),
        };
        return finish(
            case,
            Some(failure),
            0,
            started,
            Vec::new(),
            Vec::new(),
            None,
            None,
        );
    }
    let tap = lab
        .bridge
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .add_tap();
    let tap = match tap {
        Ok(t) => t,
        Err(e) => {
            let failure = Failure {
                step: "a VM on the private network".into(),
                why: e.to_string(),
            };
            return finish(
                case,
                Some(failure),
                0,
                started,
                Vec::new(),
                Vec::new(),
                None,
                None,
            );
        }
    };
    tracing::info!(target: "netboot::test", case = %case.name, mac = %case.mac, firmware = %case.firmware, tap = %tap, "booting");
    let mac = case.mac.to_string();
    let vm = Vm::start(&VmOptions {
        firmware: case.firmware,
        tap: &tap,
        mac: &mac,
        accel: lab.accel,
        dir: &lab.work,
        name: &case.name,
        netns: None,
        purpose: Purpose::Machine,
    });
    let since = SystemTime::now();
    let mut vm = match vm {
        Ok(vm) => vm,
        Err(e) => {
            remove_tap(lab, &tap);
            let failure = Failure {
                step: "QEMU started".into(),
                why: e.to_string(),
            };
            return finish(
                case,
                Some(failure),
                0,
                started,
                Vec::new(),
                Vec::new(),
                None,
                None,
            );
        }
    };
    let rules = Rules {
        timeout: lab.timeout.unwrap_or_else(|| default_timeout(&case)),
        // A menu's countdown runs on the guest's clock, which under TCG (UEFI most of all)
        // may run at half speed: the quiet while it counts is not the machine giving up.
        stall: lab.rules.stall + Duration::from_secs(2 * case.menu_seconds),
        ..lab.rules.clone()
    };
    let png = lab.work.join(format!("{}.png", case.name));
    let mut last_screen: Option<Instant> = None;
    let (judgement, events) = loop {
        std::thread::sleep(POLL);
        let ended = vm.exited().is_some();
        if !ended && !matches!(last_screen, Some(t) if t.elapsed() < SCREEN_EVERY) {
            screenshot(&vm, &png);
            last_screen = Some(Instant::now());
        }
        let (events, ip) = events_of(&lab.events, case.mac, since);
        let busy = ip.is_some_and(|ip| lab.in_flight.list().iter().any(|t| t.ip == ip));
        let console = vm.serial_text();
        let seen = Seen {
            events: &events,
            now: started.elapsed(),
            busy,
            ended,
            console: &console,
        };
        let j = judge::judge(&case.steps, case.end, seen, &rules);
        if j.verdict != Verdict::Running {
            break (j, events);
        }
    };
    if vm.exited().is_none() {
        screenshot(&vm, &png);
    }
    let console = vm.serial_text();
    let qemu_log = vm.qemu_log();
    vm.stop();
    remove_tap(lab, &tap);
    let failure = match judgement.verdict {
        Verdict::Failed(f) => Some(f),
        _ => None,
    };
    let mut tail = console_tail(&console, CONSOLE_LINES);
    if failure.is_some() && !qemu_log.trim().is_empty() {
        tail.extend(qemu_log.lines().map(|l| format!("qemu: {l}")));
    }
    let server: Vec<String> = events
        .iter()
        .map(|(t, e)| format!("{} {}", secs(*t), describe_event(e)))
        .collect();
    let (serial_log, screenshot) = keep_evidence(lab, &case.name, vm.serial_path(), &png);
    tracing::info!(target: "netboot::test", case = %case.name, passed = failure.is_none(), seconds = started.elapsed().as_secs_f64(), "done");
    finish(
        case,
        failure,
        judgement.done,
        started,
        tail,
        server,
        serial_log,
        screenshot,
    )
}

#[allow(clippy::too_many_arguments)]
fn finish(
    case: Case,
    failure: Option<Failure>,
    steps_done: usize,
    started: Instant,
    console_tail: Vec<String>,
    server_lines: Vec<String>,
    serial_log: Option<PathBuf>,
    screenshot: Option<PathBuf>,
) -> CaseResult {
    CaseResult {
        passed: failure.is_none() && case.skipped.is_none(),
        case,
        failure,
        steps_done,
        seconds: started.elapsed().as_secs_f64(),
        console_tail,
        server_lines,
        serial_log,
        screenshot,
    }
}

fn remove_tap(lab: &Lab, tap: &str) {
    lab.bridge
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove_tap(tap);
}

/// The server's events for `mac` since `since` (with their offset from it), and the address
/// it was last seen at.
fn events_of(
    events: &Events,
    mac: MacAddr,
    since: SystemTime,
) -> (Vec<(Duration, Event)>, Option<IpAddr>) {
    let view = events.view();
    let Some(log) = view
        .machines
        .iter()
        .find(|m| m.machine == Machine::Mac(mac))
    else {
        return (Vec::new(), None);
    };
    let list = log
        .events
        .iter()
        .filter_map(|s| {
            s.at.duration_since(since)
                .ok()
                .map(|d| (d, s.event.clone()))
        })
        .collect();
    (list, log.ip)
}

/// The screen as a PNG, written beside and renamed over the last one, so a guest that powers
/// off mid-dump leaves the previous picture whole.
fn screenshot(vm: &Vm, png: &Path) {
    let fresh = png.with_extension("png.new");
    match vm.screendump(&fresh) {
        Ok(()) => {
            let _ = std::fs::rename(&fresh, png);
        }
        Err(e) => tracing::debug!(target: "netboot::test", error = %e, "no screenshot"),
    }
}

fn keep_evidence(
    lab: &Lab,
    name: &str,
    serial: &Path,
    png: &Path,
) -> (Option<PathBuf>, Option<PathBuf>) {
    let Some(dir) = &lab.report else {
        return (None, None);
    };
    let copy = |from: &Path, to: PathBuf| match std::fs::copy(from, &to) {
        Ok(_) => Some(to),
        Err(e) => {
            tracing::warn!(target: "netboot::test", file = %from.display(), error = %e, "evidence not kept");
            None
        }
    };
    (
        copy(serial, dir.join(format!("{name}-serial.log"))),
        copy(png, dir.join(format!("{name}.png"))),
    )
}

/// The last `n` non-empty lines of a console, escape sequences and control characters removed.
pub fn console_tail(console: &str, n: usize) -> Vec<String> {
    let lines: Vec<String> = console
        .lines()
        .map(strip_escapes)
        .filter(|l| !l.trim().is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

fn strip_escapes(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte (0x40..=0x7e).
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        if !c.is_control() {
            out.push(c);
        }
    }
    out.trim_end().to_string()
}

/// The firmware's bound, and three minutes more for an installer whose answer file is the
/// last step: Debian's installer under TCG takes two to three minutes from its kernel to its
/// preseed alone, more on a loaded machine.
fn default_timeout(case: &Case) -> Duration {
    let installer = case
        .steps
        .last()
        .is_some_and(|s| matches!(s, Expect::File { role, .. } if role == ANSWER_FILE));
    case.firmware.timeout()
        + if installer {
            INSTALLER_EXTRA
        } else {
            Duration::ZERO
        }
}

const INSTALLER_EXTRA: Duration = Duration::from_secs(180);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_tail_drops_firmware_escape_codes_and_blank_lines() {
        let console =
            "BdsDxe: loading\r\n\u{1b}[2J\u{1b}[01;01H\r\n>>Start PXE over IPv4.\r\n\r\nok\n";
        assert_eq!(
            console_tail(console, 2),
            vec![">>Start PXE over IPv4.".to_string(), "ok".to_string()]
        );
    }

    #[test]
    fn an_installer_gets_three_more_minutes_than_its_firmware() {
        let file = |role: &str| Expect::File {
            role: role.into(),
            route: "r".into(),
            size: 1,
        };
        let mut case = Case {
            name: "web1-bios".into(),
            machine: "web1".into(),
            mac: MacAddr([0x52, 0x54, 0, 0, 0, 1]),
            firmware: netboot_lab::Firmware::Bios,
            steps: vec![file("kernel"), file("initrd")],
            end: super::super::plan::End::Boots,
            unbootable: None,
            skipped: None,
            notes: Vec::new(),
            menu_seconds: 0,
        };
        assert_eq!(default_timeout(&case), Duration::from_secs(180));
        case.steps.push(file(ANSWER_FILE));
        assert_eq!(default_timeout(&case), Duration::from_secs(360));
    }
}
