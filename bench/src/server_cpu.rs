//! CPU time a server spends, read from /proc: a measure of its work per byte or per request
//! that scheduling noise on a shared machine does not move the way wall time does.

use std::fs;
use std::str::FromStr;
use std::time::Duration;

/// `LABEL=PID[,PID...]`: the processes whose CPU (with their children) is charged to a target;
/// several for a peer made of several servers (dnsmasq + nginx), summed.
#[derive(Clone, Debug)]
pub struct CpuPid {
    pub label: String,
    /// One or more.
    pub pids: Vec<u32>,
}

impl FromStr for CpuPid {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (label, list) = s
            .split_once('=')
            .ok_or_else(|| format!("expected LABEL=PID[,PID...], found {s:?}"))?;
        let pids = list
            .split(',')
            .map(|pid| {
                pid.parse()
                    .map_err(|_| format!("{pid:?} is not a process id"))
            })
            .collect::<Result<Vec<u32>, String>>()?;
        Ok(CpuPid {
            label: label.to_string(),
            pids,
        })
    }
}

/// Every process given for `label` (repeated `--cpu-pid` and comma lists alike).
pub fn pids_for(pids: &[CpuPid], label: &str) -> Vec<u32> {
    pids.iter()
        .filter(|p| p.label == label)
        .flat_map(|p| p.pids.iter().copied())
        .collect()
}

/// CPU used so far by `pid` and every live descendant, plus what their reaped children used
/// (tftpd-hpa forks a process per transfer, nginx works in child processes).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let ticks = tree_ticks(pid, 0)?;
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let per_second = if per_second > 0 {
        per_second as f64
    } else {
        100.0
    };
    Some(Duration::from_secs_f64(ticks as f64 / per_second))
}

fn tree_ticks(pid: u32, depth: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut total = stat_ticks(&stat)?;
    if depth < 4 {
        for child in children(pid) {
            // A child that exited between the listing and the read is counted by its parent's
            // cutime once reaped; missing it here loses at most one transfer's share.
            total += tree_ticks(child, depth + 1).unwrap_or(0);
        }
    }
    Some(total)
}

fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// utime + stime + cutime + cstime from a /proc/PID/stat line.
pub fn stat_ticks(stat: &str) -> Option<u64> {
    // The command name may hold spaces and parentheses; the fields start after the last ')'.
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    // After the name: state is field 3 of proc(5), so field N sits at index N - 3.
    [14, 15, 16, 17]
        .iter()
        .map(|n| fields.get(n - 3)?.parse::<u64>().ok())
        .sum()
}

/// CPU seconds processes use between [`Meter::start`] and [`Meter::stop`], summed over them.
pub struct Meter {
    pids: Vec<u32>,
    at_start: Vec<Option<Duration>>,
}

impl Meter {
    pub fn start(pids: Vec<u32>) -> Meter {
        let at_start = pids.iter().map(|&p| cpu_time(p)).collect();
        Meter { pids, at_start }
    }

    /// Seconds used since the start; None without a process or when one could not be read
    /// (a sum missing a server would flatter the peer).
    pub fn stop(self) -> Option<f64> {
        if self.pids.is_empty() {
            return None;
        }
        let mut total = Duration::ZERO;
        for (pid, start) in self.pids.iter().zip(self.at_start) {
            total += cpu_time(*pid)?.saturating_sub(start?);
        }
        Some(total.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_own_and_reaped_children_ticks() {
        let stat =
            "1234 (in.tftpd (x)) S 1 1234 1234 0 -1 4194560 100 0 0 0 7 5 3 2 20 0 1 0 99 1000 50";
        assert_eq!(stat_ticks(stat), Some(7 + 5 + 3 + 2));
        assert_eq!(stat_ticks("garbage"), None);
    }

    #[test]
    fn reads_this_process() {
        assert!(cpu_time(std::process::id()).is_some());
        assert!(cpu_time(u32::MAX).is_none());
    }

    #[test]
    fn parses_label_and_pid() {
        let p: CpuPid = "nginx=42".parse().unwrap();
        assert_eq!((p.label.as_str(), p.pids.as_slice()), ("nginx", &[42][..]));
        assert!("nginx".parse::<CpuPid>().is_err());
        assert!("nginx=x".parse::<CpuPid>().is_err());
        assert!("peer=1,".parse::<CpuPid>().is_err());
    }

    #[test]
    fn a_peer_of_several_processes_sums_them() {
        let pids: Vec<CpuPid> = ["peer=1,2", "netboot=3", "peer=4"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(pids_for(&pids, "peer"), vec![1, 2, 4]);
        assert_eq!(pids_for(&pids, "netboot"), vec![3]);
        assert!(pids_for(&pids, "nginx").is_empty());
        let me = std::process::id();
        assert!(Meter::start(vec![me, me]).stop().is_some());
        assert_eq!(Meter::start(vec![me, u32::MAX]).stop(), None);
        assert_eq!(Meter::start(Vec::new()).stop(), None);
    }
}
