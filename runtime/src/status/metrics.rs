//! Counters that outlive the bounded per-machine history, and their Prometheus text form
//! (exposition format 0.0.4: `# HELP`, `# TYPE`, one sample per line).

use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use netboot_manifest::{ClientKind, Protocol};

use super::event::Event;
use super::serving::InstallState;

/// Upper bounds (seconds) of the transfer-duration histogram: a script takes milliseconds, a
/// kernel over TFTP under emulation tens of seconds.
pub const DURATION_BUCKETS: [f64; 12] = [
    0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Everything `/metrics` reports that is counted as events arrive.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counters {
    /// Indexed like [`ClientKind::ALL`].
    pub dhcp_answers: [u64; ClientKind::ALL.len()],
    pub tftp: ProtocolCounters,
    pub http: ProtocolCounters,
    pub reloads_ok: u64,
    pub reloads_failed: u64,
    /// The last reload's result and when, if there was one.
    pub last_reload: Option<(bool, SystemTime)>,
    /// Install done reports answered, by result (`recorded`, `repeated`, `refused`) and
    /// reason (for a refusal; else empty).
    pub install_reports: std::collections::BTreeMap<(&'static str, &'static str), u64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProtocolCounters {
    /// Bytes clients received, whether or not their transfer completed.
    pub bytes: u64,
    pub transfers_ok: u64,
    pub transfers_failed: u64,
    pub refused: u64,
    pub durations: Histogram,
}

/// A cumulative histogram over [`DURATION_BUCKETS`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Observations at most each bound (not yet cumulative).
    pub buckets: [u64; DURATION_BUCKETS.len()],
    pub count: u64,
    pub sum_seconds: f64,
}

impl Histogram {
    pub fn observe(&mut self, d: Duration) {
        let s = d.as_secs_f64();
        if let Some(i) = DURATION_BUCKETS.iter().position(|&b| s <= b) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum_seconds += s;
    }
}

/// Values known only when `/metrics` is asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gauges {
    /// Routes of the serving snapshot taken out of service (missing or changed artifacts).
    pub routes_out_of_service: usize,
    /// Machines the status page currently remembers.
    pub machines: usize,
    /// Every lifecycle host's name and install state.
    pub installs: Vec<(String, InstallState)>,
}

impl Counters {
    pub fn count(&mut self, event: &Event, at: SystemTime) {
        match event {
            Event::Dhcp(a) => {
                if let Some(i) = ClientKind::ALL.iter().position(|&k| k == a.kind) {
                    self.dhcp_answers[i] += 1;
                }
            }
            Event::Transfer(t) => {
                let p = self.protocol(t.protocol);
                p.bytes = p.bytes.saturating_add(t.bytes);
                if t.error.is_none() {
                    p.transfers_ok += 1;
                } else {
                    p.transfers_failed += 1;
                }
                p.durations.observe(t.duration);
            }
            Event::Refused(r) => self.count_refused(r.protocol),
            Event::Reload(r) => {
                if r.error.is_none() {
                    self.reloads_ok += 1;
                } else {
                    self.reloads_failed += 1;
                }
                self.last_reload = Some((r.error.is_none(), at));
            }
        }
    }

    /// One refused request, whether or not it was also recorded as an [`Event`].
    pub fn count_refused(&mut self, protocol: Protocol) {
        self.protocol(protocol).refused += 1;
    }

    fn protocol(&mut self, protocol: Protocol) -> &mut ProtocolCounters {
        match protocol {
            Protocol::Tftp => &mut self.tftp,
            Protocol::Http => &mut self.http,
        }
    }

