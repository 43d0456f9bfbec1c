//! A `netboot serve` in the lab's server namespace that a test may kill and start again (same
//! fleet, same ports) while a VM boots. It is kept apart from the lab's daemons on purpose:
//! the lab fails a boot as soon as one of its daemons exits, and here the exit is the point.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::lab::{Lab, Role, IFACE};

/// The server's current process; each start gets its own log, `netboot-<generation>.log`.
pub struct Restartable {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    command: Vec<String>,
    work: PathBuf,
    child: Option<Child>,
    generation: usize,
}

impl Restartable {
    /// Starts `netboot serve FLEET` as [`super::fleet::serve`] does and waits for its sockets.
    pub fn serve(lab: &Lab, fleet: &Path) -> Restartable {
        Restartable::serve_with(lab, fleet, &[])
    }

    /// As [`Restartable::serve`], with `extra` arguments to every start (e.g. a
    /// `--state-dir` that each process after a restart must find again).
    pub fn serve_with(lab: &Lab, fleet: &Path, extra: &[&str]) -> Restartable {
        let ns = lab.netns(Role::Server).name().to_string();
        let mut command = vec![
            "ip".to_string(),
            "netns".into(),
            "exec".into(),
            ns,
            crate::netboot_bin().display().to_string(),
            "serve".into(),
            fleet.display().to_string(),
            "--interface".into(),
            IFACE.into(),
            "--address".into(),
            lab.server_addr(),
            "--http-port".into(),
            "8080".into(),
        ];
        command.extend(extra.iter().map(|a| a.to_string()));
        let server = Restartable {
            inner: Arc::new(Mutex::new(Inner {
                command,
                work: lab.work_dir().to_path_buf(),
                child: None,
                generation: 0,
            })),
        };
        server.start();
        server
    }

    /// A handle on the same server for another thread.
    pub fn handle(&self) -> Restartable {
        Restartable {
            inner: Arc::clone(&self.inner),
        }
    }

    /// Starts a new process (the old one must be stopped) and waits until it serves.
    pub fn start(&self) {
        let mut inner = self.inner.lock().unwrap();
        assert!(inner.child.is_none(), "the server is already running");
        inner.generation += 1;
        let log = inner.work.join(format!("netboot-{}.log", inner.generation));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(&inner.command[0])
            .args(&inner.command[1..])
            .env("RUST_LOG", "debug")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start netboot serve");
        inner.child = Some(child);
        drop(inner);
        let started = Instant::now();
        while !self.log(self.generation()).contains("serving") {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "restarted netboot did not serve:\n{}",
                self.log(self.generation())
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server with SIGKILL: no goodbye packets, no cleanup, like a crash.
    pub fn kill(&self) {
        let mut inner = self.inner.lock().unwrap();
        if let Some(mut child) = inner.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// How many times it was started.
    pub fn generation(&self) -> usize {
        self.inner.lock().unwrap().generation
    }

    /// The log of start number `generation` (1 is the first).
    pub fn log(&self, generation: usize) -> String {
        let work = self.inner.lock().unwrap().work.clone();
        std::fs::read(work.join(format!("netboot-{generation}.log")))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Every generation's log, for failure messages.
    pub fn logs(&self) -> String {
        (1..=self.generation())
            .map(|g| format!("---- netboot start {g} ----\n{}", self.log(g)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Restartable {
    fn drop(&mut self) {
        // Only the last handle stops the server.
        if Arc::strong_count(&self.inner) == 1 {
            self.kill();
        }
    }
}
