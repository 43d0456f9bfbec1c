//! The frozen serving manifest: the only thing that crosses from compile time to run time.
//!
//! `netboot build` writes it as `manifest.json` next to the generated files; `netboot serve`
//! loads it (or receives it from an in-memory compile) and serves exactly what it lists. These
//! are plain serde types so the runtime never links the compiler's parser or templates.
//!
//! Every map is a `BTreeMap`, so serialising the same manifest twice gives the same bytes.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

mod boot_target;
mod digest;
mod install;
pub mod settings;
pub use boot_target::{http_url, BootTarget};
pub use digest::{sha256_hex, Sha256Writer};
pub use install::{install_done_path, install_token, InstallLifecycle, DONE_PREFIX};

/// Bumped whenever a change to these types would make an old runtime misread a new manifest.
pub const FORMAT_VERSION: u32 = 1;

/// The whole serving plan of one fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT_VERSION`] of the writer.
    pub format: u32,
    /// `netboot <version>` of the compiler that wrote it.
    pub compiler: String,
    /// sha256 of the fleet source text, so a deployed manifest can be traced to a commit.
    pub fleet_sha256: String,
    pub server: Server,
    /// What proxy-DHCP hands out, by client kind. A kind missing here is not answered.
    pub dhcp: BTreeMap<ClientKind, BootAnswer>,
    /// The Secure Boot chain, when the fleet has one. Absent from manifests of fleets without
    /// it, so those stay readable by runtimes that predate it; a runtime that predates it
    /// refuses a manifest that has it (unknown field) rather than serve unsigned iPXE to
    /// machines that would refuse it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_boot: Option<SecureBoot>,
    /// Machines the fleet names, by MAC (lowercase, colon-separated).
    pub hosts: BTreeMap<MacAddr, Host>,
    /// Directory that relative [`Source::Artifact`] paths are resolved against, relative to the
    /// directory holding `manifest.json` (for an in-memory compile: relative to the fleet file).
    pub artifact_root: String,
    /// Every path the runtime may serve, without a leading slash (`boot.ipxe`, `ipxe.efi`).
    pub files: BTreeMap<String, FileEntry>,
}

/// Listening and addressing settings, after command-line overrides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// Interface to bind proxy-DHCP to; `None` binds all interfaces.
    pub interface: Option<String>,
    /// Address clients are told to fetch from (next-server, HTTP URLs). `None` means the runtime
    /// takes the interface's first IPv4 address.
    pub address: Option<Ipv4Addr>,
    pub http_port: u16,
    pub tftp_port: u16,
    pub dhcp: DhcpMode,
}

/// How netboot takes part in DHCP. One mode per fleet, so one interface never runs both.
///
/// `proxy` and `off` serialise as plain strings; `full` as `{"full": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DhcpMode {
    /// Answer PXE and HTTP-boot clients only, never offer an address.
    Proxy,
    /// Do not run DHCP at all (another server is configured to point at us).
    Off,
    /// Be the segment's only DHCP server (an isolated lab with no router): lease addresses
    /// from a range to every client, and give boot clients the proxy's boot answer too.
    Full(FullDhcpConfig),
}

/// Full-DHCP settings. The subnet mask is not here: the runtime takes it from the interface
/// that holds the server address, so it cannot disagree with the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FullDhcpConfig {
    /// First address of the range (inclusive).
    pub first: Ipv4Addr,
    /// Last address of the range (inclusive).
    pub last: Ipv4Addr,
    /// Lease length in seconds.
    pub lease_time: u32,
    /// Default gateway (option 3); `None` in a lab with no router.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router: Option<Ipv4Addr>,
    /// DNS servers (option 6), in order; relayed subnets are told the same.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<Ipv4Addr>,
    /// Subnets behind DHCP relays, each leased from its own range. A relayed request (giaddr
    /// set) is served from the subnet holding its giaddr, or not at all; `first`..`last`
    /// serve the server's own segment only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<RelayedSubnet>,
}