    /// The Prometheus text exposition of these counters and `gauges`.
    pub fn render(&self, gauges: Gauges) -> String {
        let mut e = Exposition::default();
        let protocols = [("tftp", &self.tftp), ("http", &self.http)];

        let name = "netboot_dhcp_answers_total";
        e.family(name, "counter", "Proxy-DHCP answers sent, by client kind.");
        for (kind, n) in ClientKind::ALL.iter().zip(self.dhcp_answers) {
            e.sample(name, &[("kind", kind.as_str())], n);
        }

        let name = "netboot_served_bytes_total";
        e.family(
            name,
            "counter",
            "Bytes delivered to clients, by protocol (complete and broken-off transfers).",
        );
        for (protocol, p) in protocols {
            e.sample(name, &[("protocol", protocol)], p.bytes);
        }

        let name = "netboot_transfers_total";
        e.family(name, "counter", "Transfers ended, by protocol and result.");
        for (protocol, p) in protocols {
            e.sample(
                name,
                &[("protocol", protocol), ("result", "ok")],
                p.transfers_ok,
            );
            let failed = p.transfers_failed;
            e.sample(
                name,
                &[("protocol", protocol), ("result", "failed")],
                failed,
            );
        }

        let name = "netboot_requests_refused_total";
        e.family(
            name,
            "counter",
            "Requests refused before any file byte was sent, by protocol.",
        );
        for (protocol, p) in protocols {
            e.sample(name, &[("protocol", protocol)], p.refused);
        }

        let name = "netboot_transfer_duration_seconds";
        e.family(
            name,
            "histogram",
            "Time from request to the end of a transfer, by protocol.",
        );
        for (protocol, p) in protocols {
            let h = &p.durations;
            let bucket = format!("{name}_bucket");
            let mut cumulative = 0;
            for (bound, n) in DURATION_BUCKETS.iter().zip(h.buckets) {
                cumulative += n;
                let le = bound.to_string();
                e.sample(&bucket, &[("protocol", protocol), ("le", &le)], cumulative);
            }
            e.sample(&bucket, &[("protocol", protocol), ("le", "+Inf")], h.count);
            e.sample(
                &format!("{name}_sum"),
                &[("protocol", protocol)],
                h.sum_seconds,
            );
            e.sample(&format!("{name}_count"), &[("protocol", protocol)], h.count);
        }

        let name = "netboot_reloads_total";
        e.family(
            name,
            "counter",
            "Reloads since start, by result (a failed one keeps the last good snapshot serving).",
        );
        e.sample(name, &[("result", "ok")], self.reloads_ok);
        e.sample(name, &[("result", "failed")], self.reloads_failed);

        let name = "netboot_last_reload_success";
        e.family(
            name,
            "gauge",
            "1 if the last reload succeeded or none happened yet, 0 if it failed.",
        );
        let ok = !matches!(self.last_reload, Some((false, _)));
        e.sample(name, &[], u8::from(ok));

        let name = "netboot_last_reload_timestamp_seconds";
        e.family(
            name,
            "gauge",
            "Unix time of the last reload, 0 if none happened yet.",
        );
        let when = self
            .last_reload
            .and_then(|(_, at)| at.duration_since(UNIX_EPOCH).ok())
            .map_or(0.0, |d| d.as_secs_f64());
        e.sample(name, &[], when);

        let name = "netboot_routes_out_of_service";
        e.family(
            name,
            "gauge",
            "Routes of the serving snapshot refused because their artifact is missing or changed.",
        );
        e.sample(name, &[], gauges.routes_out_of_service);

        let name = "netboot_machines_tracked";
        e.family(
            name,
            "gauge",
            "Machines the status page currently remembers (bounded).",
        );
        e.sample(name, &[], gauges.machines);

        let name = "netboot_install_state";
        e.family(
            name,
            "gauge",
            "1 per machine with an install lifecycle, labelled with its state: installed (boots \
             then), pending (boots its installer), unknown (state unreadable: boots then).",
        );
        for (host, state) in &gauges.installs {
            e.sample(name, &[("host", host), ("state", state.as_str())], 1);
        }

        let name = "netboot_install_reports_total";
        e.family(
            name,
            "counter",
            "Install done reports answered, by result and, for a refusal, its reason.",
        );
        for ((result, reason), n) in &self.install_reports {
            e.sample(name, &[("result", result), ("reason", reason)], n);
        }
        e.out
    }
}

