//! The registry of diagnostic codes: every code the compiler (or `netboot build`) reports,
//! with its severity and when it fires. A [`Diagnostic`](crate::Diagnostic) can only be made
//! from a [`Code`], so a code exists here or not at all; tests/cli_check.rs holds this list
//! against the reference table in schema/fleet-language.md and against tests/broken/.

use serde::Serialize;

/// Whether a code stops the build (an error) or is only reported (a warning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// Whether checking a fleet can show the code, which decides whether tests/broken/ must hold
/// a fleet that does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Some fleet text makes `netboot check` report it.
    Fleet,
    /// No fleet text alone can make `check` report it; the reason says why.
    NotFromAFleet(&'static str),
}

/// One code's entry in the registry.
#[derive(Debug, Clone, Copy)]
pub struct CodeInfo {
    /// Stable identifier, `fleet::<kebab-case>`.
    pub name: &'static str,
    pub severity: Severity,
    pub scope: Scope,
    /// When it fires, as the reference table says it.
    pub when: &'static str,
}

macro_rules! registry {
    ($($variant:ident: $name:literal, $severity:ident, $scope:expr, $when:literal;)*) => {
        /// Every diagnostic code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            /// Every code, in the order of the reference table.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code's registry entry.
            pub fn info(self) -> &'static CodeInfo {
                &TABLE[self as usize]
            }
        }

        const TABLE: &[CodeInfo] = &[$(CodeInfo {
            name: $name,
            severity: Severity::$severity,
            scope: { use Scope::*; $scope },
            when: $when,
        },)*];
    };
}

