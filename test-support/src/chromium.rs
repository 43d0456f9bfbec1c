//! Headless Chromium (Debian's `chromium` package) for the status page tests: load a URL and
//! return its DOM after the page ran, or save a screenshot of it.

use std::path::Path;
use std::process::Command;

/// Seconds Chromium may take to start, load and dump before it is killed.
const LIMIT_SECONDS: &str = "90";

/// `chromium` with the flags that keep a headless run from touching anything but `url`:
/// no sandbox (we run as root in a namespace), no GPU, no QUIC, no background networking,
/// component updates or sync, and a fresh profile in `scratch`. `prefix` wraps it (e.g.
/// `ip netns exec NS`), so the browser can run where the server is.
pub fn command(prefix: Option<Command>, scratch: &Path, extra: &[&str], url: &str) -> Command {
    let profile = scratch.join("chromium-profile");
    std::fs::create_dir_all(&profile).expect("create a Chromium profile dir");
    let mut cmd = prefix.unwrap_or_else(|| Command::new("env"));
    cmd.args(["timeout", "--kill-after=5", LIMIT_SECONDS, "chromium"])
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        // Chromium writes caches under $HOME; keep them in the scratch dir too.
        .env("HOME", scratch);
    cmd
}

/// The DOM of `url` after it loaded, as Chromium serialises it.
pub fn dump_dom(prefix: Option<Command>, scratch: &Path, url: &str) -> String {
    let out = command(prefix, scratch, &["--dump-dom"], url)
        .output()
        .expect("run chromium (apt-get install chromium)");
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && !dom.is_empty(),
        "chromium --dump-dom {url} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    dom
}

/// Saves a `width`x`height` screenshot of `url` to `png`.
pub fn screenshot(
    prefix: Option<Command>,
    scratch: &Path,
    url: &str,
    png: &Path,
    size: (u32, u32),
) {
    let shot = format!("--screenshot={}", png.display());
    let window = format!("--window-size={},{}", size.0, size.1);
    let out = command(prefix, scratch, &[&shot, &window], url)
        .output()
        .expect("run chromium (apt-get install chromium)");
    let bytes = std::fs::read(png).unwrap_or_default();
    assert!(
        out.status.success() && bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "chromium --screenshot {url} wrote no PNG ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The text inside the element whose opening tag contains `marker` (first match), with tags
/// stripped; enough to read one table cell of the status page's DOM.
pub fn element_text(dom: &str, marker: &str) -> String {
    let Some(start) = dom.find(marker) else {
        return String::new();
    };
    let tag_start = dom[..start].rfind('<').unwrap_or(0);
    let tag = dom[tag_start + 1..].split([' ', '>']).next().unwrap_or("");
    let open_end = dom[start..].find('>').map_or(dom.len(), |i| start + i + 1);
    let body = &dom[open_end..];
    let end = body.find(&format!("</{tag}>")).unwrap_or(body.len());
    let mut text = String::new();
    let mut in_tag = false;
    for c in body[..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
