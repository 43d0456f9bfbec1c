//! `netboot init [DIR]`: a commented starter fleet that `netboot check` passes, pointing at the
//! iPXE loaders this machine has.
//!
//! When no loaders are found the fleet still gets written, naming where the distribution's
//! package puts them with a TODO beside each, so `check` reports exactly the missing files and
//! the install command is printed. An existing fleet is never overwritten without `--force`.
//!
//! A starter fleet that only misses its loaders is a success: what is missing is reported.

use std::path::{Path, PathBuf};

use netboot_compiler::{compile, ServerOverrides};

use crate::console::Console;

/// Where to write, and where to look for loaders.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Directory for fleet.kdl and README.md (created if missing).
    pub dir: PathBuf,
    /// Overwrite an existing fleet.kdl.
    pub force: bool,
    /// The file system root loaders are looked for under (`/`, or a test's directory).
    pub loader_root: PathBuf,
}

/// Why nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{} exists; not overwriting it (pass --force to replace it)", .0.display())]
    Exists(PathBuf),
    #[error("cannot write {}: {source}", dir.display())]
    Write {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// Where distributions put iPXE, per fleet loader, most usual first.
const BIOS: &[&str] = &[
    "/usr/lib/ipxe/undionly.kpxe",   // Debian, Ubuntu (ipxe)
    "/usr/share/ipxe/undionly.kpxe", // Fedora, RHEL (ipxe-bootimgs-x86), Arch (ipxe)
];
const EFI_X64: &[&str] = &[
    "/usr/lib/ipxe/ipxe.efi",
    "/usr/share/ipxe/ipxe-x86_64.efi", // Fedora, RHEL
    "/usr/share/ipxe/x86_64/ipxe.efi", // Arch
    "/usr/lib/ipxe/snponly.efi",
    "/usr/share/ipxe/ipxe-snponly-x86_64.efi",
];
const EFI_ARM64: &[&str] = &[
    "/usr/share/ipxe/arm64-efi/ipxe.efi", // Fedora (ipxe-bootimgs-aarch64)
    "/usr/share/ipxe/arm64/ipxe.efi",     // Arch
    "/usr/lib/ipxe/arm64-efi/ipxe.efi",
];

/// One `loaders` line: found, or the usual path with a TODO.
struct Loader {
    key: &'static str,
    path: String,
    found: bool,
}

/// Writes the starter fleet and its README, reporting on `console` what was written, which
/// loaders were found and what `check` says about the result.
pub fn init(options: &InitOptions, console: &mut Console) -> Result<(), InitError> {
    let fleet = options.dir.join("fleet.kdl");
    if fleet.exists() && !options.force {
        return Err(InitError::Exists(fleet));
    }
    let distro = Distro::detect(&options.loader_root);
    let loaders = find_loaders(&options.loader_root, distro);
    let any = loaders.iter().any(|l| l.found);
    let text = fleet_text(&loaders, distro);
    std::fs::create_dir_all(&options.dir)
        .and_then(|()| std::fs::write(&fleet, text))
        .and_then(|()| std::fs::write(options.dir.join("README.md"), readme(&fleet, any, distro)))
        .map_err(|source| InitError::Write {
            dir: options.dir.clone(),
            source,
        })?;
    console.out(&format!("wrote {}\n", fleet.display()));
    console.out(&format!(
        "wrote {}\n",
        options.dir.join("README.md").display()
    ));
    for l in &loaders {
        if l.found {
            console.out(&format!("found {:<9} {}\n", l.key, l.path));
        }
    }
    if !any {
        console.out("no iPXE loaders found on this machine; install them with:\n");
        console.out(&format!("    {}\n", distro.install()));
        console.out(&format!("(other systems: {})\n", Distro::all_installs()));
        console.out("the fleet names where that package puts them, marked TODO: `netboot check` reports them until they exist\n");
    }
    match compile(&fleet, &ServerOverrides::default()) {
        Ok(_) => console.out(&format!(
            "netboot check {}: fleet is valid\n",
            fleet.display()
        )),
        Err(f) => {
            let missing_only = f
                .diagnostics()
                .iter()
                .all(|d| d.code.ends_with("missing-file"));
            if !missing_only || any {
                console.err(&format!("{f}\n"));
            }
            console.out(&format!(
                "netboot check {}: {} problem(s) until the loaders are installed\n",
                fleet.display(),
                f.diagnostics().len()
            ));
        }
    }
    Ok(())
}

fn find_loaders(root: &Path, distro: Distro) -> Vec<Loader> {
    let under = |p: &str| root.join(p.trim_start_matches('/'));
    let pick = |key: &'static str, candidates: &[&str]| {
        candidates
            .iter()
            .find(|c| under(c).is_file())
            .map(|c| Loader {
                key,
                path: under(c).display().to_string(),
                found: true,
            })
    };
    let bios = pick("bios", BIOS);
    let efi = pick("efi-x64", EFI_X64);
    let arm = pick("efi-arm64", EFI_ARM64);
    if bios.is_none() && efi.is_none() && arm.is_none() {
        // Nothing here: name the package's paths so `check` points at them.
        let (b, e) = distro.default_paths();
        return vec![
            Loader {
                key: "bios",
                path: under(b).display().to_string(),
                found: false,
            },
            Loader {
                key: "efi-x64",
                path: under(e).display().to_string(),
                found: false,
            },
        ];
    }
    [bios, efi, arm].into_iter().flatten().collect()
}

