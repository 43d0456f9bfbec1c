//! The status page: one HTML document, no scripts, reloading itself every few seconds.
//!
//! The markup is the template `runtime/templates/status.html`; this module only turns what
//! was recorded into the values it shows. askama escapes every value the template prints (with
//! [`escape::Html`](super::escape::Html)), so no string a client chose (file names, user
//! agents, refusal texts that quote them) can add markup, and neither can host names and
//! errors, which are ours but need not be markup-free either.

use std::time::SystemTime;

use askama::Template;
use netboot_manifest::{ClientKind, Protocol};

use super::event::Event;
use super::recorder::{Machine, MachineLog, View};
use super::serving::{Install, InstallState, Serving};
use super::timeline::{attempts, Attempt, Outcome, Stage, Step};
use super::units;

/// How often the page reloads itself.
pub const REFRESH_SECONDS: u32 = 2;

/// The whole page for `view`, with `serving` describing the snapshot answering right now.
pub fn render(view: &View, serving: &Serving, now: SystemTime) -> String {
    let page = StatusPage {
        refresh: REFRESH_SECONDS,
        fleet: serving.fleet_sha256.chars().take(12).collect(),
        files: serving.files,
        hosts: serving.hosts.len(),
        reload: view.last_reload.as_ref().map(|(at, reload)| ReloadLine {
            at: units::utc_time(*at),
            ago: units::ago(*at, now),
            // Diagnostics run over many lines; the first says what went wrong.
            error: reload
                .error
                .as_deref()
                .map(|e| e.lines().next().unwrap_or("")),
        }),
        machines_dropped: view.machines_dropped,
        machine_limit: view.limits.machines,
        broken: &serving.broken,
        stages: Stage::ALL,
        rows: view
            .machines
            .iter()
            .map(|log| row(log, serving, now))
            .collect(),
        generated: units::utc(now),
    };
    // Rendering writes into a String and every value displays infallibly.
    page.render().unwrap_or_default()
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage<'a> {
    refresh: u32,
    /// The first characters of the fleet's hash: enough to tell two builds apart.
    fleet: String,
    files: usize,
    hosts: usize,
    /// `None` before the first reload.
    reload: Option<ReloadLine<'a>>,
    machines_dropped: u64,
    machine_limit: usize,
    /// Routes out of service and why.
    broken: &'a [(String, String)],
    stages: [Stage; 5],
    /// Most recently seen first.
    rows: Vec<Row<'a>>,
    generated: String,
}

struct ReloadLine<'a> {
    at: String,
    ago: String,
    /// The first line of why it failed; `None` when it succeeded.
    error: Option<&'a str>,
}

/// One machine's line of the table.
struct Row<'a> {
    machine: String,
    /// The furthest stage its latest attempt reached, or `none`.
    reached: &'static str,
    mac: Option<String>,
    /// The fleet's name for that MAC.
    host: Option<&'a str>,
    /// Its install lifecycle's state (`installed`, `pending`, `unknown`) and what that means.
    install: Option<(&'static str, String)>,
    ip: Option<String>,
    events: Vec<EventLine<'a>>,
    events_dropped: u64,
    last_seen: String,
    last_seen_ago: String,
    /// When the latest attempt started.
    started: Option<String>,
    boots: usize,
    stages: Vec<StageCell>,
    /// Errors of the latest attempt.
    errors: Vec<ErrorLine>,
    /// How many errors the earlier attempts had.
    earlier: usize,
}

/// One remembered event, in the folded list.
struct EventLine<'a> {
    at: String,
    text: EventText<'a>,
    /// HTTP's User-Agent.
    agent: Option<&'a str>,
}

enum EventText<'a> {
    Dhcp {
        kind: &'static str,
        file: &'a str,
    },
    Transfer {
        protocol: &'static str,
        file: &'a str,
        bytes: String,
        duration: String,
        error: Option<&'a str>,
    },
    Refused {
        protocol: &'static str,
        file: &'a str,
        reason: &'a str,
    },
    /// Reloads are not machine events and are never in a machine's list.
    Nothing,
}

/// One stage of the latest attempt: its steps, or what to say when there are none.
struct StageCell {
    stage: &'static str,
    steps: Vec<StepBox>,
    none: Option<&'static str>,
}

