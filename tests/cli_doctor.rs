//! `netboot doctor`. Without root: argument and interface errors. With root (run by .ci/run):
//! a namespaced segment with a plain DHCP server (dnsmasq) and a second PXE proxy (dnsmasq in
//! proxy mode), where doctor must report both by IP and MAC and fail loudly on the proxy; then,
//! with the proxy gone, pass. And `doctor --router`: a router (dnsmasq) configured from
//! `netboot dhcp-config` passes kind by kind; one whose export was edited wrong is named.
//!
//! The segment is the shared namespace lab, which removes every namespace and process on drop,
//! so a failing assertion cleans up too.

use std::process::{Command, Output};

use netboot_test_support::fleet_dir::Fleet;
use netboot_test_support::golden;
use netboot_test_support::lab::{Lab, Role, IFACE};

fn netboot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netboot"))
        .args(args)
        .output()
        .expect("run netboot")
}

#[test]
fn router_check_needs_a_fleet() {
    let out = netboot(&["doctor", "--interface", "lo", "--router"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--fleet"));
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

#[test]
#[ignore = "needs root: run by .ci/run"]
fn finds_the_dhcp_server_and_a_second_pxe_proxy_on_the_segment() {
    // The router's dnsmasq is the plain DHCP server (10.77.0.1); the server namespace gets a
    // second PXE proxy (10.77.0.2); doctor runs in the client namespace (10.77.0.10).
    // A fixed subnet: the golden output names the addresses.
    let mut lab = Lab::builder().subnet("10.77.0").client().build();
    let srv_mac = lab.netns(Role::Router).mac(IFACE);
    let pxe_mac = lab.netns(Role::Server).mac(IFACE);
    let mut proxy = lab.dnsmasq_args("pxe");
    proxy.extend([
        "--dhcp-range=10.77.0.0,proxy".to_string(),
        "--pxe-service=x86PC,Rogue boot,undionly".into(),
    ]);
    lab.spawn(Role::Server, "pxe proxy", "dnsmasq", &proxy);
    lab.wait_listening(Role::Server, "udp", 67);

    let run = |lab: &Lab| {
        lab.netns(Role::Client)
            .command(env!("CARGO_BIN_EXE_netboot"))
            .args(["doctor", "--interface", "eth0", "--address", "10.77.0.10"])
            // dnsmasq pings an address for 3 s before offering it.
            .args(["--listen-seconds", "5"])
            .output()
            .unwrap()
    };
    let out = run(&lab);
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
    let doc_mac = lab.netns(Role::Client).mac(IFACE);
    golden::check_text(
        "cli/doctor-rogue-proxy.txt",
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
    let out = lab
        .netns(Role::Client)
        .command(env!("CARGO_BIN_EXE_netboot"))
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
    lab.stop_daemon("pxe proxy");
    let out = run(&lab);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("no problems found"), "{text}");
    assert!(!text.contains("10.77.0.2"), "{text}");

    // netboot itself as the second proxy: it hands out a boot file, so it is reported too.
    let fleet = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/installer/fleet.kdl");
    let serve = ["serve", fleet, "--interface", "eth0", "--no-watch"].map(String::from);
    lab.spawn(
        Role::Server,
        "netboot serve",
        env!("CARGO_BIN_EXE_netboot"),
        &serve,
    );
    lab.wait_listening(Role::Server, "udp", 67);
    lab.wait_listening(Role::Server, "udp", 4011);
    let out = run(&lab);
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

/// BIOS and UEFI x64 loaders (so UEFI HTTP Boot too) and iPXE's entry script; `@ADDRESS@` is
/// the lab's server.
const ROUTER_FLEET: &str = r#"
server { address "@ADDRESS@" }
loaders {
    bios "loaders/undionly.kpxe"
    efi-x64 "loaders/ipxe.efi"
}
artifact "kernel" path="files/kernel"
artifact "initrd" path="files/initrd"
profile "linux" {
    kernel "kernel"
    initrd "initrd"
}
default profile="linux"
"#;

#[test]
#[ignore = "needs root: run by .ci/run"]
fn router_check_passes_the_export_and_names_the_kind_a_wrong_one_gets_wrong() {
    let mut lab = Lab::builder().router_dhcp(false).build();
    let server = lab.server_addr();
    let fleet = Fleet::new(&ROUTER_FLEET.replace("@ADDRESS@", &server));
    fleet.write_file("loaders/ipxe.efi", b"stand-in loader\n");
    let out = netboot(&[
        "dhcp-config",
        fleet.path().to_str().unwrap(),
        "--for",
        "dnsmasq",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let export = String::from_utf8(out.stdout).unwrap();

    // The router's dnsmasq with `export` (no ping before offering: answers come at once).
    let start_router = |lab: &mut Lab, export: &str| {
        let conf = lab.work_dir().join("router-netboot.conf");
        std::fs::write(&conf, export).unwrap();
        let s = lab.subnet().to_string();
        let mut args = lab.dnsmasq_args("router");
        args.push(format!("--dhcp-range={s}.100,{s}.199,255.255.255.0,1h"));
        args.push("--no-ping".into());
        args.push(format!("--conf-file={}", conf.display()));
        lab.spawn(Role::Router, "router-dnsmasq", "dnsmasq", &args);
        lab.wait_listening(Role::Router, "udp", 67);
    };
    // doctor where netboot would run (`serve --no-dhcp`): the server namespace.
    let doctor = |lab: &Lab| {
        let out = lab
            .netns(Role::Server)
            .command(env!("CARGO_BIN_EXE_netboot"))
            .args(["doctor", "--interface", IFACE, "--no-dhcp", "--router"])
            .arg("--fleet")
            .arg(fleet.path())
            .args(["--listen-seconds", "2"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        println!("{text}");
        (out.status.code(), text)
    };
    let router = format!("{}.1", lab.subnet());
    let line = |text: &str, needle: &str| {
        text.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
            .to_string()
    };

    start_router(&mut lab, &export);
    let (code, text) = doctor(&lab);
    assert_eq!(code, Some(0), "{text}");
    for (kind, says) in [
        ("ipxe", format!("http://{server}:8080/boot.ipxe")),
        ("bios", format!("undionly.kpxe from {server}")),
        ("efi-x64", format!("ipxe.efi from {server}")),
        ("http-x64", format!("http://{server}:8080/ipxe.efi")),
    ] {
        assert_eq!(
            line(&text, &format!("{kind}: {router} gives")),
            format!("ok    {kind}: {router} gives {says}, as the fleet says")
        );
    }

    // The same router with a BIOS line edited by hand: doctor names that kind, and only it.
    lab.stop_daemon("router-dnsmasq");
    let wrong = export.replace(",undionly.kpxe,", ",pxelinux.0,");
    assert_ne!(wrong, export);
    start_router(&mut lab, &wrong);
    let (code, text) = doctor(&lab);
    assert_eq!(code, Some(1), "{text}");
    let bios = line(&text, &format!("bios: {router} gives"));
    assert!(bios.starts_with("FAIL"), "{bios}");
    assert!(
        bios.contains("gives boot file pxelinux.0; the fleet says undionly.kpxe"),
        "{bios}"
    );
    assert!(
        line(&text, &format!("efi-x64: {router} gives")).starts_with("ok"),
        "{text}"
    );
    assert!(text.contains("1 problem(s) found"), "{text}");
}
