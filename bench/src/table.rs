//! `netboot-bench table`: result lines -> the markdown table of BENCHMARKS.md.
//!
//! Goals (the `goal` field of a netboot line) are `;`-separated clauses (test names hold commas):
//! `peer:LABEL:X` (netboot at least X times LABEL, or at most X times for lower-is-better metrics),
//! `self:TEST:X` (at least X times netboot's own result in TEST, same metric),
//! `max:X` / `min:X` (netboot's median against a fixed number), `nofail` (zero failures).

use std::fs;
use std::path::PathBuf;

use serde_json::Value;

#[derive(clap::Args)]
pub struct Args {
    /// Files of JSON result lines (as printed by the other subcommands).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The label of our own server.
    #[arg(long, default_value = "netboot")]
    ours: String,
}

#[derive(Debug, Clone)]
struct Line {
    test: String,
    metric: String,
    target: String,
    lower_better: bool,
    median: f64,
    failures: u64,
    goal: String,
}

pub fn run(args: &Args) -> Result<(), String> {
    let mut lines = Vec::new();
    for file in &args.files {
        let text = fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        for (n, raw) in text.lines().enumerate().filter(|(_, l)| l.starts_with('{')) {
            lines.push(parse(raw).map_err(|e| format!("{}:{}: {e}", file.display(), n + 1))?);
        }
    }
    print!("{}", render(&lines, &args.ours));
    Ok(())
}

fn parse(raw: &str) -> Result<Line, String> {
    let v: Value = serde_json::from_str(raw).map_err(|e| e.to_string())?;
    let text = |k: &str| {
        v[k].as_str()
            .map(str::to_string)
            .ok_or(format!("missing {k}"))
    };
    Ok(Line {
        test: text("test")?,
        metric: text("metric")?,
        target: text("target")?,
        lower_better: v["better"].as_str() == Some("lower"),
        median: v["median"].as_f64().unwrap_or(f64::NAN),
        failures: v["failures"].as_u64().unwrap_or(0),
        goal: v["goal"].as_str().unwrap_or("").to_string(),
    })
}

fn render(lines: &[Line], ours: &str) -> String {
    let mut out = String::from(
        "| Test | Metric | netboot | Peer | Peer value | netboot/peer | Failures (netboot/peer) | Goal | Met |\n\
         |---|---|---:|---|---:|---:|---:|---|---|\n",
    );
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for line in lines {
        let key = (line.test.as_str(), line.metric.as_str());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let same = |l: &&Line| l.test == key.0 && l.metric == key.1;
        let peers: Vec<&Line> = lines
            .iter()
            .filter(same)
            .filter(|l| l.target != ours)
            .collect();
        // A peers-only run (netboot not built yet) still shows the peers' numbers.
        let first = lines.iter().find(same).expect("key comes from a line");
        let missing = Line {
            target: ours.to_string(),
            median: f64::NAN,
            failures: 0,
            goal: String::new(),
            ..first.clone()
        };
        let us = lines
            .iter()
            .filter(same)
            .find(|l| l.target == ours)
            .unwrap_or(&missing);
        let clauses: Vec<&str> = us
            .goal
            .split(';')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        // Clauses about netboot alone are judged on the first row of the group.
        let own: Vec<(String, bool)> = clauses
            .iter()
            .filter(|c| !c.starts_with("peer:"))
            .filter_map(|c| judge_own(c, us, lines, ours))
            .collect();
        let rows: Vec<Option<&Line>> = if peers.is_empty() {
            vec![None]
        } else {
            peers.into_iter().map(Some).collect()
        };
        for (i, peer) in rows.iter().enumerate() {
            let mut goals: Vec<(String, bool)> = if i == 0 { own.clone() } else { Vec::new() };
            if let Some(peer) = peer {
                for c in &clauses {
                    if let Some(g) = judge_peer(c, us, peer) {
                        goals.push(g);
                    }
                }
            }
            let (peer_name, peer_value, ratio, fails) = match peer {
                Some(p) => (
                    p.target.as_str(),
                    number(p.median),
                    ratio(us.median / p.median),
                    format!("{}/{}", us.failures, p.failures),
                ),
                None => ("—", "—".into(), "—".into(), us.failures.to_string()),
            };
            let goal_text: Vec<&str> = goals.iter().map(|(t, _)| t.as_str()).collect();
            let met = match goals.is_empty() {
                true => "",
                false if goals.iter().all(|(_, ok)| *ok) => "yes",
                false => "**no**",
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                us.test,
                us.metric,
                number(us.median),
                peer_name,
                peer_value,
                ratio,
                fails,
                goal_text.join("; "),
                met
            ));
        }
    }
    out
}