struct StepBox {
    /// `step ok`, `step failed` or `step notlisted`.
    class: &'static str,
    /// For DHCP: the kind of client answered.
    kind: Option<&'static str>,
    file: String,
    /// Since the attempt started.
    offset: String,
    repeats: u32,
    bytes: Option<String>,
    duration: Option<String>,
    protocol: Option<&'static str>,
    /// Said when the step did not go well.
    note: Option<&'static str>,
}

struct ErrorLine {
    at: String,
    stage: &'static str,
    file: String,
    why: String,
}

/// What a lifecycle host's state means for its next boot.
fn install_badge(install: &Install) -> String {
    let generation = install.generation;
    match install.state {
        InstallState::Installed => {
            format!("installed (generation {generation}): boots its then profile")
        }
        InstallState::Pending => format!("installing generation {generation}"),
        InstallState::Unknown => "install state unreadable: boots its then profile".to_string(),
    }
}

fn row<'a>(log: &'a MachineLog, serving: &'a Serving, now: SystemTime) -> Row<'a> {
    let all = attempts(&log.events);
    let latest = all.last();
    let mac = match log.machine {
        Machine::Mac(mac) => Some(mac),
        Machine::Ip(_) => None,
    };
    let errors = latest
        .into_iter()
        .flat_map(Attempt::errors)
        .filter_map(|step| match &step.outcome {
            Outcome::Failed(why) => Some(ErrorLine {
                at: units::utc_time(step.at),
                stage: step.stage.as_str(),
                file: step.file.clone(),
                why: why.clone(),
            }),
            Outcome::Ok | Outcome::NotListed | Outcome::OptionalAbsent => None,
        })
        .collect();
    Row {
        machine: log.machine.to_string(),
        reached: latest
            .and_then(Attempt::reached)
            .map_or("none", Stage::as_str),
        mac: mac.map(|m| m.to_string()),
        host: mac.and_then(|m| serving.hosts.get(&m)).map(String::as_str),
        install: mac
            .and_then(|m| serving.installs.get(&m))
            .map(|i| (i.state.as_str(), install_badge(i))),
        ip: log.ip.map(|ip| ip.to_string()),
        events: log
            .events
            .iter()
            .map(|s| event_line(s.at, &s.event))
            .collect(),
        events_dropped: log.dropped,
        last_seen: units::utc_time(log.last_seen),
        last_seen_ago: units::ago(log.last_seen, now),
        started: latest.map(|a| units::utc_time(a.started)),
        boots: all.len(),
        stages: Stage::ALL
            .into_iter()
            .map(|stage| stage_cell(stage, latest))
            .collect(),
        errors,
        earlier: all.iter().rev().skip(1).map(|a| a.errors().count()).sum(),
    }
}

fn stage_cell(stage: Stage, latest: Option<&Attempt>) -> StageCell {
    let steps: Vec<StepBox> = latest
        .into_iter()
        .flat_map(|a| a.stage(stage))
        .map(step_box)
        .collect();
    let none = if !steps.is_empty() {
        None
    } else if stage == Stage::Loader && latest.is_some_and(starts_in_ipxe) {
        // SeaBIOS in QEMU, or a NIC flashed with iPXE: nothing to chainload.
        Some("— already iPXE")
    } else {
        Some("—")
    };
    StageCell {
        stage: stage.as_str(),
        steps,
        none,
    }
}

/// Whether the attempt's first DHCP answer went to a client that already runs iPXE.
fn starts_in_ipxe(attempt: &Attempt) -> bool {
    attempt.stage(Stage::Dhcp).next().and_then(|s| s.kind) == Some(ClientKind::Ipxe)
}

fn step_box(step: &Step) -> StepBox {
    let (class, note) = match step.outcome {
        Outcome::Ok => ("step ok", None),
        Outcome::Failed(_) => ("step failed", Some("failed")),
        Outcome::NotListed => (
            "step notlisted",
            Some("not in the fleet, the default follows"),
        ),
        Outcome::OptionalAbsent => ("step notlisted", Some("optional, absent")),
    };
    StepBox {
        class,
        kind: step.kind.map(ClientKind::as_str),
        file: step.file.clone(),
        offset: units::offset(step.offset),
        repeats: step.repeats,
        bytes: step.bytes.map(units::bytes),
        duration: step.duration.map(units::duration),
        protocol: step.protocol.map(protocol),
        note,
    }
}

