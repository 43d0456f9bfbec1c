//! The kernel and initrd every VM boots, built once per machine by `build-assets.sh`, and
//! Debian's signed installer for the Secure Boot test, fetched once by `fetch-installer.sh`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The line the initrd's `/init` prints, followed by the kernel command line.
pub const MARKER: &str = "NETBOOT-E2E-OK cmdline=";

/// The line the install initrd's `/init` prints once its done URL answered 200; the line
/// before it is `install report answered: <the server's answer>`. On any failure it prints
/// `NETBOOT-INSTALL-FAILED: <why>` instead and powers off.
pub const INSTALL_MARKER: &str = "NETBOOT-INSTALL-DONE";

/// Where the assets are cached; `NETBOOT_TEST_ASSETS` moves it (the script creates it).
fn cache_dir() -> PathBuf {
    std::env::var_os("NETBOOT_TEST_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/netboot-test"))
}

/// Paths of the cached boot assets.
#[derive(Debug)]
pub struct Assets {
    /// A Debian amd64 kernel (bzImage with EFI stub).
    pub kernel: PathBuf,
    /// A gzip'd newc cpio with busybox whose `/init` prints [`MARKER`] and powers off.
    pub initrd: PathBuf,
    /// The stand-in for an installer: busybox and the kernel's virtio NIC modules; `/init`
    /// gets an address with udhcpc, calls the `done=URL` of the kernel command line with
    /// wget, prints [`INSTALL_MARKER`] and powers off.
    pub install_initrd: PathBuf,
}

impl Assets {
    /// Builds the assets if they are missing (downloads a kernel package the first time).
    pub fn get() -> &'static Assets {
        static ASSETS: OnceLock<Assets> = OnceLock::new();
        ASSETS.get_or_init(|| {
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/src/vm/build-assets.sh");
            let dir = cache_dir();
            let out = Command::new("bash")
                .arg(script)
                .arg(&dir)
                .output()
                .expect("run build-assets.sh");
            assert!(
                out.status.success(),
                "build-assets.sh failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            Assets {
                kernel: dir.join("vmlinuz"),
                initrd: dir.join("initrd.img"),
                install_initrd: dir.join("install-initrd.img"),
            }
        })
    }
}

/// Debian's network installer, signed by Debian, fetched once per machine by
/// `fetch-installer.sh` (`debian-installer-12-netboot-amd64`, text frontend).
#[derive(Debug)]
pub struct Installer {
    /// The installer's kernel (`linux`).
    pub kernel: PathBuf,
    /// Its initrd (`initrd.gz`, ~40 MB).
    pub initrd: PathBuf,
}

impl Installer {
    /// Fetches the installer if it is not cached yet.
    pub fn get() -> &'static Installer {
        static INSTALLER: OnceLock<Installer> = OnceLock::new();
        INSTALLER.get_or_init(|| {
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/src/vm/fetch-installer.sh");
            let dir = cache_dir();
            let out = Command::new("bash")
                .arg(script)
                .arg(&dir)
                .output()
                .expect("run fetch-installer.sh");
            assert!(
                out.status.success(),
                "fetch-installer.sh failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            Installer {
                kernel: dir.join("d-i/linux"),
                initrd: dir.join("d-i/initrd.gz"),
            }
        })
    }
}
