//! The status page and `/status.json` rendered for a fixed, populated history, compared byte
//! for byte with runtime/tests/golden/status/ (regenerate with
//! `SNAPSHOTS=overwrite cargo test -p netboot-runtime --test status_render`, then review the diff).
//! One history is a fleet at work; the other puts markup, quotes, ampersands and control
//! characters in every string a client or an operator's files can choose.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use netboot_manifest::{ClientKind, MacAddr, Protocol};
use netboot_runtime::status::{
    json, page, Event, Events, Install, InstallState, Limits, NoNeighbors, Serving,
};

const WEB1: MacAddr = MacAddr([0x52, 0x54, 0, 0xe2, 0xe0, 1]);
const DB2: MacAddr = MacAddr([0x52, 0x54, 0, 0xe2, 0xe0, 2]);
const STRANGER: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x42]);

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_607_523) + Duration::from_millis(ms)
}

fn ip(last: u8) -> IpAddr {
    Ipv4Addr::new(10, 77, 1, last).into()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A BIOS machine booted all the way, a UEFI machine failing its kernel on its second boot, a
/// machine the fleet does not list, an address nothing named, a failed reload, a route out of
/// service, and limits small enough that both machines and events were forgotten.
fn fleet_at_work() -> (Events, Serving, SystemTime) {
    let events = Events::with_neighbors(
        Limits {
            machines: 4,
            events_per_machine: 8,
        },
        NoNeighbors,
    );
    let url = "http://10.77.1.2:8080/boot.ipxe";
    let agent = Some("iPXE/1.21.1 (g4bd064de)");
    let history = [
        // Forgotten: the oldest machine, pushed out by the limit of four.
        Event::done(Protocol::Http, ip(90), "boot.ipxe", 300, ms(3)),
        Event::dhcp(
            WEB1,
            Ipv4Addr::UNSPECIFIED,
            ClientKind::Bios,
            "undionly.kpxe",
        ),
        Event::dhcp(
            WEB1,
            Ipv4Addr::UNSPECIFIED,
            ClientKind::Bios,
            "undionly.kpxe",
        ),
        Event::done(Protocol::Tftp, ip(50), "undionly.kpxe", 70_144, ms(300)),
        Event::dhcp(WEB1, Ipv4Addr::UNSPECIFIED, ClientKind::Ipxe, url),
        Event::done(Protocol::Http, ip(50), "boot.ipxe", 300, ms(2)).with_user_agent(agent),
        Event::done(
            Protocol::Http,
            ip(50),
            "hosts/52-54-00-e2-e0-01.ipxe",
            200,
            ms(2),
        )
        .with_user_agent(agent),
        Event::done(
            Protocol::Http,
            ip(50),
            "artifacts/kernel",
            5_452_595,
            ms(1500),
        )
        .with_user_agent(agent),
        Event::done(
            Protocol::Http,
            ip(50),
            "artifacts/initrd",
            71_000_000,
            ms(65_000),
        )
        .with_user_agent(agent),
        // db2: UEFI over PXE, a kernel cut short, a reboot, and the kernel cut again.
        Event::dhcp(
            DB2,
            Ipv4Addr::new(10, 77, 1, 51),
            ClientKind::EfiX64,
            "ipxe.efi",
        ),
        Event::done(Protocol::Tftp, ip(51), "ipxe.efi", 1_048_576, ms(900)),
        Event::dhcp(DB2, Ipv4Addr::new(10, 77, 1, 51), ClientKind::Ipxe, url),
        Event::done(Protocol::Http, ip(51), "boot.ipxe", 300, ms(2)),
        Event::failed(
            Protocol::Http,
            ip(51),
            "artifacts/kernel",
            4096,
            ms(3000),
            "connection reset by peer",
        ),
        Event::dhcp(
            DB2,
            Ipv4Addr::new(10, 77, 1, 51),
            ClientKind::EfiX64,
            "ipxe.efi",
        ),
        Event::done(Protocol::Tftp, ip(51), "ipxe.efi", 1_048_576, ms(880)),
        Event::dhcp(DB2, Ipv4Addr::new(10, 77, 1, 51), ClientKind::Ipxe, url),
        Event::done(Protocol::Http, ip(51), "boot.ipxe", 300, ms(2)),
        Event::refused(
            Protocol::Http,
            ip(51),
            "/hosts/52-54-00-e2-e0-02.ipxe",
            "404 not in the manifest",
        ),
        Event::failed(
            Protocol::Http,
            ip(51),
            "artifacts/kernel",
            1_000_000,
            ms(60_000),
            "stalled for 60 s",
        ),
        // A machine the fleet does not list, answered by iPXE in its ROM.
        Event::dhcp(STRANGER, Ipv4Addr::UNSPECIFIED, ClientKind::Ipxe, url),
        // An address that fetched without DHCP or a host script naming it.
        Event::refused(Protocol::Tftp, ip(99), "pxelinux.0", "file not found"),
        Event::reload_failed("fleet has errors:\nline 3: unknown node `kernal`"),
    ];
    let now = replay(&events, history);
    let serving = Serving {
        hosts: [(WEB1, "web1".to_string()), (DB2, "db2".to_string())].into(),
        files: 11,
        fleet_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
        broken: vec![(
            "artifacts/initrd".into(),
            "changed on disk since the build".into(),
        )],
        // web1 installs once: not reported yet, so it gets its installer.
        installs: [(
            WEB1,
            Install {
                host: "web1".into(),
                generation: 2,
                state: InstallState::Pending,
            },
        )]
        .into(),
    };
    (events, serving, now)
}

/// Records `history` as the servers would: each step a second after the last one ended, a
/// transfer when it ends (so its start is its time less its duration). Returns a moment a few
/// seconds after the last step, for the page's "ago".
fn replay(events: &Events, history: impl IntoIterator<Item = Event>) -> SystemTime {
    let mut clock = at(0);
    for event in history {
        if let Event::Transfer(t) = &event {
            clock += t.duration;
        }
        events.record_at(event, clock);
        clock += Duration::from_secs(1);
    }
    clock + Duration::from_secs(6)
}

/// Markup, both quotes, an ampersand and control characters.
const EVIL: &str = "<script>alert(\"x\")</script>'&\u{7}\n";

/// `EVIL` in every string a client chooses (file names, user agents, refusal reasons, errors)
/// and in those an operator's fleet chooses (host names, routes out of service, reload errors).
fn hostile() -> (Events, Serving, SystemTime) {
    let events = Events::with_neighbors(Limits::default(), NoNeighbors);
    let history = [
        Event::dhcp(WEB1, Ipv4Addr::UNSPECIFIED, ClientKind::Bios, EVIL),
        Event::done(Protocol::Tftp, ip(50), EVIL, 10, ms(1)),
        Event::dhcp(WEB1, Ipv4Addr::UNSPECIFIED, ClientKind::Ipxe, EVIL),
        Event::refused(Protocol::Http, ip(50), EVIL, EVIL).with_user_agent(Some(EVIL)),
        Event::done(
            Protocol::Http,
            ip(50),
            "hosts/52-54-00-e2-e0-01.ipxe",
            1,
            ms(1),
        )
        .with_user_agent(Some(EVIL)),
        Event::failed(Protocol::Http, ip(50), EVIL, 9, ms(1), EVIL).with_user_agent(Some(EVIL)),
        Event::refused(Protocol::Tftp, ip(99), EVIL, EVIL),
        Event::reload_failed(EVIL),
    ];
    let now = replay(&events, history);
    let serving = Serving {
        hosts: [(WEB1, EVIL.to_string())].into(),
        files: 1,
        fleet_sha256: EVIL.into(),
        broken: vec![(EVIL.into(), EVIL.into())],
        installs: [(
            WEB1,
            Install {
                host: EVIL.into(),
                generation: 1,
                state: InstallState::Installed,
            },
        )]
        .into(),
    };
    (events, serving, now)
}

fn golden(name: &str, got: &str) {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "golden",
        "status",
        name,
    ]
    .iter()
    .collect();
    netboot_test_support::golden::check_file(&path, got);
}

