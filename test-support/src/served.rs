//! `netboot serve` on loopback, on ports of its own, talked to with curl; and a bounded run of
//! a server that should refuse to start.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::fleet_dir::Fleet;
use crate::ports::{free_tcp_port, free_udp_port};

/// A running `netboot serve`, killed on drop.
pub struct Served {
    child: Child,
    log: Arc<Mutex<String>>,
    pub http: u16,
    pub tftp: u16,
}

impl Served {
    pub fn fleet(fleet: &Fleet) -> Served {
        Served::start(&[fleet.path().to_str().unwrap()])
    }

    /// Like [`Served::fleet`], with extra `serve` flags.
    pub fn fleet_with(fleet: &Fleet, flags: &[&str]) -> Served {
        let mut args = vec![fleet.path().to_str().unwrap().to_owned()];
        args.extend(flags.iter().map(|f| f.to_string()));
        Served::start(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn manifest(manifest: &Path) -> Served {
        Served::start(&["--manifest", manifest.to_str().unwrap()])
    }

    /// Starts a server that is expected to refuse the fleet; returns its exit status and log.
    pub fn fleet_fails(fleet: &Fleet) -> (ExitStatus, String) {
        Served::fleet_fails_with(fleet, &[])
    }

    pub fn fleet_fails_with(fleet: &Fleet, flags: &[&str]) -> (ExitStatus, String) {
        let output = Command::new(crate::netboot_bin())
            .args(["serve", "--address", "127.0.0.1", "--no-dhcp"])
            .args(["--http-port", &free_tcp_port().to_string()])
            .args(["--tftp-port", &free_udp_port().to_string()])
            .args(flags)
            .arg(fleet.path())
            .output()
            .unwrap();
        (
            output.status,
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Like [`Served::fleet_with`], but proxy-DHCP runs too; `flags` name its interface and
    /// ports (`--interface lo --dhcp-port N --pxe-port M` runs unprivileged).
    pub fn fleet_with_dhcp(fleet: &Fleet, flags: &[&str]) -> Served {
        let path = fleet.path();
        let mut args = vec![path.to_str().unwrap()];
        args.extend(flags);
        Served::spawn(&args, false)
    }

    fn start(source: &[&str]) -> Served {
        Served::spawn(source, true)
    }

    fn spawn(source: &[&str], no_dhcp: bool) -> Served {
        let (http, tftp) = (free_tcp_port(), free_udp_port());
        let mut child = Command::new(crate::netboot_bin())
            .arg("serve")
            .args(source)
            .args(["--address", "127.0.0.1"])
            .args(no_dhcp.then_some("--no-dhcp"))
            .args(["--http-port", &http.to_string()])
            .args(["--tftp-port", &tftp.to_string()])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let served = Served {
            child,
            log,
            http,
            tftp,
        };
        served.wait_for_log("serving", Duration::from_secs(10));
        served
    }

    /// Sends `signal` (`TERM`, `HUP`, ...) the way an operator would, with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill is installed");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// The exit status, once the server has exited; `None` if it still runs after `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if started.elapsed() >= limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn wait_for_log(&self, needle: &str, limit: Duration) {
        let started = Instant::now();
        while !self.log().contains(needle) {
            assert!(
                started.elapsed() < limit,
                "no `{needle}` in the server log within {limit:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn curl(&self, args: &[&str]) -> std::process::Output {
        Command::new("curl")
            .args(["--silent", "--max-time", "5"])
            .args(args)
            .output()
            .expect("curl is installed")
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.http)
    }

    pub fn http_status(&self, path: &str) -> u16 {
        let out = self.curl(&[
            "--path-as-is",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &self.url(path),
        ]);
        String::from_utf8_lossy(&out.stdout).parse().unwrap_or(0)
    }

    pub fn http_bytes(&self, path: &str) -> Vec<u8> {
        let out = self.curl(&["--fail", &self.url(path)]);
        assert!(out.status.success(), "GET {path} failed:\n{}", self.log());
        out.stdout
    }

    pub fn http_text(&self, path: &str) -> String {
        String::from_utf8(self.http_bytes(path)).unwrap()
    }

    /// Polls until `ok` holds for the body at `path`; panics after `limit`.
    pub fn wait_for_http_text(
        &self,
        path: &str,
        ok: impl Fn(&str) -> bool,
        limit: Duration,
    ) -> String {
        let started = Instant::now();
        loop {
            let text = String::from_utf8_lossy(&self.http_bytes(path)).into_owned();
            if ok(&text) {
                return text;
            }
            assert!(
                started.elapsed() < limit,
                "{path} did not change within {limit:?}; last body:\n{text}\nlog:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub fn tftp_bytes(&self, path: &str) -> Vec<u8> {
        let out = self.curl(&[&format!("tftp://127.0.0.1:{}/{path}", self.tftp)]);
        assert!(out.status.success(), "TFTP {path} failed:\n{}", self.log());
        out.stdout
    }

    pub fn tftp_fails(&self, path: &str) -> bool {
        !self
            .curl(&[&format!("tftp://127.0.0.1:{}/{path}", self.tftp)])
            .status
            .success()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `command` (its stderr captured) until it exits; `None` if it still runs after `limit`
/// (it is killed then), so a server that should have refused to start cannot hang the test.
pub fn exits_within(command: &mut Command, limit: Duration) -> Option<(ExitStatus, String)> {
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log.reopen().unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some((status, std::fs::read_to_string(log.path()).unwrap()));
        }
        if started.elapsed() >= limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