/// A subnet behind a DHCP relay, in full-DHCP mode: where its clients' addresses come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayedSubnet {
    /// The subnet's network address (`network`/`prefix`); the relay's address on the
    /// clients' link (giaddr) lies inside it.
    pub network: Ipv4Addr,
    /// Prefix length, 8 to 30.
    pub prefix: u8,
    /// First address of the subnet's range (inclusive).
    pub first: Ipv4Addr,
    /// Last address of the subnet's range (inclusive).
    pub last: Ipv4Addr,
    /// Default gateway (option 3); `None` means the relay's own address (giaddr).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router: Option<Ipv4Addr>,
}

impl RelayedSubnet {
    /// The subnet mask, `prefix` bits set.
    pub fn netmask(&self) -> Ipv4Addr {
        let bits = u32::from(self.prefix.min(32));
        Ipv4Addr::from(u32::MAX.checked_shl(32 - bits).unwrap_or(0))
    }

    /// Whether `ip` lies in the subnet.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = u32::from(self.netmask());
        u32::from(ip) & mask == u32::from(self.network) & mask
    }
}

/// The kind of boot client, as told by DHCP options 93, 60 and 77.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientKind {
    /// Legacy BIOS PXE ROM (arch 0).
    Bios,
    /// UEFI x64 PXE (arch 7 and 9).
    EfiX64,
    /// UEFI ARM64 PXE (arch 11).
    EfiArm64,
    /// UEFI x64 HTTP Boot (arch 16).
    HttpX64,
    /// UEFI ARM64 HTTP Boot (arch 19).
    HttpArm64,
    /// A client already running iPXE (user class `iPXE`): gets its script, which ends the
    /// chainload loop.
    Ipxe,
}

impl ClientKind {
    pub const ALL: [ClientKind; 6] = [
        ClientKind::Bios,
        ClientKind::EfiX64,
        ClientKind::EfiArm64,
        ClientKind::HttpX64,
        ClientKind::HttpArm64,
        ClientKind::Ipxe,
    ];

    /// The name used in fleets, manifests and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::Bios => "bios",
            ClientKind::EfiX64 => "efi-x64",
            ClientKind::EfiArm64 => "efi-arm64",
            ClientKind::HttpX64 => "http-x64",
            ClientKind::HttpArm64 => "http-arm64",
            ClientKind::Ipxe => "ipxe",
        }
    }

    /// The RFC 4578 architecture numbers (DHCP option 93) a client of this kind announces;
    /// none for iPXE, which is told apart by its user class whatever its architecture. Some
    /// x64 and ARM64 HTTP Boot firmware keeps its PXE number (7, 9, 11) with `HTTPClient`.
    pub fn architectures(self) -> &'static [u16] {
        match self {
            ClientKind::Bios => &[0],
            ClientKind::EfiX64 => &[7, 9],
            ClientKind::EfiArm64 => &[11],
            ClientKind::HttpX64 => &[16, 7, 9],
            ClientKind::HttpArm64 => &[19, 11],
            ClientKind::Ipxe => &[],
        }
    }

    /// The start of the vendor class (option 60) a client of this kind sends, and that an
    /// HTTP Boot client needs echoed; `None` for iPXE, which may send either.
    pub fn vendor_class(self) -> Option<&'static str> {
        match self {
            ClientKind::Bios | ClientKind::EfiX64 | ClientKind::EfiArm64 => Some("PXEClient"),
            ClientKind::HttpX64 | ClientKind::HttpArm64 => Some("HTTPClient"),
            ClientKind::Ipxe => None,
        }
    }

    /// Whether the firmware fetches its boot file over HTTP rather than TFTP.
    pub fn is_http(self) -> bool {
        matches!(
            self,
            ClientKind::HttpX64 | ClientKind::HttpArm64 | ClientKind::Ipxe
        )
    }
}

