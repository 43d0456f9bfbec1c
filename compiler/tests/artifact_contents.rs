//! The build checks that each artifact is what its boot method needs, for the machines that
//! boot it: kernels, EFI binaries and sanboot ISOs, with real bytes (the heads of real files
//! in tests/pe/, Debian's iPXE when the machine has it) and stand-ins shaped like the real
//! thing (an ISO's volume descriptors and El Torito catalog written here).

use std::path::Path;

use netboot_compiler::{compile, compile_with, ServerOverrides};
use netboot_test_support::stand_in;

/// Each error as `code line:column`, for `fleet` compiled beside `files` (name, bytes).
fn errors_with(fleet: &str, files: &[(&str, Vec<u8>)], cache: Option<&Path>) -> Vec<String> {
    let tmp = tempfile::tempdir().unwrap();
    for (name, bytes) in files {
        std::fs::write(tmp.path().join(name), bytes).unwrap();
    }
    let path = tmp.path().join("fleet.kdl");
    std::fs::write(&path, fleet).unwrap();
    let result = match cache {
        Some(cache) => compile_with(&path, &ServerOverrides::default(), Some(cache)),
        None => compile(&path, &ServerOverrides::default()),
    };
    match result {
        Ok(_) => Vec::new(),
        Err(f) => f
            .diagnostics()
            .iter()
            .filter(|d| d.is_error())
            .map(|d| {
                let (l, c) = d.line_col().unwrap_or((0, 0));
                format!("{} {l}:{c}", d.code)
            })
            .collect(),
    }
}

fn errors(fleet: &str, files: &[(&str, Vec<u8>)]) -> Vec<String> {
    errors_with(fleet, files, None)
}

fn real(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/pe")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Loaders on line 1, the artifact `a` (file `f`) on line 2, a profile booting it on line 3.
fn fleet(loaders: &str, profile: &str) -> String {
    format!("loaders {{ {loaders} }}\nartifact \"a\" path=\"f\"\nprofile \"p\" {{ {profile} }}\ndefault profile=\"p\"\n")
}

const X86: &str = "bios \"lb\"; efi-x64 \"lx\";";
const ARM64: &str = "efi-arm64 \"la\";";

/// Stand-ins for the loaders `X86` and `ARM64` name (loaders are not checked).
fn loaders() -> Vec<(&'static str, Vec<u8>)> {
    ["lb", "lx", "la"]
        .into_iter()
        .map(|l| (l, b"loader".to_vec()))
        .collect()
}

fn with(file: Vec<u8>) -> Vec<(&'static str, Vec<u8>)> {
    let mut files = loaders();
    files.push(("f", file));
    files
}

#[test]
fn kernels_are_linux_kernels_of_the_machines_architecture() {
    let kernel =
        |loaders: &str, file: Vec<u8>| errors(&fleet(loaders, "kernel \"a\";"), &with(file));
    // Debian's amd64 kernel on x86; its arm64 installer kernel on arm64.
    assert_eq!(
        kernel(X86, real("vmlinuz-6.1.0-57-amd64.head")),
        Vec::<String>::new()
    );
    assert_eq!(
        kernel(ARM64, real("linux-arm64.head")),
        Vec::<String>::new()
    );
    // Each on the other's machines.
    assert_eq!(
        kernel(X86, real("linux-arm64.head")),
        ["fleet::wrong-architecture 2:19"]
    );
    assert_eq!(
        kernel(ARM64, real("vmlinuz-6.1.0-57-amd64.head")),
        ["fleet::wrong-architecture 2:19"]
    );
    // `only "bios"` keeps the arm64 machines away: an arm64 kernel boots none of the rest.
    let only_bios = fleet(&format!("{X86} {ARM64}"), "only \"bios\"; kernel \"a\";");
    assert_eq!(
        errors(&only_bios, &with(real("linux-arm64.head"))),
        ["fleet::wrong-architecture 2:19"]
    );
    // An initrd named as the kernel, and a text stand-in.
    assert_eq!(
        kernel(X86, real("initrd.img.head")),
        ["fleet::not-a-kernel 2:19"]
    );
    assert_eq!(
        kernel(X86, b"stand-in kernel\n".to_vec()),
        ["fleet::not-a-kernel 2:19"]
    );
    // gzip is how arm64 kernels come compressed: accepted where arm64 machines boot it.
    assert_eq!(kernel(ARM64, real("initrd.img.head")), Vec::<String>::new());
    // Without loaders the fleet does not say which machines boot it: only the format counts.
    assert_eq!(kernel("", real("linux-arm64.head")), Vec::<String>::new());
    assert_eq!(kernel("", b"text".to_vec()), ["fleet::not-a-kernel 2:19"]);
}

#[test]
fn the_message_says_what_the_file_is() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("f"), real("initrd.img.head")).unwrap();
    for (name, bytes) in loaders() {
        std::fs::write(tmp.path().join(name), bytes).unwrap();
    }
    let path = tmp.path().join("fleet.kdl");
    std::fs::write(&path, fleet(X86, "kernel \"a\";")).unwrap();
    let failure = compile(&path, &ServerOverrides::default()).unwrap_err();
    let d = failure.diagnostics().iter().find(|d| d.is_error()).unwrap();
    assert_eq!(
        d.message,
        "artifact `a` (f) is not a Linux kernel: this is a gzip file (an initrd?)"
    );
}

