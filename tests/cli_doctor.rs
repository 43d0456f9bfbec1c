//! `netboot doctor`. Without root: argument and interface errors. With root (run by .ci/run):
//! a namespaced segment with a plain DHCP server (dnsmasq) and a second PXE proxy (dnsmasq in
//! proxy mode), where doctor must report both by IP and MAC and fail loudly on the proxy; then,
//! with the proxy gone, pass.
//!
//! Every namespace and process is removed by a drop guard, so a failing assertion cleans up too.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

fn netboot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netboot"))
        .args(args)
        .output()
        .expect("run netboot")
}

#[test]
fn missing_interface_is_a_usage_error() {
    let out = netboot(&["doctor", "--no-discover"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--interface"));
}

#[test]
fn unknown_interface_is_a_problem_and_nothing_is_sent() {
    let out = netboot(&[
        "doctor",
        "--interface",
        "nb-no-such0",
        // Ports nobody else on a test machine uses: the check binds them for a moment.
        "--no-dhcp",
        "--http-port",
        "18080",
        "--tftp-port",
        "18069",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("interface nb-no-such0 does not exist"),
        "{text}"
    );
    assert!(text.contains("no DISCOVER sent"), "{text}");
}

#[test]
fn a_taken_port_names_its_holder() {
    let held = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let out = netboot(&[
        "doctor",
        "--interface",
        "lo",
        "--no-discover",
        "--no-dhcp",
        "--tftp-port",
        "18069",
        "--http-port",
        &port,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let pid = std::process::id().to_string();
    assert!(
        text.contains(&format!("port {port}/tcp (HTTP) is taken by")) && text.contains(&pid),
        "{text}"
    );
}

/// Replaces what changes from run to run (MACs, the xid, the offered address) with names.
fn normalise(text: &str, names: &[(&str, &str)]) -> String {
    let mut out = text.to_string();
    for (from, to) in names {
        out = out.replace(from, to);
    }
    if let Some(at) = out.find("xid 0x") {
        let start = at + "xid 0x".len();
        let end = (start + 8).min(out.len());
        out.replace_range(start..end, "XID");
    }
    let offered = out
        .find("OFFER of address ")
        .map(|at| at + "OFFER of address ".len());
    if let Some(start) = offered {
        let end = out[start..].find(';').map_or(out.len(), |e| start + e);
        out.replace_range(start..end, "OFFERED");
    }
    out
}

fn golden(name: &str, text: &str) {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/cli")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    assert_eq!(text, want, "differs from {}", path.display());
}

/// Namespaces, veths and processes of one test, removed on drop.
struct Lab {
    tag: String,
    namespaces: Vec<String>,
    children: Vec<(String, Child)>,
}

impl Lab {
    fn new() -> Lab {
        Lab {
            tag: format!("nbd{}", std::process::id() % 100_000),
            namespaces: Vec::new(),
            children: Vec::new(),
        }
    }

    fn ns(&self, role: &str) -> String {
        format!("{}{role}", self.tag)
    }

    fn ip(&self, args: &[&str]) {
        let out = Command::new("ip").args(args).output().expect("ip");
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn add_ns(&mut self, name: &str) {
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        self.ip(&["netns", "add", name]);
        self.namespaces.push(name.to_string());
        self.ip(&["-n", name, "link", "set", "lo", "up"]);
    }

    /// A namespace with `eth0` at `addr`/24, plugged into the hub's bridge.
    fn host(&mut self, role: &str, addr: &str, index: usize) -> String {
        let ns = self.ns(role);
        self.add_ns(&ns);
        let hub = self.ns("hub");
        let port = format!("{}p{index}", self.tag);
        self.ip(&[
            "-n", &hub, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns,
        ]);
        self.ip(&["-n", &hub, "link", "set", &port, "master", "br0", "up"]);
        self.ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{addr}/24"),
            "dev",
            "eth0",
        ]);
        self.ip(&["-n", &ns, "link", "set", "eth0", "up"]);
        ns
    }

    fn mac(&self, ns: &str) -> String {
        let out = Command::new("ip")
            .args(["-n", ns, "-o", "link", "show", "eth0"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let at = text.find("link/ether ").expect("ether address") + "link/ether ".len();
        text[at..at + 17].to_string()
    }

    fn spawn(&mut self, name: &str, ns: &str, args: &[&str]) {
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        self.children.push((name.to_string(), child));
    }

    fn stop(&mut self, name: &str) {
        if let Some(at) = self.children.iter().position(|(n, _)| n == name) {
            let (_, mut child) = self.children.remove(at);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn assert_running(&mut self) {
        for (name, child) in &mut self.children {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                panic!("{name} exited early ({status}): {err}");
            }
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

fn dnsmasq(dir: &Path, name: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "dnsmasq",
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--port=0",
        "--interface=eth0",
        "--bind-interfaces",
        "--user=root",
        "--log-dhcp",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(format!(
        "--pid-file={}",
        dir.join(format!("{name}.pid")).display()
    ));
    args.push(format!(
        "--dhcp-leasefile={}",
        dir.join(format!("{name}.leases")).display()
    ));
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

#[test]
#[ignore = "needs root: run by .ci/run"]
fn finds_the_dhcp_server_and_a_second_pxe_proxy_on_the_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut lab = Lab::new();
    let hub = lab.ns("hub");
    lab.add_ns(&hub);
    lab.ip(&[
        "-n",
        &hub,
        "link",
        "add",
        "br0",
        "type",
        "bridge",
        "forward_delay",
        "0",
    ]);
    lab.ip(&["-n", &hub, "link", "set", "br0", "up"]);
    let srv = lab.host("srv", "10.77.0.1", 1);
    let pxe = lab.host("pxe", "10.77.0.2", 2);
    let doc = lab.host("doc", "10.77.0.10", 3);
    let (srv_mac, pxe_mac) = (lab.mac(&srv), lab.mac(&pxe));

    let plain = dnsmasq(
        dir.path(),
        "srv",
        &["--dhcp-range=10.77.0.100,10.77.0.150,1h"],
    );
    let proxy = dnsmasq(
        dir.path(),
        "pxe",
        &[
            "--dhcp-range=10.77.0.0,proxy",
            "--pxe-service=x86PC,Rogue boot,undionly",
        ],
    );
    lab.spawn(
        "dhcp server",
        &srv,
        &plain.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    lab.spawn(
        "pxe proxy",
        &pxe,
        &proxy.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    std::thread::sleep(Duration::from_millis(1500));
    lab.assert_running();

    let run = |ns: &str| {
        Command::new("ip")
            .args(["netns", "exec", ns, env!("CARGO_BIN_EXE_netboot")])
            .args(["doctor", "--interface", "eth0", "--address", "10.77.0.10"])
            // dnsmasq pings an address for 3 s before offering it.
            .args(["--listen-seconds", "5"])
            .output()
            .unwrap()
    };
    let out = run(&doc);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{text}");
    assert_eq!(out.status.code(), Some(1), "{text}");
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
            .to_string()
    };
    let server = line(&format!("10.77.0.1 (mac {srv_mac}"));
    assert!(
        server.contains("DHCP server, OFFER of address 10.77.0.1"),
        "{server}"
    );
    let rogue = line(&format!("10.77.0.2 (mac {pxe_mac}"));
    assert!(rogue.contains("proxy-DHCP"), "{rogue}");
    assert!(rogue.contains("PXEClient"), "{rogue}");
    assert!(line("WARNING: 10.77.0.2").starts_with("FAIL"), "{text}");
    assert!(line("address 10.77.0.10 is on eth0").starts_with("ok"));
    assert!(line("port 67/udp").contains("is free"));
    let doc_mac = lab.mac(&doc);
    golden(
        "doctor-rogue-proxy.txt",
        &normalise(
            &text,
            &[
                (&doc_mac, "DOC-MAC"),
                (&srv_mac, "SRV-MAC"),
                (&pxe_mac, "PXE-MAC"),
            ],
        ),
    );

    // The same as JSON, for scripts.
    let out = Command::new("ip")
        .args(["netns", "exec", &doc, env!("CARGO_BIN_EXE_netboot")])
        .args(["doctor", "--interface", "eth0", "--listen-seconds", "5"])
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let responders = json["responders"].as_array().unwrap();
    let by_ip = |ip: &str| {
        responders
            .iter()
            .find(|r| r["ip"] == ip)
            .unwrap_or_else(|| panic!("{ip} missing in {json}"))
    };
    assert_eq!(by_ip("10.77.0.1")["kind"], "dhcp");
    assert_eq!(by_ip("10.77.0.1")["mac"], srv_mac.as_str());
    assert!(by_ip("10.77.0.1")["pxe_server"].is_null());
    assert_eq!(by_ip("10.77.0.2")["kind"], "proxy");
    assert!(by_ip("10.77.0.2")["pxe_server"].is_string());
    assert_eq!(json["problems"], 1);

    // With the rogue proxy gone, the segment is healthy.
    lab.stop("pxe proxy");
    let out = run(&doc);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("no problems found"), "{text}");
    assert!(!text.contains("10.77.0.2"), "{text}");

    // netboot itself as the second proxy: it hands out a boot file, so it is reported too.
    let fleet = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/installer/fleet.kdl");
    let serve = [
        env!("CARGO_BIN_EXE_netboot"),
        "serve",
        fleet,
        "--interface",
        "eth0",
        "--no-watch",
    ];
    lab.spawn("netboot serve", &pxe, &serve);
    std::thread::sleep(Duration::from_millis(2000));
    lab.assert_running();
    let out = run(&doc);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{text}");
    assert_eq!(out.status.code(), Some(1), "{text}");
    let ours = text
        .lines()
        .find(|l| l.contains(&format!("10.77.0.2 (mac {pxe_mac}")))
        .unwrap_or_else(|| panic!("netboot serve not heard:\n{text}"));
    assert!(
        ours.contains("boot file undionly.kpxe, next-server 10.77.0.2"),
        "{ours}"
    );
    assert!(text.contains("hands out boot file undionly.kpxe"), "{text}");
}