impl fmt::Display for ClientKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ClientKind {
    type Err = UnknownClientKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ClientKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownClientKind(s.to_string()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown client kind `{0}` (expected one of bios, efi-x64, efi-arm64, http-x64, http-arm64, ipxe)")]
pub struct UnknownClientKind(pub String);

/// The loaders of machines that boot through Secure Boot (shim, then signed GRUB), which a
/// DHCP request cannot tell apart from other UEFI machines: the fleet says which they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecureBoot {
    /// What such a machine is handed, by client kind; kinds missing here get [`Manifest::dhcp`]'s
    /// answer (a BIOS boot has no Secure Boot).
    pub dhcp: BTreeMap<ClientKind, BootAnswer>,
    /// Whether machines the fleet does not name boot through it.
    pub default: bool,
}

/// What a client of one kind is told to boot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootAnswer {
    /// How the client fetches it; the runtime turns an HTTP path into a full URL with its own
    /// address and port, and puts a TFTP path into the boot-file field with next-server.
    pub protocol: Protocol,
    /// A key of [`Manifest::files`].
    pub path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    Tftp,
    Http,
}

/// A machine the fleet names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    pub name: String,
    /// Group it belongs to, if any.
    pub group: Option<String>,
    /// Profile or menu it boots (`profile:debian-install` / `menu:main`).
    pub boots: String,
    /// Its iPXE script, a key of [`Manifest::files`]. For a host with an install lifecycle,
    /// the `then` profile's script: what it gets whenever the install state says so or
    /// cannot be read.
    pub script: String,
    /// Installs once, then boots [`Host::script`]; absent for every other host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<InstallLifecycle>,
    /// Boots through [`Manifest::secure_boot`]'s loaders.
    #[serde(default, skip_serializing_if = "is_false")]
    pub secure_boot: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One servable file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub size: u64,
    /// Lowercase hex.
    pub sha256: String,
    pub source: Source,
    /// Served over TFTP.
    pub tftp: bool,
    /// Served over HTTP.
    pub http: bool,
}

/// Where a file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Source {
    /// Written by the compiler: a path relative to the manifest's directory (in an in-memory
    /// compile the bytes are handed over alongside the manifest under the same name).
    Generated { file: String },
    /// An operator's file: absolute, or relative to [`Manifest::artifact_root`].
    Artifact { path: String },
}

/// A MAC address, stored and printed as `52:54:00:12:34:56`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// iPXE's `${mac:hexhyp}` form, used in script paths: `52-54-00-12-34-56`.
    pub fn hexhyp(&self) -> String {
        self.to_string().replace(':', "-")
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a MAC address like 52:54:00:12:34:56, found `{0}`")]
pub struct BadMac(pub String);

impl FromStr for MacAddr {
    type Err = BadMac;
    /// Accepts `:` or `-` separators, any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadMac(s.to_string());
        let parts: Vec<&str> = s.split([':', '-']).collect();
        if parts.len() != 6 {
            return Err(bad());
        }
        let mut out = [0u8; 6];
        for (slot, part) in out.iter_mut().zip(parts) {
            if part.len() != 2 {
                return Err(bad());
            }
            *slot = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        Ok(MacAddr(out))
    }
}

impl Serialize for MacAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MacAddr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest is not valid JSON for this version: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "manifest format {found} is not supported (this netboot reads format {FORMAT_VERSION})"
    )]
    Format { found: u32 },
}

impl Manifest {
    /// A manifest that serves `files` (artifact paths relative to `artifact_root`) and nothing
    /// else: DHCP off, no answers, no hosts, the default ports (8080 and 69). What tests, fuzz harnesses and
    /// benchmarks that build a snapshot by hand start from.
    pub fn serving(files: BTreeMap<String, FileEntry>, artifact_root: &str) -> Manifest {
        Manifest {
            format: FORMAT_VERSION,
            compiler: "hand-built".into(),
            fleet_sha256: String::new(),
            server: Server {
                interface: None,
                address: None,
                http_port: settings::DEFAULT_HTTP_PORT,
                tftp_port: settings::DEFAULT_TFTP_PORT,
                dhcp: DhcpMode::Off,
            },
            dhcp: BTreeMap::new(),
            secure_boot: None,
            hosts: BTreeMap::new(),
            artifact_root: artifact_root.into(),
            files,
        }
    }