#[test]
fn efi_binaries_are_pe_images_of_the_machines_type() {
    let efi = |loaders: &str, file: Vec<u8>| errors(&fleet(loaders, "efi \"a\";"), &with(file));
    assert_eq!(
        efi("efi-x64 \"lx\";", real("ipxe.efi.head")),
        Vec::<String>::new()
    );
    assert_eq!(
        efi(ARM64, real("ipxe.efi.head")),
        ["fleet::wrong-architecture 2:19"]
    );
    assert_eq!(
        efi(ARM64, stand_in::efi_arm64("tool")),
        Vec::<String>::new()
    );
    assert_eq!(
        efi("efi-x64 \"lx\";", real("initrd.img.head")),
        ["fleet::not-an-efi-binary 2:19"]
    );
    // Debian's real iPXE, the whole file, where the machine has it.
    if let Ok(ipxe) = std::fs::read("/usr/lib/ipxe/ipxe.efi") {
        assert_eq!(efi("efi-x64 \"lx\";", ipxe), Vec::<String>::new());
    }
}

#[test]
fn sanboot_isos_boot_the_firmware_of_the_machines() {
    let sanboot =
        |loaders: &str, profile: &str, file: Vec<u8>| errors(&fleet(loaders, profile), &with(file));
    let bios_only = stand_in::iso(true, false);
    assert_eq!(
        sanboot(X86, "sanboot \"a\";", bios_only.clone()),
        ["fleet::unbootable-iso 2:19"]
    );
    assert_eq!(
        sanboot("bios \"lb\";", "sanboot \"a\";", bios_only.clone()),
        Vec::<String>::new()
    );
    assert_eq!(
        sanboot(X86, "only \"bios\"; sanboot \"a\";", bios_only),
        Vec::<String>::new()
    );
    // The counterpart: an EFI-only ISO offered to BIOS machines.
    let efi_only = stand_in::iso(false, true);
    assert_eq!(
        sanboot(X86, "sanboot \"a\";", efi_only.clone()),
        ["fleet::unbootable-iso 2:19"]
    );
    assert_eq!(
        sanboot(X86, "only \"efi\"; sanboot \"a\";", efi_only),
        Vec::<String>::new()
    );
    assert_eq!(
        sanboot(X86, "sanboot \"a\";", stand_in::iso(true, true)),
        Vec::<String>::new()
    );
    // An ISO that boots nothing, whoever boots it.
    assert_eq!(
        sanboot("", "sanboot \"a\";", stand_in::iso(false, false)),
        ["fleet::unbootable-iso 2:19"]
    );
    // A hard-disk image with a boot sector is the firmware's business; text is nothing.
    let mut disk = vec![0u8; 4096];
    disk[510..512].copy_from_slice(&[0x55, 0xaa]);
    assert_eq!(sanboot(X86, "sanboot \"a\";", disk), Vec::<String>::new());
    assert_eq!(
        sanboot(X86, "sanboot \"a\";", b"iso".to_vec()),
        ["fleet::not-a-disk-image 2:19"]
    );
}

#[test]
fn url_artifacts_are_checked_once_downloaded_and_not_before() {
    let text = b"<html>not found</html>\n".to_vec();
    let sha = netboot_compiler::manifest::sha256_hex(&text);
    let fleet = format!(
        "loaders {{ {X86} }}\nartifact \"a\" url=\"http://127.0.0.1:9/k\" sha256=\"{sha}\"\nprofile \"p\" {{ kernel \"a\"; }}\ndefault profile=\"p\"\n"
    );
    let files = loaders();
    // Not downloaded (`--no-download`): booted from its URL, nothing to read.
    assert_eq!(errors(&fleet, &files), Vec::<String>::new());
    let cache = tempfile::tempdir().unwrap();
    std::fs::create_dir(cache.path().join("sha256")).unwrap();
    std::fs::write(cache.path().join("sha256").join(&sha), &text).unwrap();
    assert_eq!(
        errors_with(&fleet, &files, Some(cache.path())),
        ["fleet::not-a-kernel 2:18"]
    );
}