/// The text being written. Label values are fixed words, numbers and the fleet's host names,
/// never client text; they are escaped anyway, as a hand-written manifest may name hosts freely.
#[derive(Default)]
struct Exposition {
    out: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.out.push_str(name);
        for (i, (key, val)) in labels.iter().enumerate() {
            let open = if i == 0 { '{' } else { ',' };
            let val = val
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            let _ = write!(self.out, "{open}{key}=\"{val}\"");
        }
        if !labels.is_empty() {
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use netboot_manifest::MacAddr;

    use super::*;

    fn sample(text: &str, name_and_labels: &str) -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no sample {name_and_labels} in\n{text}"))
            .to_string()
    }

    #[test]
    fn counts_answers_bytes_durations_and_reloads() {
        let mut c = Counters::default();
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let ip = Ipv4Addr::new(10, 0, 0, 5).into();
        let mac = MacAddr([0x52, 0x54, 0, 0, 0, 1]);
        c.count(
            &Event::dhcp(
                mac,
                Ipv4Addr::UNSPECIFIED,
                ClientKind::Bios,
                "undionly.kpxe",
            ),
            now,
        );
        c.count(
            &Event::dhcp(
                mac,
                Ipv4Addr::UNSPECIFIED,
                ClientKind::Ipxe,
                "http://x/boot.ipxe",
            ),
            now,
        );
        c.count(
            &Event::dhcp(
                mac,
                Ipv4Addr::UNSPECIFIED,
                ClientKind::Ipxe,
                "http://x/boot.ipxe",
            ),
            now,
        );
        c.count(
            &Event::done(
                Protocol::Tftp,
                ip,
                "undionly.kpxe",
                70_000,
                Duration::from_millis(300),
            ),
            now,
        );
        c.count(
            &Event::done(
                Protocol::Http,
                ip,
                "kernel",
                5_000_000,
                Duration::from_millis(1500),
            ),
            now,
        );
        c.count(
            &Event::failed(
                Protocol::Http,
                ip,
                "initrd",
                1000,
                Duration::from_secs(70),
                "reset",
            ),
            now,
        );
        c.count(
            &Event::refused(Protocol::Http, ip, "hosts/x.ipxe", "404"),
            now,
        );
        c.count(&Event::reloaded(), now);
        c.count(&Event::reload_failed("fleet has errors"), now);

        let text = c.render(Gauges {
            routes_out_of_service: 2,
            machines: 1,
            installs: Vec::new(),
        });
        assert_eq!(
            sample(&text, "netboot_dhcp_answers_total{kind=\"bios\"}"),
            "1"
        );
        assert_eq!(
            sample(&text, "netboot_dhcp_answers_total{kind=\"ipxe\"}"),
            "2"
        );
        assert_eq!(
            sample(&text, "netboot_dhcp_answers_total{kind=\"efi-x64\"}"),
            "0"
        );
        assert_eq!(
            sample(&text, "netboot_served_bytes_total{protocol=\"tftp\"}"),
            "70000"
        );
        assert_eq!(
            sample(&text, "netboot_served_bytes_total{protocol=\"http\"}"),
            "5001000"
        );
        assert_eq!(
            sample(
                &text,
                "netboot_transfers_total{protocol=\"http\",result=\"failed\"}"
            ),
            "1"
        );
        assert_eq!(
            sample(&text, "netboot_requests_refused_total{protocol=\"http\"}"),
            "1"
        );
        // Cumulative buckets: 1.5 s falls in le=2.5, 70 s in le=300.
        assert_eq!(
            sample(
                &text,
                "netboot_transfer_duration_seconds_bucket{protocol=\"http\",le=\"1\"}"
            ),
            "0"
        );
        assert_eq!(
            sample(
                &text,
                "netboot_transfer_duration_seconds_bucket{protocol=\"http\",le=\"2.5\"}"
            ),
            "1"
        );
        assert_eq!(
            sample(
                &text,
                "netboot_transfer_duration_seconds_bucket{protocol=\"http\",le=\"60\"}"
            ),
            "1"
        );
        assert_eq!(
            sample(
                &text,
                "netboot_transfer_duration_seconds_bucket{protocol=\"http\",le=\"300\"}"
            ),
            "2"
        );
        assert_eq!(
            sample(
                &text,
                "netboot_transfer_duration_seconds_bucket{protocol=\"http\",le=\"+Inf\"}"
            ),
            "2"
        );
        assert_eq!(
            sample(
                &text,
                "netboot_transfer_duration_seconds_count{protocol=\"http\"}"
            ),
            "2"
        );
        assert_eq!(
            sample(
                &text,
                "netboot_transfer_duration_seconds_sum{protocol=\"http\"}"
            ),
            "71.5"
        );
        assert_eq!(sample(&text, "netboot_reloads_total{result=\"ok\"}"), "1");
        assert_eq!(
            sample(&text, "netboot_reloads_total{result=\"failed\"}"),
            "1"
        );
        assert_eq!(sample(&text, "netboot_last_reload_success"), "0");
        assert_eq!(
            sample(&text, "netboot_last_reload_timestamp_seconds"),
            "1700000000"
        );
        assert_eq!(sample(&text, "netboot_routes_out_of_service"), "2");
        assert_eq!(sample(&text, "netboot_machines_tracked"), "1");
    }