    /// Whether the machine with `mac` boots through the Secure Boot chain: as its host says,
    /// and as the fleet's default says for a machine the fleet does not name.
    pub fn is_secure_boot(&self, mac: MacAddr) -> bool {
        self.is_secure_boot_host(self.hosts.get(&mac))
    }

    /// [`Manifest::is_secure_boot`] for a named `host`, or for any unnamed machine (`None`).
    fn is_secure_boot_host(&self, host: Option<&Host>) -> bool {
        match (&self.secure_boot, host) {
            (None, _) => false,
            (Some(sb), None) => sb.default,
            (Some(_), Some(h)) => h.secure_boot,
        }
    }

    /// The loader DHCP hands a `kind` client with `mac`: the Secure Boot chain's for a machine
    /// that boots through it (when the chain has one for its kind), else the kind's own.
    pub fn loader(&self, kind: ClientKind, mac: MacAddr) -> Option<&BootAnswer> {
        self.loader_for_host(kind, self.hosts.get(&mac))
    }

    /// [`Manifest::loader`] for a named `host`, or for any unnamed machine (`None`).
    fn loader_for_host(&self, kind: ClientKind, host: Option<&Host>) -> Option<&BootAnswer> {
        let secure = self
            .secure_boot
            .as_ref()
            .filter(|_| self.is_secure_boot_host(host))
            .and_then(|sb| sb.dhcp.get(&kind));
        secure.or_else(|| self.dhcp.get(&kind))
    }

    /// Parses and checks the format version.
    pub fn from_json(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        // Read the version first so an old or new manifest gets the right error, not a field error.
        #[derive(Deserialize)]
        struct Version {
            format: u32,
        }
        let v: Version = serde_json::from_slice(bytes)?;
        if v.format != FORMAT_VERSION {
            return Err(ManifestError::Format { found: v.format });
        }
        Ok(serde_json::from_slice(bytes)?)
    }

    /// Pretty JSON with a trailing newline; byte-stable for equal manifests.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("manifest types always serialise");
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_parses_both_separators_and_prints_canonical() {
        let m: MacAddr = "52-54-00-AB-cd-0F".parse().unwrap();
        assert_eq!(m.to_string(), "52:54:00:ab:cd:0f");
        assert_eq!(m.hexhyp(), "52-54-00-ab-cd-0f");
        assert!("52:54:00:ab:cd".parse::<MacAddr>().is_err());
        assert!("52:54:00:ab:cd:0g".parse::<MacAddr>().is_err());
        assert!("525:4:00:ab:cd:0f".parse::<MacAddr>().is_err());
    }

    #[test]
    fn client_kind_round_trips_its_name() {
        for k in ClientKind::ALL {
            assert_eq!(k.as_str().parse::<ClientKind>().unwrap(), k);
        }
        assert!("uefi".parse::<ClientKind>().is_err());
    }