impl Code {
    pub fn name(self) -> &'static str {
        self.info().name
    }

    pub fn severity(self) -> Severity {
        self.info().severity
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

registry! {
    Syntax: "fleet::syntax", Error, Fleet,
        "the file is not valid KDL v2 (nothing else is checked then)";
    TooDeep: "fleet::too-deep", Error, Fleet,
        "`{ … }` blocks nested more than 64 levels (checked before parsing; nothing else is checked then)";
    Unreadable: "fleet::unreadable", Error, NotFromAFleet("the fleet file itself cannot be read, so there is no fleet text to show it"),
        "the fleet file cannot be read";
    UnknownNode: "fleet::unknown-node", Error, Fleet,
        "a node not valid where it is, with \"did you mean\"";
    UnknownProperty: "fleet::unknown-property", Error, Fleet,
        "a property the node does not take, with \"did you mean\"";
    MissingValue: "fleet::missing-value", Error, Fleet,
        "a required value or property is absent (host `mac=`, `kernel` artifact, `default` target, …)";
    WrongType: "fleet::wrong-type", Error, Fleet,
        "a string where a number belongs, or the reverse";
    UnexpectedValue: "fleet::unexpected-value", Error, Fleet,
        "more values than the node takes";
    UnexpectedChildren: "fleet::unexpected-children", Error, Fleet,
        "a `{ … }` block on a node that takes none";
    BadName: "fleet::bad-name", Error, Fleet,
        "a name outside `[a-z0-9][a-z0-9._-]*`/63, or a bad `file` name";
    BadMac: "fleet::bad-mac", Error, Fleet,
        "malformed MAC address";
    BadIp: "fleet::bad-ip", Error, Fleet,
        "malformed IPv4 address";
    BadPort: "fleet::bad-port", Error, Fleet,
        "port outside 1–65535";
    BadUrl: "fleet::bad-url", Error, Fleet,
        "not an http/https/tftp URL with a host";
    BadSha256: "fleet::bad-sha256", Error, Fleet,
        "not 64 hex digits";
    BadValue: "fleet::bad-value", Error, Fleet,
        "an unknown keyword (`dhcp`, `only`) or an out-of-range `timeout`";
    DuplicateName: "fleet::duplicate-name", Error, Fleet,
        "two artifacts/profiles/menus/groups/hosts/files with one name (both labelled)";
    DuplicateMac: "fleet::duplicate-mac", Error, Fleet,
        "one MAC on two hosts (both labelled)";
    DuplicateSetting: "fleet::duplicate-setting", Error, Fleet,
        "a setting given twice (both labelled)";
    DuplicateProperty: "fleet::duplicate-property", Error, Fleet,
        "a property given twice on one node (both labelled)";
    ConflictingProperties: "fleet::conflicting-properties", Error, Fleet,
        "`path` and `url`, or `profile` and `menu`, together";
    ConflictingBootMethods: "fleet::conflicting-boot-methods", Error, Fleet,
        "a profile with two boot methods";
    NoBootMethod: "fleet::no-boot-method", Error, Fleet,
        "a profile with none";
    NeedsKernel: "fleet::needs-kernel", Error, Fleet,
        "`initrd`, `cmdline` or `cmdline-append` without a kernel to pass them to";
    UnknownProfile: "fleet::unknown-profile", Error, Fleet,
        "a reference to an undefined profile (or, for items, menu)";
    UnknownMenu: "fleet::unknown-menu", Error, Fleet,
        "a reference to an undefined menu";
    UnknownArtifact: "fleet::unknown-artifact", Error, Fleet,
        "a reference to an undefined artifact";
    MissingFile: "fleet::missing-file", Error, Fleet,
        "a local artifact, loader or template that does not exist (or is not a regular file: a directory, a FIFO)";
    UnreadableFile: "fleet::unreadable-file", Error, Fleet,
        "a local artifact, loader or template that is there but cannot be read (permissions, I/O), or a template that is not UTF-8";
    Sha256Mismatch: "fleet::sha256-mismatch", Error, Fleet,
        "a local file (or, in build, a download) whose sha256 differs from the fleet's";
    UrlWithoutSha256: "fleet::url-without-sha256", Error, Fleet,
        "a `url=` artifact without `sha256`";
    DownloadFailed: "fleet::download-failed", Error, NotFromAFleet("only `netboot build` downloads `url=` artifacts; checking a fleet never does"),
        "a `url=` artifact could not be downloaded (status or connection)";
    NotCached: "fleet::not-cached", Error, NotFromAFleet("only `netboot build --offline` looks in the download cache"),
        "a `url=` artifact is not in the cache";
    BadRange: "fleet::bad-range", Error, Fleet,
        "a full-DHCP `range` whose first address is after its last";
    BadLeaseTime: "fleet::bad-lease-time", Error, Fleet,
        "a full-DHCP `lease-time` under 60 seconds or over 2³²−1";
    BadSubnet: "fleet::bad-subnet", Error, Fleet,
        "a full-DHCP `subnet` that is not `ADDRESS/PREFIX` (prefix 8–30, no host bits set)";
    SubnetWithoutRange: "fleet::subnet-without-range", Error, Fleet,
        "a full-DHCP `subnet` with no `range` to lease from";
    RangeOutsideSubnet: "fleet::range-outside-subnet", Error, Fleet,
        "a relayed subnet's `range` or `router` outside that subnet";
    OverlappingRanges: "fleet::overlapping-ranges", Error, Fleet,
        "two full-DHCP ranges that share addresses";
    OverlappingSubnets: "fleet::overlapping-subnets", Error, Fleet,
        "two relayed subnets that share addresses (a relay's address would match both)";
    RouteCollision: "fleet::route-collision", Error, Fleet,
        "two loaders served under one name";
    InstallLoop: "fleet::install-loop", Error, Fleet,
        "an `install` whose `then` is the install profile itself (it would reinstall on every boot)";
    DoneUrlOutsideInstall: "fleet::done-url-outside-install", Error, Fleet,
        "`install_done_url` in a profile no host installs with";
    MenuCycle: "fleet::menu-cycle", Error, Fleet,
        "menus that link back to themselves";
    DefaultNotInMenu: "fleet::default-not-in-menu", Error, Fleet,
        "a menu default that is not one of its items";
    UnbootablePlatform: "fleet::unbootable-platform", Error, Fleet,
        "a binary profile that cannot boot a platform the fleet serves";
    TemplateSyntax: "fleet::template-syntax", Error, Fleet,
        "a command line or template that is not valid minijinja (template errors point into the template)";
    UndefinedVariable: "fleet::undefined-variable", Error, Fleet,
        "a template variable other than server, host, mac, group, labels, install_done_url";
    HostVariableInSharedProfile: "fleet::host-variable-in-shared-profile", Error, Fleet,
        "`host`/`mac`/`group`/`labels`/`install_done_url` in a profile unknown machines can boot";
    FileInSharedProfile: "fleet::file-in-shared-profile", Error, Fleet,
        "a per-machine `file` in such a profile";
    AddressNeeded: "fleet::address-needed", Error, Fleet,
        "`server` used but no address in the fleet or on the command line";
    TemplateRender: "fleet::template-render", Error, Fleet,
        "a template fails while rendering (e.g. an unknown filter)";
    CmdlineTooLong: "fleet::cmdline-too-long", Error, Fleet,
        "a kernel command line over 4096 bytes once rendered";
    UnsafeText: "fleet::unsafe-text", Error, Fleet,
        "text iPXE would misread (see Generated scripts)";
    SecureBootWithoutLoaders: "fleet::secure-boot-without-loaders", Error, Fleet,
        "`secure-boot=#true` on a host, group or `default`, but no `secure-boot` set in `loaders`";
    NotForSecureBoot: "fleet::not-for-secure-boot", Error, Fleet,
        "a profile a Secure Boot machine reaches that signed GRUB cannot boot (`chain`, `wimboot`, `sanboot`, BIOS only, an artifact booted from its URL)";
    UnsignedImage: "fleet::unsigned-image", Error, Fleet,
        "a kernel, EFI binary, shim or GRUB a Secure Boot machine loads whose PE image has no Authenticode signature (empty certificate table)";
    NotPeImage: "fleet::not-a-pe-image", Error, Fleet,
        "such a file that is not a PE image at all";
    NotAKernel: "fleet::not-a-kernel", Error, Fleet,
        "a `kernel` artifact that is not a Linux kernel image (x86 bzImage, arm64 `Image`, EFI stub; gzip only where arm64 machines boot it)";
    NotAnEfiBinary: "fleet::not-an-efi-binary", Error, Fleet,
        "an `efi` artifact that is not a PE image";
    WrongArchitecture: "fleet::wrong-architecture", Error, Fleet,
        "a kernel or `efi` binary for a CPU none of the machines that boot it have (from the fleet's loaders and the profile's `only`)";
    NotADiskImage: "fleet::not-a-disk-image", Error, Fleet,
        "a `sanboot` artifact that is neither an ISO 9660 image nor a disk image with a boot sector";
    UnbootableIso: "fleet::unbootable-iso", Error, Fleet,
        "a `sanboot` ISO with no El Torito boot image for the firmware (BIOS, UEFI) of machines that boot it, or none at all";
    NothingToBoot: "fleet::nothing-to-boot", Error, Fleet,
        "no hosts and no `default`";
    UnusedProfile: "fleet::unused-profile", Warning, Fleet,
        "a profile nothing boots";
    UnusedArtifact: "fleet::unused-artifact", Warning, Fleet,
        "an artifact no profile uses";
    UnusedMenu: "fleet::unused-menu", Warning, Fleet,
        "a top-level menu nothing shows";
    UnusedGeneration: "fleet::unused-generation", Warning, Fleet,
        "a `generation` on a host or group with no install lifecycle";
    ArtifactWithoutSha256: "fleet::artifact-without-sha256", Warning, Fleet,
        "a local artifact without `sha256`";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lines_up_with_the_enum_and_names_are_unique() {
        let mut names = std::collections::BTreeSet::new();
        for (i, code) in Code::ALL.iter().enumerate() {
            assert_eq!(*code as usize, i);
            assert!(code.name().starts_with("fleet::"), "{code}");
            assert!(names.insert(code.name()), "{code} twice");
        }
    }
}
