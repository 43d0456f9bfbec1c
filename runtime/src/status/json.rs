//! `/status.json`: what the page shows, for scripts and dashboards.
//!
//! The document is a set of typed structs, so its shape is checked by the compiler and written
//! down in one place. Fields are declared in alphabetical order: that is the order the
//! document has always had (serde_json's sorted maps), and scripts may compare it as text.

use std::time::SystemTime;

use netboot_manifest::Protocol;
use serde::Serialize;

use super::recorder::{Machine, MachineLog, View};
use super::serving::Serving;
use super::timeline::{attempts, Attempt, Outcome, Step};
use super::units::unix_seconds;

/// The whole document.
#[derive(Debug, Serialize)]
struct Document<'a> {
    fleet_sha256: &'a str,
    /// Seconds since the Unix epoch, as every time here.
    generated: f64,
    last_reload: Option<LastReload<'a>>,
    /// Most recently seen first.
    machines: Vec<MachineJson<'a>>,
    machines_dropped: u64,
    routes_out_of_service: Vec<Broken<'a>>,
}

#[derive(Debug, Serialize)]
struct LastReload<'a> {
    at: f64,
    error: Option<&'a str>,
    ok: bool,
}

#[derive(Debug, Serialize)]
struct Broken<'a> {
    reason: &'a str,
    route: &'a str,
}

#[derive(Debug, Serialize)]
struct MachineJson<'a> {
    /// Boot attempts seen.
    boots: usize,
    events_dropped: u64,
    first_seen: f64,
    /// The fleet's name for its MAC.
    host: Option<&'a str>,
    ip: Option<String>,
    last_seen: f64,
    mac: Option<String>,
    /// The MAC, or the IP when no MAC is known yet.
    machine: String,
    reached: Option<&'static str>,
    /// The steps of the latest attempt.
    timeline: Vec<StepJson>,
}

#[derive(Debug, Serialize)]
struct StepJson {
    at: f64,
    bytes: Option<u64>,
    duration_ms: Option<u64>,
    error: Option<String>,
    file: String,
    kind: Option<&'static str>,
    offset_ms: u64,
    /// `ok`, `failed`, `not-listed` or `optional-absent`.
    outcome: &'static str,
    protocol: Option<&'static str>,
    repeats: u32,
    stage: &'static str,
    user_agent: Option<String>,
}

pub fn render(view: &View, serving: &Serving, now: SystemTime) -> String {
    let doc = Document {
        fleet_sha256: &serving.fleet_sha256,
        generated: unix_seconds(now),
        last_reload: view.last_reload.as_ref().map(|(at, r)| LastReload {
            at: unix_seconds(*at),
            error: r.error.as_deref(),
            ok: r.error.is_none(),
        }),
        machines: view
            .machines
            .iter()
            .map(|log| machine(log, serving))
            .collect(),
        machines_dropped: view.machines_dropped,
        routes_out_of_service: serving
            .broken
            .iter()
            .map(|(route, reason)| Broken { reason, route })
            .collect(),
    };
    // Plain structs of strings and numbers: serialising cannot fail.
    let mut text = serde_json::to_string(&doc).unwrap_or_default();
    text.push('\n');
    text
}

fn machine<'a>(log: &MachineLog, serving: &'a Serving) -> MachineJson<'a> {
    let all = attempts(&log.events);
    let latest = all.last();
    let mac = match log.machine {
        Machine::Mac(mac) => Some(mac),
        Machine::Ip(_) => None,
    };
    MachineJson {
        boots: all.len(),
        events_dropped: log.dropped,
        first_seen: unix_seconds(log.first_seen),
        host: mac.and_then(|m| serving.hosts.get(&m)).map(String::as_str),
        ip: log.ip.map(|ip| ip.to_string()),
        last_seen: unix_seconds(log.last_seen),
        mac: mac.map(|m| m.to_string()),
        machine: log.machine.to_string(),
        reached: latest.and_then(Attempt::reached).map(|s| s.as_str()),
        timeline: latest.map_or_else(Vec::new, |a| a.steps.iter().map(step).collect()),
    }
}

fn step(s: &Step) -> StepJson {
    let (outcome, error) = match &s.outcome {
        Outcome::Ok => ("ok", None),
        Outcome::Failed(e) => ("failed", Some(e.clone())),
        Outcome::NotListed => ("not-listed", None),
        Outcome::OptionalAbsent => ("optional-absent", None),
    };
    StepJson {
        at: unix_seconds(s.at),
        bytes: s.bytes,
        duration_ms: s.duration.map(|d| d.as_millis() as u64),
        error,
        file: s.file.clone(),
        kind: s.kind.map(|k| k.as_str()),
        offset_ms: s.offset.as_millis() as u64,
        outcome,
        protocol: s.protocol.map(|p| match p {
            Protocol::Tftp => "tftp",
            Protocol::Http => "http",
        }),
        repeats: s.repeats,
        stage: s.stage.as_str(),
        user_agent: s.user_agent.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::{Duration, UNIX_EPOCH};

    use netboot_manifest::{ClientKind, MacAddr};

    use serde_json::Value;

    use super::*;
    use crate::status::event::Event;
    use crate::status::neighbors::NoNeighbors;
    use crate::status::recorder::{Events, Limits};

    #[test]
    fn machines_with_their_latest_timeline() {
        let mac = MacAddr([0x52, 0x54, 0, 0xe2, 0xe0, 1]);
        let ip: IpAddr = Ipv4Addr::new(10, 77, 1, 50).into();
        let t = |s: u64| UNIX_EPOCH + Duration::from_secs(1_700_000_000 + s);
        let events = Events::with_neighbors(Limits::default(), NoNeighbors);
        // A request to port 4011 comes from the client's address, which teaches the mapping.
        events.record_at(
            Event::dhcp(
                mac,
                Ipv4Addr::new(10, 77, 1, 50),
                ClientKind::Bios,
                "undionly.kpxe",
            ),
            t(0),
        );
        events.record_at(
            Event::done(
                Protocol::Tftp,
                ip,
                "undionly.kpxe",
                70,
                Duration::from_millis(30),
            ),
            t(1),
        );
        events.record_at(
            Event::refused(
                Protocol::Tftp,
                "10.77.1.99".parse().unwrap(),
                "x\"y",
                "file not found",
            ),
            t(2),
        );
        let serving = Serving {
            hosts: [(mac, "known".into())].into(),
            ..Serving::default()
        };
        let text = render(&events.view(), &serving, t(3));
        let doc: Value = serde_json::from_str(&text).unwrap();
        let machines = doc["machines"].as_array().unwrap();
        assert_eq!(machines.len(), 2);
        let known = machines
            .iter()
            .find(|m| m["mac"] == "52:54:00:e2:e0:01")
            .unwrap();
        assert_eq!(known["host"], "known");
        assert_eq!(known["reached"], "loader");
        assert_eq!(known["timeline"][1]["stage"], "loader");
        assert_eq!(known["timeline"][1]["bytes"], 70);
        assert_eq!(known["timeline"][1]["offset_ms"], 1000);
        let stranger = machines
            .iter()
            .find(|m| m["machine"] == "10.77.1.99")
            .unwrap();
        assert_eq!(stranger["mac"], Value::Null);
        assert_eq!(stranger["timeline"][0]["file"], "x\"y");
        assert_eq!(stranger["timeline"][0]["outcome"], "failed");
        assert_eq!(doc["last_reload"], Value::Null);
    }
}
