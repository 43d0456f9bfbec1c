//! The typed fleet: what the KDL says, decoded, every value keeping the span it came from.
//! References between items are still names here; `validate` resolves them.

use std::net::Ipv4Addr;

use netboot_manifest::{DhcpMode, MacAddr};

pub use crate::boot::Boot;
pub use crate::platform::Platform;
pub use crate::spanned::Spanned;

#[derive(Debug, Default)]
pub struct Fleet {
    pub server: Server,
    pub loaders: Vec<Loader>,
    /// The `secure-boot` loader set in `loaders`: what Secure Boot machines boot instead of iPXE.
    pub secure_boot: Option<SecureBootLoaders>,
    pub artifacts: Vec<Artifact>,
    pub profiles: Vec<Profile>,
    /// Top-level menus and submenus alike, in source order; submenus know their parent.
    pub menus: Vec<Menu>,
    pub groups: Vec<Group>,
    pub hosts: Vec<HostDecl>,
    /// What machines the fleet does not list boot; `None` means they exit.
    pub default: Option<Target>,
    /// `default … secure-boot=#true`: machines the fleet does not name boot the Secure Boot chain.
    pub default_secure_boot: Option<Spanned<bool>>,
    /// `artifact-origin "http://…"`: the HTTP origin (cache, CDN, object store) serving a
    /// `netboot build --bundle` tree, where iPXE scripts fetch local artifacts by content as
    /// `<origin>/sha256/<hex>`; no trailing `/`. `None`: from netboot's own HTTP.
    pub artifact_origin: Option<Spanned<String>>,
}

/// `loaders { secure-boot { shim …; grub … } }`: the signed chain a Secure Boot machine is
/// handed. Today that is shim and the GRUB it loads; a signed iPXE behind shim would be
/// another child here, so the fleet lines that choose Secure Boot would not change.
#[derive(Debug)]
pub struct SecureBootLoaders {
    /// The `secure-boot` node's name, where errors about the set as a whole point.
    pub span: crate::diagnostic::Span,
    pub shim: Option<Spanned<String>>,
    pub grub: Option<Spanned<String>>,
}

#[derive(Debug, Default)]
pub struct Server {
    pub interface: Option<Spanned<String>>,
    pub address: Option<Spanned<Ipv4Addr>>,
    pub http_port: Option<Spanned<u16>>,
    pub tftp_port: Option<Spanned<u16>>,
    pub dhcp: Option<Spanned<DhcpMode>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LoaderKind {
    Bios,
    EfiX64,
    EfiArm64,
}

impl LoaderKind {
    pub const ALL: [LoaderKind; 3] = [LoaderKind::Bios, LoaderKind::EfiX64, LoaderKind::EfiArm64];

    pub fn keyword(self) -> &'static str {
        match self {
            LoaderKind::Bios => "bios",
            LoaderKind::EfiX64 => "efi-x64",
            LoaderKind::EfiArm64 => "efi-arm64",
        }
    }

    pub fn platform(self) -> Platform {
        match self {
            LoaderKind::Bios => Platform::Bios,
            LoaderKind::EfiX64 | LoaderKind::EfiArm64 => Platform::Efi,
        }
    }
}

#[derive(Debug)]
pub struct Loader {
    pub kind: LoaderKind,
    pub path: Spanned<String>,
}

#[derive(Debug)]
pub struct Artifact {
    pub name: Spanned<String>,
    pub location: Location,
    pub sha256: Option<Spanned<String>>,
    /// A `url=` artifact whose download is in the cache: its location is now that file.
    pub downloaded: bool,
}

#[derive(Debug, Clone)]
pub enum Location {
    /// A local file, relative to the fleet's directory unless absolute.
    Path(Spanned<String>),
    /// Fetched by the client directly from the URL.
    Url(Spanned<String>),
}

#[derive(Debug)]
pub struct Profile {
    pub name: Spanned<String>,
    /// How it boots: exactly one method, `None` when that is in error.
    pub method: Option<Box<dyn Boot>>,
    pub only: Option<Spanned<Platform>>,
    pub files: Vec<FileDecl>,
}

/// A file rendered per machine from a template and served at `m/<host>/<name>`.
#[derive(Debug)]
pub struct FileDecl {
    pub name: Spanned<String>,
    pub template: Spanned<String>,
}

#[derive(Debug)]
pub struct Menu {
    pub name: Spanned<String>,
    /// Index of the enclosing menu for a submenu.
    pub parent: Option<usize>,
    /// A submenu's label in its parent.
    pub label: Option<Spanned<String>>,
    pub title: Option<Spanned<String>>,
    pub timeout: Option<Spanned<u32>>,
    pub default: Option<Spanned<String>>,
    pub entries: Vec<Entry>,
}

#[derive(Debug)]
pub enum Entry {
    /// A profile, or another top-level menu, by name.
    Item {
        target: Spanned<String>,
        label: Spanned<String>,
    },
    Separator(Option<Spanned<String>>),
    /// Index into [`Fleet::menus`].
    Submenu(usize),
}

/// What a machine boots: a profile directly, or a menu to choose from.
#[derive(Debug, Clone)]
pub enum Target {
    Profile(Spanned<String>),
    Menu(Spanned<String>),
}

impl Target {
    pub fn name(&self) -> &Spanned<String> {
        match self {
            Target::Profile(n) | Target::Menu(n) => n,
        }
    }
}

/// `install "PROFILE" then="PROFILE"`: boot PROFILE until the machine reports its
/// generation installed, then boot `then`.
#[derive(Debug, Clone)]
pub struct Install {
    pub profile: Spanned<String>,
    /// `None` only when that is in error.
    pub then: Option<Spanned<String>>,
}

#[derive(Debug)]
pub struct Group {
    pub name: Spanned<String>,
    pub target: Option<Target>,
    pub install: Option<Install>,
    /// `generation=N` for its hosts' installs; a host's own overrides it.
    pub generation: Option<Spanned<u32>>,
    /// `secure-boot=#true|#false` for its hosts that do not say.
    pub secure_boot: Option<Spanned<bool>>,
}

#[derive(Debug)]
pub struct HostDecl {
    pub name: Spanned<String>,
    pub mac: Option<Spanned<MacAddr>>,
    /// Its own `profile=`/`menu=`, overriding the group's.
    pub target: Option<Target>,
    pub cmdline_append: Option<Spanned<String>>,
    /// `label "key" "value"` children: free-form facts templates read as `labels.key`.
    pub labels: std::collections::BTreeMap<String, String>,
    /// Index into [`Fleet::groups`].
    pub group: Option<usize>,
    /// Its own `install` child, overriding the group's.
    pub install: Option<Install>,
    /// Its own `generation=N`, overriding the group's.
    pub generation: Option<Spanned<u32>>,
    /// `secure-boot=#true|#false`, overriding the group's.
    pub secure_boot: Option<Spanned<bool>>,
}