fn fleet_text(loaders: &[Loader], distro: Distro) -> String {
    let mut lines = String::new();
    for l in loaders {
        let note = if l.found {
            String::new()
        } else {
            format!("   // TODO: not on this machine yet: {}", distro.install())
        };
        lines += &format!("    {} \"{}\"{note}\n", l.key, l.path);
    }
    format!(
        r#"// A starter fleet written by `netboot init`. The language is described in
// schema/fleet-language.md; `netboot check fleet.kdl` validates it, `netboot explain fleet.kdl MAC`
// shows what one machine will boot, `netboot serve fleet.kdl` serves it.

server {{
    // The interface on the boot network: proxy-DHCP listens there, and the address clients
    // fetch from is taken from it unless `address` is set.
    // interface "eth0"
    // address "192.168.1.10"
    http-port 8080
}}

// Which firmware this fleet serves: one iPXE build per kind of client.
loaders {{
{lines}}}

// Artifacts are the files machines download. sha256 is optional, but pins the exact bytes:
// artifact "debian-kernel" path="artifacts/debian-12/linux" sha256="<sha256sum of the file>"
// artifact "debian-initrd" path="artifacts/debian-12/initrd.gz"

// A profile is one way to boot: kernel+initrd+cmdline, chain a URL, an EFI/BIOS binary,
// wimboot, sanboot an ISO, or exit to the next boot device.
// profile "debian-install" {{
//     kernel "debian-kernel"
//     initrd "debian-initrd"
//     cmdline "priority=low console=ttyS0,115200"
// }}
profile "local-disk" {{ exit }}

menu "main" {{
    title "netboot"
    timeout 10                    // seconds, then the default; 0 waits forever
    default "local-disk"
    item "local-disk" "Boot from the local disk"
    // item "debian-install" "Install Debian"
}}

// Machines by MAC address, alone or in groups that share a profile or menu:
// host "desk" mac="52:54:00:12:34:56" menu="main"
// group "workers" profile="debian-install" {{
//     host "node1" mac="52:54:00:00:00:11"
// }}

// Everyone the fleet does not list.
default menu="main"
"#
    )
}

fn readme(fleet: &Path, loaders_found: bool, distro: Distro) -> String {
    let name = fleet
        .file_name()
        .map_or("fleet.kdl".into(), |n| n.to_string_lossy().into_owned());
    let install = if loaders_found {
        String::new()
    } else {
        format!(
            "0. Install the iPXE loaders: `{}` (the fleet's TODO lines name where they land).\n",
            distro.install()
        )
    };
    format!(
        r#"# Network boot with netboot

{install}1. Edit `{name}`: set `interface` (or `address`) in the `server` block to the boot network.
2. Put kernels, initrds and other files under `artifacts/`, declare them with `artifact`,
   and add a `profile` for each way to boot and an `item` for it in the menu.
3. `netboot check {name}` until it says the fleet is valid.
4. `netboot explain {name} 52:54:00:12:34:56 --arch efi-x64` shows what one machine gets.
5. `sudo netboot doctor --interface eth0` checks the network (and finds other DHCP/PXE servers).
6. `sudo netboot serve {name}` serves it; edits to the fleet are picked up while it runs.
"#
    )
}

/// The distribution family, for install commands and package paths.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Distro {
    Debian,
    Fedora,
    Arch,
    Alpine,
    Suse,
}

impl Distro {
    fn detect(root: &Path) -> Distro {
        let text = std::fs::read_to_string(root.join("etc/os-release")).unwrap_or_default();
        let ids: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("ID=").or_else(|| l.strip_prefix("ID_LIKE=")))
            .flat_map(|v| {
                v.trim_matches('"')
                    .split_whitespace()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect();
        let has = |x: &str| ids.iter().any(|i| i == x);
        if has("fedora") || has("rhel") || has("centos") {
            Distro::Fedora
        } else if has("arch") {
            Distro::Arch
        } else if has("alpine") {
            Distro::Alpine
        } else if has("suse") || has("opensuse") {
            Distro::Suse
        } else {
            Distro::Debian
        }
    }

    fn install(self) -> &'static str {
        match self {
            Distro::Debian => "apt-get install ipxe",
            Distro::Fedora => "dnf install ipxe-bootimgs-x86 ipxe-bootimgs-aarch64",
            Distro::Arch => "pacman -S ipxe",
            Distro::Alpine => "apk add ipxe",
            Distro::Suse => "zypper install ipxe-bootimgs",
        }
    }

    fn all_installs() -> String {
        [
            Distro::Debian,
            Distro::Fedora,
            Distro::Arch,
            Distro::Alpine,
            Distro::Suse,
        ]
        .map(Distro::install)
        .join("; ")
    }

    fn default_paths(self) -> (&'static str, &'static str) {
        match self {
            Distro::Fedora => (BIOS[1], EFI_X64[1]),
            Distro::Arch => (BIOS[1], EFI_X64[2]),
            _ => (BIOS[0], EFI_X64[0]),
        }
    }
}
