//! The status page: one HTML document, no scripts, reloading itself every few seconds.
//!
//! Every string a client chose (file names, user agents, refusal texts that quote them) goes
//! through [`escape::html`]; so do host names and errors, which are ours but need not be
//! markup-free either.

use std::fmt::Write;
use std::time::SystemTime;

use netboot_manifest::{ClientKind, Protocol};

use super::escape::{html, push};
use super::event::Event;
use super::recorder::{Machine, MachineLog, View};
use super::serving::Serving;
use super::timeline::{attempts, Attempt, Outcome, Stage, Step};
use super::units;

/// How often the page reloads itself.
pub const REFRESH_SECONDS: u32 = 2;

const STYLE: &str = "\
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d2327;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .3em}
.summary,.foot{color:#50575e}
table{border-collapse:collapse;width:100%;background:#fff;margin-top:1em}
th,td{border:1px solid #dcdcde;padding:.35em .5em;vertical-align:top;text-align:left}
th{background:#f0f0f1;font-weight:600}
.mac{font-family:ui-monospace,monospace;font-weight:600}
.host{color:#2271b1}.dim,.none{color:#8c8f94}
.step{margin:.1em 0;padding:.1em .3em;border-radius:3px;background:#edfaef;border-left:3px solid #00a32a}
.step.failed{background:#fcf0f1;border-left-color:#d63638}
.step.notlisted{background:#f6f7f7;border-left-color:#8c8f94}
.file{font-family:ui-monospace,monospace;overflow-wrap:anywhere}
.meta{display:block;color:#50575e;font-size:.85em}
.errors li{color:#b32d2e}
.broken{background:#fcf0f1;border:1px solid #d63638;padding:.5em 1em}
details ol{margin:.3em 0;padding-left:1.4em;font-size:.85em}
";

/// The whole page for `view`, with `serving` describing the snapshot answering right now.
pub fn render(view: &View, serving: &Serving, now: SystemTime) -> String {
    let mut out = String::with_capacity(4096 + view.machines.len() * 2048);
    // The empty icon keeps browsers from asking for /favicon.ico, which would show up here
    // as a 404 from the viewer's own machine.
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">\
         <link rel=\"icon\" href=\"data:,\">\
         <title>netboot status</title><style>{STYLE}</style></head><body>\n\
         <h1>netboot status</h1>\n"
    );
    summary(&mut out, view, serving, now);
    broken(&mut out, serving);
    machines(&mut out, view, serving, now);
    let _ = write!(
        out,
        "<p class=\"foot\">Times are UTC. Page generated {} and reloaded every {REFRESH_SECONDS} s. \
         Also: <a href=\"/metrics\">/metrics</a> (Prometheus), \
         <a href=\"/status.json\">/status.json</a>.</p>\n</body></html>\n",
        units::utc(now)
    );
    out
}

fn summary(out: &mut String, view: &View, serving: &Serving, now: SystemTime) {
    let fleet: String = serving.fleet_sha256.chars().take(12).collect();
    out.push_str("<p class=\"summary\" id=\"summary\">Fleet <span class=\"file\">");
    push(out, &fleet);
    let _ = write!(
        out,
        "</span> · {} files · {} hosts · ",
        serving.files,
        serving.hosts.len()
    );
    match &view.last_reload {
        None => out.push_str("no reload since start"),
        Some((at, reload)) => {
            let _ = write!(
                out,
                "last reload {} ({}): ",
                units::utc_time(*at),
                units::ago(*at, now)
            );
            match &reload.error {
                None => out.push_str("<span id=\"reload\">ok</span>"),
                Some(e) => {
                    out.push_str("<span id=\"reload\" class=\"failed\">failed, still serving the last good fleet: ");
                    // Diagnostics run over many lines; the first says what went wrong.
                    push(out, e.lines().next().unwrap_or(""));
                    out.push_str("</span>");
                }
            }
        }
    }
    let _ = write!(out, " · {} machines seen", view.machines.len());
    if view.machines_dropped > 0 {
        let _ = write!(
            out,
            " ({} older ones forgotten to stay within {})",
            view.machines_dropped, view.limits.machines
        );
    }
    out.push_str("</p>\n");
}

fn broken(out: &mut String, serving: &Serving) {
    if serving.broken.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "<div class=\"broken\" id=\"broken\"><strong>{} routes out of service</strong><ul>",
        serving.broken.len()
    );
    for (route, why) in &serving.broken {
        out.push_str("<li><span class=\"file\">");
        push(out, route);
        out.push_str("</span>: ");
        push(out, why);
        out.push_str("</li>");
    }
    out.push_str("</ul></div>\n");
}

fn machines(out: &mut String, view: &View, serving: &Serving, now: SystemTime) {
    if view.machines.is_empty() {
        out.push_str(
            "<p id=\"empty\">No machine has asked yet. Machines appear here as soon as \
             proxy-DHCP answers them or they fetch a file.</p>\n",
        );
        return;
    }
    out.push_str("<table id=\"machines\"><thead><tr><th>Machine</th><th>Last seen</th>");
    for stage in Stage::ALL {
        let _ = write!(out, "<th>{}</th>", stage.title());
    }
    out.push_str("<th>Errors</th></tr></thead><tbody>\n");
    for log in &view.machines {
        machine_row(out, log, serving, now);
    }
    out.push_str("</tbody></table>\n");
}

fn machine_row(out: &mut String, log: &MachineLog, serving: &Serving, now: SystemTime) {
    let all = attempts(&log.events);
    let latest = all.last();
    let reached = latest
        .and_then(Attempt::reached)
        .map_or("none", Stage::as_str);
    let _ = write!(
        out,
        "<tr class=\"machine\" data-machine=\"{}\" data-reached=\"{reached}\">",
        html(&log.machine.to_string())
    );

    // Who.
    out.push_str("<td>");
    match log.machine {
        Machine::Mac(mac) => {
            let _ = write!(out, "<span class=\"mac\">{mac}</span><br>");
            match serving.hosts.get(&mac) {
                Some(name) => {
                    out.push_str("<span class=\"host\">");
                    push(out, name);
                    out.push_str("</span>");
                }
                None => out.push_str("<span class=\"dim\">not in the fleet</span>"),
            }
        }
        Machine::Ip(_) => out.push_str("<span class=\"dim\">MAC not known yet</span>"),
    }
    if let Some(ip) = log.ip {
        let _ = write!(out, "<br><span class=\"ip\">{ip}</span>");
    }
    events_list(out, log);
    out.push_str("</td>");

    // When.
    let _ = write!(
        out,
        "<td>{}<br><span class=\"dim\">{}</span>",
        units::utc_time(log.last_seen),
        units::ago(log.last_seen, now)
    );
    if let Some(a) = latest {
        let _ = write!(
            out,
            "<br><span class=\"dim\">boot started {}",
            units::utc_time(a.started)
        );
        if all.len() > 1 {
            let _ = write!(out, " ({} boots seen)", all.len());
        }
        out.push_str("</span>");
    }
    out.push_str("</td>");

    // The latest attempt, stage by stage.
    for stage in Stage::ALL {
        let _ = write!(out, "<td class=\"stage-{}\">", stage.as_str());
        let mut any = false;
        for step in latest.into_iter().flat_map(|a| a.stage(stage)) {
            step_cell(out, step);
            any = true;
        }
        if !any && stage == Stage::Loader && latest.is_some_and(starts_in_ipxe) {
            // SeaBIOS in QEMU, or a NIC flashed with iPXE: nothing to chainload.
            out.push_str("<span class=\"none\">— already iPXE</span>");
        } else if !any {
            out.push_str("<span class=\"none\">—</span>");
        }
        out.push_str("</td>");
    }

    // Errors of the latest attempt; earlier ones are counted.
    out.push_str("<td class=\"errors\">");
    let earlier: usize = all.iter().rev().skip(1).map(|a| a.errors().count()).sum();
    let current: Vec<&Step> = latest.into_iter().flat_map(Attempt::errors).collect();
    if current.is_empty() && earlier == 0 {
        out.push_str("<span class=\"none\">—</span>");
    }
    if !current.is_empty() {
        out.push_str("<ul>");
        for step in current {
            let Outcome::Failed(why) = &step.outcome else {
                continue;
            };
            let _ = write!(
                out,
                "<li>{} {} <span class=\"file\">",
                units::utc_time(step.at),
                step.stage.as_str()
            );
            push(out, &step.file);
            out.push_str("</span>: ");
            push(out, why);
            out.push_str("</li>");
        }
        out.push_str("</ul>");
    }
    if earlier > 0 {
        let _ = write!(out, "<span class=\"dim\">{earlier} in earlier boots</span>");
    }
    out.push_str("</td></tr>\n");
}

/// Whether the attempt's first DHCP answer went to a client that already runs iPXE.
fn starts_in_ipxe(attempt: &Attempt) -> bool {
    attempt.stage(Stage::Dhcp).next().and_then(|s| s.kind) == Some(ClientKind::Ipxe)
}

fn step_cell(out: &mut String, step: &Step) {
    let class = match step.outcome {
        Outcome::Ok => "step ok",
        Outcome::Failed(_) => "step failed",
        Outcome::NotListed => "step notlisted",
    };
    let _ = write!(out, "<div class=\"{class}\"><span class=\"file\">");
    if let Some(kind) = step.kind {
        let _ = write!(out, "{} → ", kind.as_str());
    }
    push(out, &step.file);
    out.push_str("</span><span class=\"meta\">");
    out.push_str(&units::offset(step.offset));
    if step.repeats > 1 {
        let _ = write!(out, " · ×{}", step.repeats);
    }
    if let Some(b) = step.bytes {
        let _ = write!(out, " · {}", units::bytes(b));
    }
    if let Some(d) = step.duration {
        let _ = write!(out, " in {}", units::duration(d));
    }
    if let Some(p) = step.protocol {
        let _ = write!(out, " · {}", protocol(p));
    }
    match &step.outcome {
        Outcome::Ok => {}
        Outcome::Failed(_) => out.push_str(" · failed"),
        Outcome::NotListed => out.push_str(" · not in the fleet, menu follows"),
    }
    out.push_str("</span></div>");
}

/// Every remembered event of the machine, folded away.
fn events_list(out: &mut String, log: &MachineLog) {
    let _ = write!(
        out,
        "<details><summary>{} events</summary><ol>",
        log.events.len()
    );
    if log.dropped > 0 {
        let _ = write!(
            out,
            "<li class=\"dim\">{} older events forgotten</li>",
            log.dropped
        );
    }
    for stamped in &log.events {
        let _ = write!(out, "<li>{} ", units::utc_time(stamped.at));
        match &stamped.event {
            Event::Dhcp(a) => {
                let _ = write!(out, "dhcp answer to {}: ", a.kind.as_str());
                push(out, &a.file);
            }
            Event::Transfer(t) => {
                let _ = write!(out, "{} ", protocol(t.protocol));
                push(out, &t.file);
                let _ = write!(
                    out,
                    " {} in {}",
                    units::bytes(t.bytes),
                    units::duration(t.duration)
                );
                if let Some(e) = &t.error {
                    out.push_str(", failed: ");
                    push(out, e);
                }
                agent(out, t.user_agent.as_deref());
            }
            Event::Refused(r) => {
                let _ = write!(out, "{} refused ", protocol(r.protocol));
                push(out, &r.file);
                out.push_str(": ");
                push(out, &r.reason);
                agent(out, r.user_agent.as_deref());
            }
            Event::Reload(_) => {}
        }
        out.push_str("</li>");
    }
    out.push_str("</ol></details>");
}

fn agent(out: &mut String, agent: Option<&str>) {
    if let Some(a) = agent {
        out.push_str(" <span class=\"dim agent\">(");
        push(out, a);
        out.push_str(")</span>");
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