    #[test]
    fn dhcp_modes_keep_their_json() {
        let json = |m: &DhcpMode| serde_json::to_string(m).unwrap();
        assert_eq!(json(&DhcpMode::Proxy), r#""proxy""#);
        assert_eq!(json(&DhcpMode::Off), r#""off""#);
        let full = DhcpMode::Full(FullDhcpConfig {
            first: Ipv4Addr::new(10, 0, 0, 100),
            last: Ipv4Addr::new(10, 0, 0, 200),
            lease_time: 3600,
            router: None,
            dns: vec![Ipv4Addr::new(10, 0, 0, 1)],
            subnets: vec![],
        });
        let text = json(&full);
        assert_eq!(
            text,
            r#"{"full":{"first":"10.0.0.100","last":"10.0.0.200","lease_time":3600,"dns":["10.0.0.1"]}}"#
        );
        assert_eq!(serde_json::from_str::<DhcpMode>(&text).unwrap(), full);
        assert!(serde_json::from_str::<DhcpMode>(r#"{"full":{"first":"10.0.0.1"}}"#).is_err());
    }

    #[test]
    fn relayed_subnets_keep_their_json_and_know_their_addresses() {
        let subnet = RelayedSubnet {
            network: Ipv4Addr::new(10, 78, 0, 0),
            prefix: 23,
            first: Ipv4Addr::new(10, 78, 0, 100),
            last: Ipv4Addr::new(10, 78, 1, 200),
            router: None,
        };
        assert_eq!(subnet.netmask(), Ipv4Addr::new(255, 255, 254, 0));
        assert!(subnet.contains(Ipv4Addr::new(10, 78, 1, 255)));
        assert!(!subnet.contains(Ipv4Addr::new(10, 78, 2, 0)));
        let text = serde_json::to_string(&subnet).unwrap();
        assert_eq!(
            text,
            r#"{"network":"10.78.0.0","prefix":23,"first":"10.78.0.100","last":"10.78.1.200"}"#
        );
        assert_eq!(
            serde_json::from_str::<RelayedSubnet>(&text).unwrap(),
            subnet
        );
    }

    fn secure_boot_fleet() -> Manifest {
        let answer = |path: &str| BootAnswer {
            protocol: Protocol::Tftp,
            path: path.into(),
        };
        let mut m = Manifest::serving(BTreeMap::new(), ".");
        m.dhcp.insert(ClientKind::EfiX64, answer("ipxe.efi"));
        m.dhcp.insert(ClientKind::Bios, answer("undionly.kpxe"));
        m.secure_boot = Some(SecureBoot {
            dhcp: [(ClientKind::EfiX64, answer("sb/shimx64.efi"))].into(),
            default: false,
        });
        for (mac, secure_boot) in [("52:54:00:00:00:01", true), ("52:54:00:00:00:02", false)] {
            m.hosts.insert(
                mac.parse().unwrap(),
                Host {
                    name: mac.replace(':', ""),
                    group: None,
                    boots: "profile:p".into(),
                    script: "hosts/x.ipxe".into(),
                    install: None,
                    secure_boot,
                },
            );
        }
        m
    }

    #[test]
    fn secure_boot_machines_get_the_chain_for_their_kind_only() {
        let mut m = secure_boot_fleet();
        let path = |m: &Manifest, kind, mac: &str| {
            m.loader(kind, mac.parse().unwrap()).map(|a| a.path.clone())
        };
        let (sb, plain, unknown) = (
            "52:54:00:00:00:01",
            "52:54:00:00:00:02",
            "52:54:00:00:00:03",
        );
        assert_eq!(
            path(&m, ClientKind::EfiX64, sb).as_deref(),
            Some("sb/shimx64.efi")
        );
        assert_eq!(
            path(&m, ClientKind::EfiX64, plain).as_deref(),
            Some("ipxe.efi")
        );
        assert_eq!(
            path(&m, ClientKind::EfiX64, unknown).as_deref(),
            Some("ipxe.efi")
        );
        // BIOS has no Secure Boot: the same machine booted in legacy mode keeps iPXE.
        assert_eq!(
            path(&m, ClientKind::Bios, sb).as_deref(),
            Some("undionly.kpxe")
        );
        m.secure_boot.as_mut().unwrap().default = true;
        assert_eq!(
            path(&m, ClientKind::EfiX64, unknown).as_deref(),
            Some("sb/shimx64.efi")
        );
        assert_eq!(
            path(&m, ClientKind::EfiX64, plain).as_deref(),
            Some("ipxe.efi")
        );
    }

    #[test]
    fn manifests_without_secure_boot_keep_their_json() {
        let mut m = secure_boot_fleet();
        m.secure_boot = None;
        for h in m.hosts.values_mut() {
            h.secure_boot = false;
        }
        let json = m.to_json();
        assert!(!json.contains("secure_boot"), "{json}");
        assert_eq!(Manifest::from_json(json.as_bytes()).unwrap(), m);
        let with = secure_boot_fleet();
        assert_eq!(
            Manifest::from_json(with.to_json().as_bytes()).unwrap(),
            with
        );
    }

    #[test]
    fn wrong_format_version_is_named() {
        let err = Manifest::from_json(br#"{"format": 99}"#).unwrap_err();
        assert!(matches!(err, ManifestError::Format { found: 99 }));
    }
}