fn judge_peer(clause: &str, us: &Line, peer: &Line) -> Option<(String, bool)> {
    let mut parts = clause.split(':');
    if parts.next()? != "peer" || parts.next()? != peer.target {
        return None;
    }
    let x: f64 = parts.next()?.parse().ok()?;
    let ratio = us.median / peer.median;
    Some(if us.lower_better {
        (format!("≤{x}× {}", peer.target), ratio <= x)
    } else {
        (format!("≥{x}× {}", peer.target), ratio >= x)
    })
}

fn judge_own(clause: &str, us: &Line, lines: &[Line], ours: &str) -> Option<(String, bool)> {
    let mut parts = clause.splitn(3, ':');
    match parts.next()? {
        "nofail" => Some(("0 failures".into(), us.failures == 0)),
        "max" => {
            let x: f64 = parts.next()?.parse().ok()?;
            Some((format!("< {x} {}", us.metric), us.median < x))
        }
        "min" => {
            let x: f64 = parts.next()?.parse().ok()?;
            Some((format!("≥ {x} {}", us.metric), us.median >= x))
        }
        "self" => {
            let (test, x) = parts.next().zip(parts.next())?;
            let x: f64 = x.parse().ok()?;
            let base = lines
                .iter()
                .find(|l| l.test == test && l.metric == us.metric && l.target == ours)?;
            Some((format!("≥{x}× “{test}”"), us.median >= x * base.median))
        }
        _ => None,
    }
}

fn ratio(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.2}")
    } else {
        "—".into()
    }
}

/// Three significant digits, no exponent.
fn number(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    let a = x.abs();
    if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(test: &str, target: &str, median: f64, goal: &str) -> Line {
        Line {
            test: test.into(),
            metric: "MB/s".into(),
            target: target.into(),
            lower_better: false,
            median,
            failures: 0,
            goal: goal.into(),
        }
    }

    #[test]
    fn one_row_per_peer_with_ratio_and_goal() {
        let lines = vec![
            line("tftp w1", "netboot", 30.0, "peer:dnsmasq:1.5"),
            line("tftp w1", "dnsmasq", 10.0, ""),
            line("tftp w1", "tftpd-hpa", 40.0, ""),
        ];
        let table = render(&lines, "netboot");
        assert!(table.contains(
            "| tftp w1 | MB/s | 30.0 | dnsmasq | 10.0 | 3.00 | 0/0 | ≥1.5× dnsmasq | yes |"
        ));
        assert!(table.contains("| tftp w1 | MB/s | 30.0 | tftpd-hpa | 40.0 | 0.75 | 0/0 |  |  |"));
    }

    #[test]
    fn self_goal_compares_with_own_other_test() {
        let lines = vec![
            line("w1", "netboot", 30.0, ""),
            line("w16", "netboot", 100.0, "self:w1:5;nofail"),
        ];
        let table = render(&lines, "netboot");
        assert!(
            table.contains("| w16 | MB/s | 100 | — | — | — | 0 | ≥5× “w1”; 0 failures | **no** |")
        );
    }

    #[test]
    fn storm_goals_judge_a_two_server_peer_and_own_limits() {
        let mut wall = line("storm", "netboot", 7.0, "peer:dnsmasq+nginx:0.7;nofail");
        wall.lower_better = true;
        let mut peer = line("storm", "dnsmasq+nginx", 10.0, "");
        peer.lower_better = true;
        let table = render(&[wall, peer], "netboot");
        assert!(table.contains(
            "| storm | MB/s | 7.00 | dnsmasq+nginx | 10.0 | 0.70 | 0/0 | 0 failures; ≤0.7× dnsmasq+nginx | yes |"
        ));
        let mut rss = line("storm", "netboot", 70.0, "max:64");
        rss.metric = "peak RSS MiB".into();
        let table = render(&[rss], "netboot");
        assert!(table.contains("< 64 peak RSS MiB | **no** |"));
    }

    #[test]
    fn number_keeps_three_digits() {
        assert_eq!(number(1234.56), "1235");
        assert_eq!(number(12.345), "12.3");
        assert_eq!(number(0.01234), "0.012");
        assert_eq!(number(f64::NAN), "n/a");
    }
}