#[test]
fn a_fleet_at_work_renders_as_the_golden_page_and_json() {
    let (events, serving, now) = fleet_at_work();
    let view = events.view();
    golden("page.html", &page::render(&view, &serving, now));
    golden("status.json", &json::render(&view, &serving, now));
}

#[test]
fn hostile_strings_render_as_the_golden_page_and_json() {
    let (events, serving, now) = hostile();
    let view = events.view();
    golden("hostile.html", &page::render(&view, &serving, now));
    golden("hostile.json", &json::render(&view, &serving, now));
}

#[test]
fn hostile_strings_come_out_escaped_in_every_field() {
    let (events, serving, now) = hostile();
    let page = page::render(&events.view(), &serving, now);
    let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&amp;\u{FFFD}\u{FFFD}";
    assert!(!page.contains("<script"), "raw markup:\n{page}");
    assert!(!page.contains("\")"), "a raw double quote:\n{page}");
    assert!(!page.contains("'&"), "a raw quote or ampersand:\n{page}");
    assert!(!page.contains('\u{7}'), "a raw control character:\n{page}");
    // Each field, found by what surrounds it.
    for (field, around) in [
        (
            "host name",
            format!("<span class=\"host\">{escaped}</span>"),
        ),
        (
            "fleet hash",
            "Fleet <span class=\"file\">&lt;script&gt;aler</span>".to_string(),
        ),
        (
            "broken route",
            format!("<li><span class=\"file\">{escaped}</span>: {escaped}</li>"),
        ),
        (
            "reload error",
            format!("last good fleet: {}</span>", &escaped[..escaped.len() - 3]),
        ),
        (
            "dhcp boot file",
            format!("dhcp answer to bios: {escaped}</li>"),
        ),
        ("tftp file", format!("tftp {escaped} 10 B in 1 ms</li>")),
        (
            "refused file and reason",
            format!("http refused {escaped}: {escaped}"),
        ),
        (
            "user agent",
            format!("<span class=\"dim agent\">({escaped})</span>"),
        ),
        ("transfer error", format!(", failed: {escaped}")),
        ("step file", format!("bios → {escaped}</span>")),
        (
            "error list",
            format!("<span class=\"file\">{escaped}</span>: {escaped}</li>"),
        ),
    ] {
        assert!(page.contains(&around), "{field}: no {around:?} in\n{page}");
    }
}
