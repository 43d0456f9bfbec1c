//! `/status.json`: what the page shows, for scripts and dashboards.

use std::time::SystemTime;

use netboot_manifest::Protocol;
use serde_json::{json, Value};

use super::recorder::{Machine, View};
use super::serving::Serving;
use super::timeline::{attempts, Attempt, Outcome, Step};
use super::units::unix_seconds;

pub fn render(view: &View, serving: &Serving, now: SystemTime) -> String {
    let machines: Vec<Value> = view
        .machines
        .iter()
        .map(|log| {
            let all = attempts(&log.events);
            let latest = all.last();
            let mac = match log.machine {
                Machine::Mac(mac) => Some(mac),
                Machine::Ip(_) => None,
            };
            json!({
                "machine": log.machine.to_string(),
                "mac": mac.map(|m| m.to_string()),
                "host": mac.and_then(|m| serving.hosts.get(&m)),
                "ip": log.ip.map(|ip| ip.to_string()),
                "first_seen": unix_seconds(log.first_seen),
                "last_seen": unix_seconds(log.last_seen),
                "boots": all.len(),
                "reached": latest.and_then(Attempt::reached).map(|s| s.as_str()),
                "timeline": latest.map_or_else(Vec::new, |a| a.steps.iter().map(step).collect()),
                "events_dropped": log.dropped,
            })
        })
        .collect();
    let reload = view.last_reload.as_ref().map(
        |(at, r)| json!({ "at": unix_seconds(*at), "ok": r.error.is_none(), "error": r.error }),
    );
    let broken: Vec<Value> = serving
        .broken
        .iter()
        .map(|(route, reason)| json!({ "route": route, "reason": reason }))
        .collect();
    let doc = json!({
        "generated": unix_seconds(now),
        "fleet_sha256": serving.fleet_sha256,
        "last_reload": reload,
        "routes_out_of_service": broken,
        "machines": machines,
        "machines_dropped": view.machines_dropped,
    });
    let mut text = doc.to_string();
    text.push('\n');
    text
}

fn step(s: &Step) -> Value {
    let (outcome, error) = match &s.outcome {
        Outcome::Ok => ("ok", None),
        Outcome::Failed(e) => ("failed", Some(e.as_str())),
        Outcome::NotListed => ("not-listed", None),
    };
    json!({
        "stage": s.stage.as_str(),
        "file": s.file,
        "at": unix_seconds(s.at),
        "offset_ms": s.offset.as_millis() as u64,
        "protocol": s.protocol.map(|p| match p { Protocol::Tftp => "tftp", Protocol::Http => "http" }),
        "kind": s.kind.map(|k| k.as_str()),
        "bytes": s.bytes,
        "duration_ms": s.duration.map(|d| d.as_millis() as u64),
        "user_agent": s.user_agent,
        "outcome": outcome,
        "error": error,
        "repeats": s.repeats,
    })
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::{Duration, UNIX_EPOCH};

    use netboot_manifest::{ClientKind, MacAddr};

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
