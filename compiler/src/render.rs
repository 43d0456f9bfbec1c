//! The built-in iPXE scripts: askama templates under `compiler/templates/`, filled with
//! values that were checked for iPXE safety before they get here. Every script lives one
//! directory below the root (except the entry script), so links are `../…` relative URLs
//! that work whatever address the server answers on.

use askama::Template;

/// The entry script, `boot.ipxe`.
#[derive(Template)]
#[template(path = "entry.ipxe", escape = "none")]
pub struct EntryScript<'a> {
    pub fleet_file: &'a str,
    pub has_hosts: bool,
    pub fallback_comment: String,
    pub fallback_chain: Option<String>,
}

/// `hosts/<mac>.ipxe`.
#[derive(Template)]
#[template(path = "host.ipxe", escape = "none")]
pub struct HostScript<'a> {
    pub fleet_file: &'a str,
    pub name: &'a str,
    pub mac: String,
    pub group: Option<&'a str>,
    pub boots: String,
    pub body: String,
}

/// `profiles/<name>.ipxe`.
#[derive(Template)]
#[template(path = "profile.ipxe", escape = "none")]
pub struct ProfileScript<'a> {
    pub fleet_file: &'a str,
    pub name: &'a str,
    pub body: String,
}

/// The boot steps of one profile, shared by host and profile scripts: the method's own
/// steps (see `methods`), inside a guard when the profile is for one platform only.
#[derive(Template)]
#[template(path = "body.ipxe", escape = "none")]
pub struct Body {
    pub name: String,
    pub only: Option<Only>,
    pub steps: String,
}

pub struct Only {
    /// iPXE's `${platform}` value.
    pub ipxe: &'static str,
    pub describe: &'static str,
}

/// `menus/<name>.ipxe`.
#[derive(Template)]
#[template(path = "menu.ipxe", escape = "none")]
pub struct MenuScript<'a> {
    pub fleet_file: &'a str,
    pub name: &'a str,
    pub parent: Option<&'a str>,
    pub title: &'a str,
    pub lines: Vec<MenuLine>,
    pub timeout_ms: Option<u64>,
    pub default: Option<String>,
    pub targets: Vec<MenuTarget>,
    /// Where `Back` (and Esc) leads in a submenu.
    pub back: Option<String>,
}

pub struct MenuLine {
    pub id: String,
    pub label: String,
    pub gap: bool,
    /// Shown only where `${platform}` is this.
    pub only: Option<&'static str>,
}

pub struct MenuTarget {
    pub id: String,
    pub fetch: String,
}

/// Renders a built-in template; they have no failure modes beyond formatting.
pub fn render(t: &impl Template) -> String {
    t.render()
        .expect("built-in iPXE templates render any value")
}
