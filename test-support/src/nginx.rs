//! Debian's nginx as a static HTTP origin (for `netboot build --bundle` trees): a config of its
//! own in a work directory, run in the foreground without privileges (as root, as `nobody`
//! through `setpriv`, like [`crate::unprivileged`]), with an access log a test reads to learn
//! what was fetched from it. Killed when dropped.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::daemon::{tail, Daemon};
use crate::netns::Netns;
use crate::unprivileged::running_as_root;

/// An nginx serving one directory on one address.
pub struct Nginx {
    daemon: Daemon,
    /// `http://ADDR:PORT`, no trailing `/`.
    pub url: String,
    work: tempfile::TempDir,
}

/// Writes `work/nginx.conf` serving `root` on `listen` (`ADDR:PORT`), in one process (no
/// master and workers: a worker outlives a killed master, and the test kills it), logging every request to
/// `work/access.log` as `METHOD URI STATUS BYTES`, and opens `work` to the unprivileged user.
/// `root` and the directories above it must be readable by everyone.
pub fn configure(root: &Path, listen: &str, work: &Path) -> PathBuf {
    std::fs::create_dir_all(work).unwrap();
    // nginx, as `nobody`, writes its pid, temp files and logs here.
    std::fs::set_permissions(work, std::fs::Permissions::from_mode(0o777)).unwrap();
    let w = work.display();
    let conf = format!(
        r#"daemon off;
master_process off;
pid {w}/nginx.pid;
error_log stderr info;
events {{ worker_connections 64; }}
http {{
    log_format plain '$request_method $request_uri $status $body_bytes_sent';
    access_log {w}/access.log plain;
    client_body_temp_path {w}/body;
    proxy_temp_path {w}/proxy;
    fastcgi_temp_path {w}/fastcgi;
    uwsgi_temp_path {w}/uwsgi;
    scgi_temp_path {w}/scgi;
    types {{ }}
    default_type application/octet-stream;
    server {{
        listen {listen};
        root {root};
    }}
}}
"#,
        root = root.display()
    );
    let path = work.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    path
}

/// The command that runs nginx on a config from [`configure`], in `netns` if given: as
/// `nobody` when the test runs as root.
pub fn command(netns: Option<&Netns>, work: &Path) -> Command {
    let mut argv: Vec<&str> = Vec::new();
    if running_as_root() {
        argv.extend([
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]);
    }
    argv.push("nginx");
    let mut cmd = match netns {
        Some(ns) => ns.command(argv[0]),
        None => Command::new(argv[0]),
    };
    cmd.args(&argv[1..])
        .arg("-p")
        .arg(work)
        .arg("-c")
        .arg(work.join("nginx.conf"))
        .args(["-e", "stderr"]);
    cmd
}

/// The access log of an nginx configured in `work`, one `METHOD URI STATUS BYTES` per line.
pub fn access_log(work: &Path) -> String {
    std::fs::read_to_string(work.join("access.log")).unwrap_or_default()
}

impl Nginx {
    /// Serves `root` on a free loopback port, once it accepts connections.
    pub fn serve_loopback(root: &Path) -> Nginx {
        let port = crate::ports::free_tcp_port();
        let work = tempfile::Builder::new()
            .prefix("netboot-nginx-")
            .tempdir()
            .unwrap();
        configure(root, &format!("127.0.0.1:{port}"), work.path());
        let log = work.path().join("nginx.log");
        let daemon = Daemon::spawn("nginx", command(None, work.path()), &log);
        let mut nginx = Nginx {
            daemon,
            url: format!("http://127.0.0.1:{port}"),
            work,
        };
        nginx.wait_accepting(port);
        nginx
    }

    fn wait_accepting(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = self.daemon.exited() {
                panic!(
                    "nginx exited ({status}):\n{}",
                    tail(&self.daemon.log_text(), 30)
                );
            }
            assert!(
                Instant::now() < deadline,
                "nginx does not accept after 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every request it has logged so far.
    pub fn access_log(&self) -> String {
        access_log(self.work.path())
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // Before the work dir goes: nginx holds its log and pid files there.
        self.daemon.stop();
    }
}
