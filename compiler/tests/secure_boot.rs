//! A fleet with Secure Boot machines and others (tests/secure_boot/fleet.kdl): the chain's
//! loaders under `sb/`, the GRUB configs under `grub/` (dispatch, per host, default; menus,
//! submenus, one profile booted at once), the artifacts GRUB fetches served over TFTP and the
//! manifest's Secure Boot table, pinned byte for byte. Regenerate after an intended change
//! with `SNAPSHOTS=overwrite cargo test -p netboot-compiler --test secure_boot`, then review the diff.

use std::path::PathBuf;

use netboot_compiler::{compile, ServerOverrides};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/secure_boot")
}

/// Every generated file, then the manifest, in one reviewable text.
fn rendered() -> String {
    let compiled = compile(&dir().join("fleet.kdl"), &ServerOverrides::default())
        .unwrap_or_else(|f| panic!("{f}"));
    netboot_test_support::golden::compiled_text(&compiled.generated, &compiled.manifest.to_json())
}

#[test]
fn the_secure_boot_chain_renders_as_pinned() {
    let got = rendered();
    let path = dir().join("golden.txt");
    netboot_test_support::golden::check_file(&path, &got);
}

/// Compiles `fleet` next to the stand-in files of tests/secure_boot/files (copied).
fn build(fleet: &str) -> Result<netboot_compiler::Compiled, netboot_compiler::Failure> {
    let tmp = tempfile::tempdir().unwrap();
    let files = tmp.path().join("files");
    std::fs::create_dir(&files).unwrap();
    for e in std::fs::read_dir(dir().join("files")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), files.join(e.file_name())).unwrap();
    }
    let path = tmp.path().join("fleet.kdl");
    std::fs::write(&path, fleet).unwrap();
    compile(&path, &ServerOverrides::default())
}

/// Each error as `code line:column`.
fn errors(fleet: &str) -> Vec<String> {
    let failure = match build(fleet) {
        Ok(_) => return Vec::new(),
        Err(f) => f,
    };
    failure
        .diagnostics()
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let (l, c) = d.line_col().unwrap_or((0, 0));
            format!("{} {l}:{c}", d.code)
        })
        .collect()
}

const HEAD: &str = r#"loaders {
    efi-x64 "files/ipxe.efi"
    secure-boot { shim "files/shimx64.efi.signed"; grub "files/grubnetx64.efi.signed"; }
}
artifact "linux" path="files/vmlinuz"
artifact "initrd" path="files/initrd.img"
artifact "ipxe" path="files/ipxe.efi"
artifact "remote" url="https://example.org/vmlinuz" sha256="0000000000000000000000000000000000000000000000000000000000000001"
profile "ok" { kernel "linux"; initrd "initrd"; }
"#;

#[test]
fn what_grub_cannot_boot_is_refused_only_where_a_secure_boot_machine_reaches_it() {
    let fleet = |tail: &str| format!("{HEAD}{tail}");
    // Line 10 is the first after HEAD.
    let cases: &[(&str, &str)] = &[
        (
            "profile \"x\" { chain \"https://boot.netboot.xyz\"; }\nhost \"a\" mac=\"52:54:00:00:00:01\" profile=\"x\" secure-boot=#true\n",
            "fleet::not-for-secure-boot 10:21",
        ),
        (
            "profile \"x\" { sanboot \"iso\"; }\nartifact \"iso\" path=\"files/rescue.iso\"\nhost \"a\" mac=\"52:54:00:00:00:01\" profile=\"x\" secure-boot=#true\n",
            "fleet::not-for-secure-boot 10:23",
        ),
        (
            "profile \"x\" { only \"bios\"; bios \"linux\"; }\nhost \"a\" mac=\"52:54:00:00:00:01\" profile=\"x\" secure-boot=#true\n",
            "fleet::not-for-secure-boot 10:20",
        ),
        (
            "profile \"x\" { kernel \"remote\"; }\nhost \"a\" mac=\"52:54:00:00:00:01\" profile=\"x\" secure-boot=#true\n",
            "fleet::not-for-secure-boot 10:22",
        ),
        (
            "profile \"x\" { efi \"ipxe\"; }\nmenu \"m\" { menu \"sub\" \"Sub\" { item \"x\" \"iPXE\"; }; }\ndefault menu=\"m\" secure-boot=#true\n",
            "fleet::unsigned-image 10:19",
        ),
    ];
    for (tail, want) in cases {
        assert_eq!(errors(&fleet(tail)), vec![want.to_string()], "{tail}");
    }
    // The same profiles, reached by machines that boot iPXE, are fine.
    let plain = "profile \"x\" { chain \"https://boot.netboot.xyz\"; }\nprofile \"y\" { efi \"ipxe\"; }\n\
        host \"a\" mac=\"52:54:00:00:00:01\" profile=\"x\"\n\
        group \"g\" profile=\"y\" secure-boot=#true { host \"b\" mac=\"52:54:00:00:00:02\" secure-boot=#false; }\n\
        host \"c\" mac=\"52:54:00:00:00:03\" profile=\"ok\" secure-boot=#true\n";
    assert_eq!(errors(&fleet(plain)), Vec::<String>::new());
}

#[test]
fn the_chain_loaders_must_be_signed_and_complete() {
    let unsigned_shim =
        "loaders { secure-boot { shim \"files/ipxe.efi\"; grub \"files/initrd.img\"; }; }\n\
        profile \"p\" { exit; }\ndefault profile=\"p\"\n";
    assert_eq!(
        errors(unsigned_shim),
        vec!["fleet::unsigned-image 1:30", "fleet::not-a-pe-image 1:53"]
    );
    let no_grub = "loaders { secure-boot { shim \"files/shimx64.efi.signed\"; }; }\n\
        profile \"p\" { exit; }\ndefault profile=\"p\"\n";
    assert_eq!(errors(no_grub), vec!["fleet::missing-value 1:11"]);
    let not_bool = "profile \"p\" { exit; }\ndefault profile=\"p\" secure-boot=\"yes\"\n";
    assert_eq!(errors(not_bool), vec!["fleet::wrong-type 2:33"]);
}

#[test]
fn without_a_secure_boot_default_unknown_machines_keep_ipxe_and_grub_exits() {
    let c = build(&format!(
        "{HEAD}host \"a\" mac=\"52:54:00:00:00:01\" profile=\"ok\" secure-boot=#true\ndefault profile=\"ok\"\n"
    ))
    .unwrap_or_else(|f| panic!("{f}"));
    let sb = c
        .manifest
        .secure_boot
        .as_ref()
        .expect("a Secure Boot table");
    assert!(!sb.default);
    let default = String::from_utf8(c.generated["grub/default.cfg"].clone()).unwrap();
    assert!(default.ends_with("exit\n"), "{default}");
    assert!(!default.contains("linux"), "{default}");
    // Only the Secure Boot host has a GRUB config; artifacts it boots are on TFTP.
    let grub_hosts: Vec<&String> = c
        .generated
        .keys()
        .filter(|k| k.starts_with("grub/hosts/"))
        .collect();
    assert_eq!(grub_hosts, ["grub/hosts/52:54:00:00:00:01.cfg"]);
    assert!(c.manifest.files["artifacts/linux"].tftp);
    assert!(
        !c.manifest.files["artifacts/ipxe"].tftp,
        "iPXE-only artifacts stay HTTP-only"
    );
}
