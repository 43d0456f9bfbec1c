//! A throwaway PostgreSQL server for the shared-state tests: a cluster made by `initdb` in a
//! temporary directory, listening only on a unix socket in that directory (no TCP), stopped
//! when dropped. The system's own PostgreSQL service is never touched.
//!
//! `initdb` and `postgres` refuse to run as root, so as root (CI) they run as `netboot-ci`
//! (created by `.ci/run`) or else `nobody`, through util-linux's `setpriv`; the directory is
//! handed to that user. Without PostgreSQL's binaries a test is skipped with a line saying
//! so, except under CI (env `CI` set), where that is a failure: CI installs `postgresql`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::unprivileged::running_as_root;

/// How long `initdb` plus start-up may take before the test gives up.
const START_LIMIT: Duration = Duration::from_secs(30);
/// How long a fast shutdown may take before the server is killed.
const STOP_LIMIT: Duration = Duration::from_secs(5);
/// The cluster's superuser (trust authentication on its private socket).
pub const USER: &str = "netboot";

/// A running cluster, stopped on drop.
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// The unprivileged user it runs as, when the test runs as root.
    owner: Option<(u32, u32)>,
    server: Option<Child>,
}

impl Postgres {
    /// Starts a cluster for `test`, or returns `None` after saying why `test` is skipped.
    pub fn start(test: &str) -> Option<Postgres> {
        let Some(bin) = binaries() else {
            let why = "PostgreSQL's server binaries (initdb, postgres) are not installed \
                       (apt-get install postgresql; CI does)";
            assert!(std::env::var_os("CI").is_none(), "{test}: {why}");
            eprintln!("SKIPPED {test}: {why}");
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("netboot-pg")
            .tempdir()
            .unwrap();
        let owner = owner();
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let data = dir.path().join("data");
        let initdb = as_owner(owner, &bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", USER, "-A", "trust", "-E", "UTF8", "--locale=C"])
            .args(["--no-sync", "--no-instructions"])
            .output()
            .unwrap();
        assert!(
            initdb.status.success(),
            "initdb failed:\n{}",
            String::from_utf8_lossy(&initdb.stderr)
        );
        let mut pg = Postgres {
            dir,
            bin,
            owner,
            server: None,
        };
        pg.restart();
        Some(pg)
    }

    /// Starts the server again after [`Postgres::stop`], on the same data.
    pub fn restart(&mut self) {
        self.stop();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("postgres.log"))
            .unwrap();
        let server = as_owner(self.owner, &self.bin.join("postgres"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .arg("-k")
            .arg(self.dir.path())
            // The socket only; speed over durability, this data is thrown away.
            .args(["-c", "listen_addresses=", "-c", "fsync=off"])
            .args(["-c", "full_page_writes=off", "-c", "synchronous_commit=off"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.server = Some(server);
        self.wait_ready();
    }

    /// The URL `netboot serve --state` takes: the socket directory as the host.
    pub fn url(&self) -> String {
        let host = self.dir.path().to_str().unwrap().replace('/', "%2F");
        format!("postgres://{USER}@{host}/postgres")
    }

    /// The server's log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }

    /// Runs `sql` with psql and returns its unaligned output (rows one a line, `|` between
    /// columns); panics if psql fails.
    pub fn psql(&self, sql: &str) -> String {
        let out = self.psql_command(sql).output().unwrap();
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .trim_end()
            .to_string()
    }

    /// Runs `sql` with psql and returns its error text, or `None` if it succeeded.
    pub fn psql_error(&self, sql: &str) -> Option<String> {
        let out = self.psql_command(sql).output().unwrap();
        (!out.status.success()).then(|| String::from_utf8_lossy(&out.stderr).into_owned())
    }

    fn psql_command(&self, sql: &str) -> Command {
        let mut c = Command::new(self.bin.join("psql"));
        c.arg("-h")
            .arg(self.dir.path())
            .args(["-U", USER, "-d", "postgres", "-X", "-q", "-A", "-t"])
            .args(["-v", "ON_ERROR_STOP=1", "-c", sql])
            .stdin(Stdio::null());
        c
    }

    /// Stops the server (a fast shutdown, killed if it lingers): the database is down from
    /// here on.
    pub fn stop(&mut self) {
        let Some(mut server) = self.server.take() else {
            return;
        };
        // SIGINT is PostgreSQL's fast shutdown: sessions are ended, nothing is waited for.
        // SAFETY: kill(2) on our own child's pid, which is not reaped yet.
        unsafe { libc::kill(server.id() as libc::pid_t, libc::SIGINT) };
        let started = Instant::now();
        while started.elapsed() < STOP_LIMIT {
            if let Ok(Some(_)) = server.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = server.kill();
        let _ = server.wait();
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            let ready = Command::new(self.bin.join("pg_isready"))
                .arg("-h")
                .arg(self.dir.path())
                .args(["-U", USER, "-q"])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            let exited = self
                .server
                .as_mut()
                .and_then(|s| s.try_wait().ok().flatten());
            assert!(
                exited.is_none() && started.elapsed() < START_LIMIT,
                "PostgreSQL did not start ({exited:?} after {:?}):\n{}",
                started.elapsed(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The directory holding initdb and postgres: Debian's versioned one (the newest), or PATH.
fn binaries() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin): &(u32, PathBuf)| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).find(|dir| {
        ["initdb", "postgres", "pg_isready", "psql"]
            .iter()
            .all(|p| dir.join(p).is_file())
    })
}

/// As root: the unprivileged user the cluster runs as (uid, gid). Otherwise `None`: it runs
/// as whoever runs the test.
fn owner() -> Option<(u32, u32)> {
    if !running_as_root() {
        return None;
    }
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id")
            .args([flag, "netboot-ci"])
            .output()
            .ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    Some(match (id("-u"), id("-g")) {
        (Some(uid), Some(gid)) => (uid, gid),
        _ => (65534, 65534),
    })
}

fn as_owner(owner: Option<(u32, u32)>, program: &Path) -> Command {
    match owner {
        Some((uid, gid)) => {
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={uid}"))
                .arg(format!("--regid={gid}"))
                .arg("--clear-groups")
                .arg(program);
            c
        }
        None => Command::new(program),
    }
}
