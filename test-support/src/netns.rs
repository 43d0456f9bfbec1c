//! Network namespaces named after the test process, deleted on drop, with leftovers of dead
//! test processes removed before the first new one is made.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;

/// Every namespace the tests create starts with this, then the test process id.
const PREFIX: &str = "nbt";

/// A fresh name stem `nbt<pid>x<n>`: unique across parallel tests and test binaries.
pub fn unique_stem() -> (String, u32) {
    static CLEANED: Once = Once::new();
    static NEXT: AtomicU32 = AtomicU32::new(0);
    CLEANED.call_once(remove_stale);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    (format!("{PREFIX}{}x{n}", std::process::id()), n)
}

/// Deletes namespaces and work dirs left by test processes that no longer run (killed by a
/// timeout, say), with whatever still runs in those namespaces.
fn remove_stale() {
    for name in names_in("/run/netns")
        .into_iter()
        .filter(|n| of_dead_process(n))
    {
        kill_all_in(&name);
        let _ = Command::new("ip").args(["netns", "del", &name]).status();
    }
    let tmp = std::env::temp_dir();
    for name in names_in(&tmp).into_iter().filter(|n| of_dead_process(n)) {
        let _ = std::fs::remove_dir_all(tmp.join(name));
    }
}

fn names_in(dir: impl AsRef<std::path::Path>) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `name` is `nbt<pid>x…` for a process that has ended.
fn of_dead_process(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(PREFIX) else {
        return false;
    };
    let Some((pid, _)) = rest.split_once('x') else {
        return false;
    };
    match pid.parse::<u32>() {
        Ok(pid) => !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        Err(_) => false,
    }
}

/// Kills every process still running in namespace `name` (all of them were started by a lab).
fn kill_all_in(name: &str) {
    let Ok(out) = Command::new("ip").args(["netns", "pids", name]).output() else {
        return;
    };
    for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        let _ = Command::new("kill").args(["-KILL", pid]).status();
    }
}

/// A network namespace that exists as long as this value.
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates the namespace with its loopback up.
    pub fn create(name: &str) -> Netns {
        run(Command::new("ip").args(["netns", "add", name]));
        let ns = Netns {
            name: name.to_string(),
        };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n <ns> ARGS`, panicking with ip's message if it fails.
    pub fn ip(&self, args: &[&str]) {
        run(Command::new("ip").arg("-n").arg(&self.name).args(args));
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// Runs `program ARGS` inside the namespace and returns its stdout.
    pub fn output(&self, program: &str, args: &[&str]) -> String {
        let out = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {program} in {}: {e}", self.name));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The MAC address of `iface` in the namespace, as `ip link` prints it.
    pub fn mac(&self, iface: &str) -> String {
        let text = self.output("ip", &["-o", "link", "show", iface]);
        let at = text
            .find("link/ether ")
            .unwrap_or_else(|| panic!("no ether address on {iface} in {}: {text}", self.name))
            + "link/ether ".len();
        text[at..at + 17].to_string()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        kill_all_in(&self.name);
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
}