    #[test]
    fn a_fresh_server_reports_zeroes_and_a_good_reload_state() {
        let text = Counters::default().render(Gauges::default());
        assert_eq!(sample(&text, "netboot_last_reload_success"), "1");
        assert_eq!(sample(&text, "netboot_last_reload_timestamp_seconds"), "0");
        assert_eq!(
            sample(
                &text,
                "netboot_transfer_duration_seconds_sum{protocol=\"tftp\"}"
            ),
            "0"
        );
    }

    #[test]
    fn every_family_has_help_and_type_before_its_samples() {
        let text = Counters::default().render(Gauges::default());
        let mut declared = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                declared.push(rest.split(' ').next().unwrap().to_string());
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap();
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| {
                        name.strip_suffix(s)
                            .filter(|f| declared.iter().any(|d| d == f))
                    })
                    .unwrap_or(name);
                assert!(
                    declared.iter().any(|d| d == family),
                    "{name} sampled before its TYPE"
                );
                let value = line.rsplit(' ').next().unwrap();
                assert!(value.parse::<f64>().is_ok(), "not a number: {line}");
            }
        }
        assert!(declared.len() >= 9);
    }

    #[test]
    fn install_state_per_machine_and_reports_by_reason() {
        let mut c = Counters::default();
        for key in [
            ("recorded", ""),
            ("refused", "wrong token for this machine and generation"),
            ("refused", "wrong token for this machine and generation"),
        ] {
            *c.install_reports.entry(key).or_default() += 1;
        }
        let text = c.render(Gauges {
            installs: vec![
                ("web1".into(), InstallState::Installed),
                ("web2".into(), InstallState::Pending),
                ("odd\"name".into(), InstallState::Unknown),
            ],
            ..Gauges::default()
        });
        assert_eq!(
            sample(
                &text,
                "netboot_install_state{host=\"web1\",state=\"installed\"}"
            ),
            "1"
        );
        assert_eq!(
            sample(
                &text,
                "netboot_install_state{host=\"web2\",state=\"pending\"}"
            ),
            "1"
        );
        assert_eq!(
            sample(
                &text,
                "netboot_install_state{host=\"odd\\\"name\",state=\"unknown\"}"
            ),
            "1"
        );
        assert_eq!(
            sample(
                &text,
                "netboot_install_reports_total{result=\"refused\",reason=\"wrong token for this machine and generation\"}"
            ),
            "2"
        );
        assert_eq!(
            sample(
                &text,
                "netboot_install_reports_total{result=\"recorded\",reason=\"\"}"
            ),
            "1"
        );
    }
}
