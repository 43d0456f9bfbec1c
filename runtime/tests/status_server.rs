//! The status page, `/metrics` and `/status.json` served by a whole [`Runtime`] on loopback,
//! after a boot chain played by hand: a BIOS DISCOVER, the loader over TFTP, iPXE's DHCP, then
//! its scripts, kernel and initrd over HTTP.

use std::time::Duration;

use dhcproto::v4::MessageType;
use netboot_manifest::{sha256_hex, FileEntry, Manifest, Source};
use netboot_runtime::server::Runtime;
use netboot_runtime::status::Event;
use netboot_runtime::Snapshot;
use netboot_test_support::dhcp::{generated, manifest, Req, KNOWN_MAC};
use netboot_test_support::whole_runtime::{boot_file, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

const KERNEL: usize = 300_000;
const INITRD: usize = 120_000;
/// Markup in a header the page shows: it must arrive escaped.
const AGENT: &str = "iPXE/1.21.1 <script>alert(1)</script>";

/// dhcp_support's manifest (host `web1` = 52:54:00:12:34:56) plus a kernel and an initrd,
/// and whatever `extra` routes a test wants.
fn snapshot(extra: &[(&str, &[u8])]) -> (Snapshot, tempfile::TempDir) {
    let mut generated = generated();
    generated.insert("kernel".into(), vec![7u8; KERNEL]);
    generated.insert("initrd".into(), vec![9u8; INITRD]);
    for (route, bytes) in extra {
        generated.insert(route.to_string(), bytes.to_vec());
    }
    let mut manifest: Manifest = manifest();
    for (route, bytes) in &generated {
        manifest.files.entry(route.clone()).or_insert(FileEntry {
            size: bytes.len() as u64,
            sha256: sha256_hex(bytes),
            source: Source::Generated {
                file: route.clone(),
            },
            tftp: true,
            http: true,
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let snapshot = Snapshot::from_compiled(manifest, &generated, dir.path());
    (snapshot, dir)
}

/// A plain RFC 1350 read: 512-byte blocks, each acknowledged.
async fn tftp_get(runtime: &Runtime, file: &str) -> Vec<u8> {
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut rrq = vec![0, 1];
    rrq.extend_from_slice(file.as_bytes());
    rrq.extend_from_slice(b"\0octet\0");
    client.send_to(&rrq, runtime.bound().tftp).await.unwrap();
    let mut data = Vec::new();
    let mut buf = [0u8; 600];
    loop {
        let (n, from) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
            .await
            .expect("TFTP data arrives")
            .unwrap();
        assert_eq!(&buf[..2], &[0, 3], "a DATA packet");
        data.extend_from_slice(&buf[4..n]);
        client.send_to(&[0, 4, buf[2], buf[3]], from).await.unwrap();
        if n < 4 + 512 {
            return data;
        }
    }
}

/// One request on its own connection: (status, body).
async fn http_get(runtime: &Runtime, target: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(runtime.bound().http).await.unwrap();
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: x\r\nUser-Agent: {AGENT}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response))
        .await
        .expect("the response ends")
        .unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    let status = head[9..12].parse().unwrap();
    (status, body.to_string())
}

fn sample(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
        .parse()
        .unwrap()
}

/// The chain a BIOS machine with a PXE ROM walks, for host web1.
async fn boot_web1(runtime: &Runtime) {
    let discover = Req::firmware(
        MessageType::Discover,
        KNOWN_MAC,
        "PXEClient:Arch:00000:UNDI:002001",
        0,
    );
    assert_eq!(boot_file(runtime, &discover).await, "undionly.kpxe");
    assert_eq!(tftp_get(runtime, "undionly.kpxe").await, b"fake undionly");
    let ipxe = Req::ipxe(MessageType::Discover, KNOWN_MAC);
    let script = boot_file(runtime, &ipxe).await;
    // A listed host's iPXE is sent straight to its own script.
    assert!(
        script.ends_with("/hosts/52-54-00-12-34-56.ipxe"),
        "{script:?}"
    );
    for (route, status) in [
        ("/hosts/52-54-00-12-34-56.ipxe", 200),
        ("/kernel", 200),
        ("/initrd", 200),
    ] {
        assert_eq!(http_get(runtime, route).await.0, status, "{route}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_boot_chain_shows_on_the_page_in_metrics_and_in_json() {
    let (snap, _dir) = snapshot(&[]);
    let runtime = start(snap, true).await;
    boot_web1(&runtime).await;
    // A file the manifest does not have: an error on the page (same address, so web1).
    assert_eq!(http_get(&runtime, "/nope.efi").await.0, 404);

    let (status, page) = http_get(&runtime, "/").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<span class=\"mac\">52:54:00:12:34:56</span>"),
        "{page}"
    );
    assert!(page.contains("<span class=\"host\">web1</span>"));
    assert!(page.contains("data-reached=\"initrd\""));
    assert!(page.contains("bios → undionly.kpxe"));
    assert!(page.contains("<td class=\"stage-loader\"><div class=\"step ok\"><span class=\"file\">undionly.kpxe</span>"));
    assert!(page.contains(
        "<td class=\"stage-kernel\"><div class=\"step ok\"><span class=\"file\">kernel</span>"
    ));
    assert!(page.contains("293.0 KiB"), "kernel size shown");
    assert!(page.contains(
        "<td class=\"stage-initrd\"><div class=\"step ok\"><span class=\"file\">initrd</span>"
    ));
    assert!(
        !page.contains("<script>"),
        "the User-Agent arrived unescaped"
    );
    assert!(page.contains("iPXE/1.21.1 &lt;script&gt;alert(1)&lt;/script&gt;"));

    let (status, metrics) = http_get(&runtime, "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(
        sample(&metrics, "netboot_dhcp_answers_total{kind=\"bios\"}"),
        1.0
    );
    assert_eq!(
        sample(&metrics, "netboot_dhcp_answers_total{kind=\"ipxe\"}"),
        1.0
    );
    assert_eq!(
        sample(&metrics, "netboot_served_bytes_total{protocol=\"tftp\"}"),
        13.0
    );
    let scripts = generated()["hosts/52-54-00-12-34-56.ipxe"].len() as f64;
    assert_eq!(
        sample(&metrics, "netboot_served_bytes_total{protocol=\"http\"}"),
        scripts + (KERNEL + INITRD) as f64,
        "the page and /metrics themselves are not counted"
    );
    assert_eq!(
        sample(
            &metrics,
            "netboot_transfers_total{protocol=\"http\",result=\"ok\"}"
        ),
        3.0
    );
    assert_eq!(
        sample(
            &metrics,
            "netboot_transfer_duration_seconds_count{protocol=\"tftp\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(
            &metrics,
            "netboot_requests_refused_total{protocol=\"http\"}"
        ),
        1.0
    );
    assert_eq!(sample(&metrics, "netboot_routes_out_of_service"), 0.0);

    let (status, json) = http_get(&runtime, "/status.json").await;
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let machines = doc["machines"].as_array().unwrap();
    // Everything came from 127.0.0.1, which the host script tied to web1's MAC; the 404
    // after it belongs to the same address, so to web1 too.
    assert_eq!(machines.len(), 1, "{json}");
    let web1 = &machines[0];
    assert_eq!(web1["mac"], "52:54:00:12:34:56");
    assert_eq!(web1["reached"], "initrd");
    let stages: Vec<&str> = web1["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        ["dhcp", "loader", "dhcp", "script", "kernel", "initrd", "initrd"]
    );
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_count_and_a_failed_one_shows() {
    let (snap, _dir) = snapshot(&[]);
    let runtime = start(snap, true).await;
    let reloader = runtime.reloader();
    let (again, _dir2) = snapshot(&[]);
    reloader.replace(again);
    let (_, metrics) = http_get(&runtime, "/metrics").await;
    assert_eq!(
        sample(&metrics, "netboot_reloads_total{result=\"ok\"}"),
        1.0
    );
    assert_eq!(sample(&metrics, "netboot_last_reload_success"), 1.0);

    // What `serve` reports when a fleet edit does not compile.
    reloader
        .events()
        .record(Event::reload_failed("fleet has errors:\n<line 3>"));
    let (_, metrics) = http_get(&runtime, "/metrics").await;
    assert_eq!(
        sample(&metrics, "netboot_reloads_total{result=\"failed\"}"),
        1.0
    );
    assert_eq!(sample(&metrics, "netboot_last_reload_success"), 0.0);
    let (_, page) = http_get(&runtime, "/").await;
    assert!(
        page.contains("still serving the last good fleet: fleet has errors:"),
        "{page}"
    );
    assert!(page.contains("id=\"empty\""), "no machine yet");
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_route_named_metrics_wins_over_the_metrics_page() {
    let (snap, _dir) = snapshot(&[("metrics", b"the fleet's own file\n")]);
    let runtime = start(snap, true).await;
    assert_eq!(
        http_get(&runtime, "/metrics").await,
        (200, "the fleet's own file\n".to_string())
    );
    // The other reserved paths are still the status module's.
    let (status, json) = http_get(&runtime, "/status.json").await;
    assert_eq!(status, 200);
    assert!(json.starts_with('{'));
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_status_off_the_reserved_paths_are_ordinary_misses() {
    let (snap, _dir) = snapshot(&[]);
    let runtime = start(snap, false).await;
    boot_web1(&runtime).await;
    for path in ["/", "/metrics", "/status.json"] {
        assert_eq!(http_get(&runtime, path).await.0, 404, "{path}");
    }
    runtime.shutdown().await;
}