fn event_line(at: SystemTime, event: &Event) -> EventLine<'_> {
    let (text, agent) = match event {
        Event::Dhcp(a) => (
            EventText::Dhcp {
                kind: a.kind.as_str(),
                file: &a.file,
            },
            None,
        ),
        Event::Transfer(t) => (
            EventText::Transfer {
                protocol: protocol(t.protocol),
                file: &t.file,
                bytes: units::bytes(t.bytes),
                duration: units::duration(t.duration),
                error: t.error.as_deref(),
            },
            t.user_agent.as_deref(),
        ),
        Event::Refused(r) => (
            EventText::Refused {
                protocol: protocol(r.protocol),
                file: &r.file,
                reason: &r.reason,
            },
            r.user_agent.as_deref(),
        ),
        Event::Reload(_) => (EventText::Nothing, None),
    };
    EventLine {
        at: units::utc_time(at),
        text,
        agent,
    }
}

fn protocol(p: Protocol) -> &'static str {
    match p {
        Protocol::Tftp => "tftp",
        Protocol::Http => "http",
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::{Duration, UNIX_EPOCH};

    use netboot_manifest::{ClientKind, MacAddr};

    use super::*;
    use crate::status::neighbors::NoNeighbors;
    use crate::status::recorder::{Events, Limits};

    const MAC: MacAddr = MacAddr([0x52, 0x54, 0, 0xe2, 0xe0, 1]);

    fn t(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_795_607_523) + Duration::from_millis(ms)
    }

    fn ip() -> IpAddr {
        Ipv4Addr::new(10, 77, 1, 50).into()
    }

    fn serving() -> Serving {
        Serving {
            hosts: [(MAC, "known".to_string())].into(),
            files: 7,
            fleet_sha256: "0123456789abcdef".into(),
            broken: Vec::new(),
            installs: Default::default(),
        }
    }

    fn booted() -> Events {
        let events = Events::with_neighbors(Limits::default(), NoNeighbors);
        let e = [
            Event::dhcp(
                MAC,
                Ipv4Addr::UNSPECIFIED,
                ClientKind::Bios,
                "undionly.kpxe",
            ),
            Event::done(
                Protocol::Tftp,
                ip(),
                "undionly.kpxe",
                70_144,
                Duration::from_millis(300),
            ),
            Event::dhcp(
                MAC,
                Ipv4Addr::UNSPECIFIED,
                ClientKind::Ipxe,
                "http://10.77.1.2:8080/boot.ipxe",
            ),
            Event::done(
                Protocol::Http,
                ip(),
                "boot.ipxe",
                300,
                Duration::from_millis(2),
            ),
            Event::done(
                Protocol::Http,
                ip(),
                "hosts/52-54-00-e2-e0-01.ipxe",
                200,
                Duration::from_millis(2),
            ),
            Event::done(
                Protocol::Http,
                ip(),
                "kernel",
                5_452_595,
                Duration::from_millis(1500),
            ),
            Event::done(
                Protocol::Http,
                ip(),
                "initrd",
                1_000_000,
                Duration::from_millis(400),
            ),
        ];
        for (i, e) in e.into_iter().enumerate() {
            events.record_at(e.with_user_agent(Some("iPXE/1.21.1")), t(i as u64 * 1000));
        }
        events
    }

    #[test]
    fn a_booted_machine_shows_every_stage_with_times_and_bytes() {
        let page = render(&booted().view(), &serving(), t(10_000));
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<meta http-equiv=\"refresh\" content=\"2\">"));
        assert!(page.contains("<span class=\"mac\">52:54:00:e2:e0:01</span>"));
        assert!(page.contains("<span class=\"host\">known</span>"));
        assert!(page.contains("data-reached=\"initrd\""));
        assert!(page.contains("bios → undionly.kpxe"));
        assert!(page.contains("68.5 KiB in 300 ms · tftp"));
        assert!(page.contains("<td class=\"stage-kernel\"><div class=\"step ok\"><span class=\"file\">kernel</span><span class=\"meta\">+5.0 s · 5.2 MiB in 1.50 s · http"));
        assert!(page.contains("hosts/52-54-00-e2-e0-01.ipxe"));
        assert!(page.contains("iPXE/1.21.1"));
        assert!(page.contains("no reload since start"));
        // The firmware asked first, so a loader was expected (and came).
        assert!(!page.contains("already iPXE"));
        assert!(page.contains("Fleet <span class=\"file\">0123456789ab</span> · 7 files · 1 hosts"));
        assert!(!page.contains("id=\"empty\""));
    }

    #[test]
    fn nothing_seen_yet_says_so() {
        let events = Events::with_neighbors(Limits::default(), NoNeighbors);
        let page = render(&events.view(), &serving(), t(0));
        assert!(page.contains("id=\"empty\""));
        assert!(!page.contains("<table"));
    }

    #[test]
    fn client_chosen_text_is_escaped_everywhere() {
        let events = Events::with_neighbors(Limits::default(), NoNeighbors);
        let evil = "<img src=x onerror=alert(1)>\"'&";
        events.record_at(
            Event::refused(Protocol::Http, ip(), evil, "404 not in the manifest")
                .with_user_agent(Some(evil)),
            t(0),
        );
        events.record_at(
            Event::failed(Protocol::Tftp, ip(), evil, 0, Duration::ZERO, evil),
            t(1),
        );
        let mut serving = serving();
        serving.broken.push((evil.to_string(), evil.to_string()));
        serving.hosts.insert(MAC, evil.to_string());
        events.record_at(
            Event::dhcp(MAC, Ipv4Addr::UNSPECIFIED, ClientKind::Ipxe, evil),
            t(2),
        );
        events.record_at(Event::reload_failed(evil), t(3));
        let page = render(&events.view(), &serving, t(4));
        assert!(!page.contains("<img"), "raw markup from a client:\n{page}");
        assert!(!page.contains("\"'&"));
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;"));
        // Only our own tags: every `<` opens one of these.
        let ours = [
            "!DOCTYPE", "html", "/html", "head", "/head", "meta", "link", "title", "/title",
            "style", "/style", "body", "/body", "h1", "/h1", "p", "/p", "span", "/span", "br", "a",
            "/a", "div", "/div", "strong", "/strong", "ul", "/ul", "li", "/li", "table", "/table",
            "thead", "/thead", "tbody", "/tbody", "tr", "/tr", "th", "/th", "td", "/td", "details",
            "/details", "summary", "/summary", "ol", "/ol",
        ];
        for tag in page.split('<').skip(1) {
            let name = tag.split([' ', '>']).next().unwrap();
            assert!(ours.contains(&name), "unexpected tag <{name}");
        }
    }

    #[test]
    fn errors_of_the_latest_boot_are_listed_and_earlier_ones_counted() {
        let events = Events::with_neighbors(Limits::default(), NoNeighbors);
        let url = "http://10.77.1.2:8080/boot.ipxe";
        let steps = [
            Event::dhcp(MAC, Ipv4Addr::UNSPECIFIED, ClientKind::Ipxe, url),
            Event::done(
                Protocol::Http,
                ip(),
                "hosts/52-54-00-e2-e0-01.ipxe",
                1,
                Duration::ZERO,
            ),
            Event::failed(Protocol::Http, ip(), "kernel", 9, Duration::ZERO, "reset"),
            Event::done(Protocol::Http, ip(), "initrd", 1, Duration::ZERO),
            Event::dhcp(MAC, Ipv4Addr::UNSPECIFIED, ClientKind::Ipxe, url),
            Event::done(
                Protocol::Http,
                ip(),
                "hosts/52-54-00-e2-e0-01.ipxe",
                1,
                Duration::ZERO,
            ),
            Event::failed(Protocol::Http, ip(), "kernel", 9, Duration::ZERO, "stalled"),
        ];
        for (i, e) in steps.into_iter().enumerate() {
            events.record_at(e, t(i as u64));
        }
        let page = render(&events.view(), &serving(), t(100));
        assert!(page.contains("kernel <span class=\"file\">kernel</span>: stalled</li>"));
        assert!(!page.contains("kernel <span class=\"file\">kernel</span>: reset</li>"));
        assert!(page.contains("1 in earlier boots"));
        assert!(page.contains("(2 boots seen)"));
        assert!(page.contains(
            "<td class=\"stage-loader\"><span class=\"none\">— already iPXE</span></td>"
        ));
        assert!(page.contains("data-reached=\"script\""));
    }

    #[test]
    fn broken_routes_and_failed_reloads_are_shown() {
        let events = Events::with_neighbors(Limits::default(), NoNeighbors);
        events.record_at(Event::reload_failed("fleet has errors:\nline 3: …"), t(0));
        let mut serving = serving();
        serving
            .broken
            .push(("artifacts/kernel".into(), "file changed on disk".into()));
        let page = render(&events.view(), &serving, t(5000));
        assert!(page.contains("1 routes out of service"));
        assert!(page.contains("artifacts/kernel</span>: file changed on disk"));
        assert!(
            page.contains("failed, still serving the last good fleet: fleet has errors:</span>")
        );
    }
}
