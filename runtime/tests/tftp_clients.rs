//! The TFTP server against real clients on loopback: curl, tftp-hpa and atftp, each download
//! checked by sha256. A test whose client is not installed says so and passes.

mod tftp_support;

use std::path::Path;
use std::process::{Command, Output};

use netboot_manifest::sha256_hex;
use tftp_support::{client, pattern, sha256_file, snapshot, start, File, Running};

fn lab(dir: &Path) -> (Running, Vec<(&'static str, Vec<u8>)>) {
    let files = vec![
        ("undionly.kpxe", pattern(70_001, 1)),
        ("empty", Vec::new()),
        ("exact", pattern(512 * 20, 2)),
        ("kernel", pattern(3 * 1024 * 1024 + 17, 3)),
    ];
    let served = vec![
        File::Memory("undionly.kpxe", files[0].1.clone()),
        File::Memory("empty", files[1].1.clone()),
        File::Disk("exact", files[2].1.clone()),
        File::Disk("kernel", files[3].1.clone()),
    ];
    (start(snapshot(&served, dir)), files)
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run client");
    eprintln!(
        "{cmd:?} -> {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn curl_downloads_every_file_with_and_without_blksize() {
    let Some(curl) = client("curl", "curl_downloads_every_file_with_and_without_blksize") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (server, files) = lab(dir.path());
    for blksize in [None, Some("1468"), Some("65464"), Some("8")] {
        for (name, bytes) in &files {
            if blksize == Some("8") && bytes.len() > 100_000 {
                // Lockstep 8-byte blocks of a large file only measure the loopback's latency.
                continue;
            }
            for prefix in ["", "/"] {
                let out = dir.path().join("download");
                let _ = std::fs::remove_file(&out);
                let mut cmd = Command::new(&curl);
                cmd.args(["-sS", "--fail", "--max-time", "60", "-o"])
                    .arg(&out)
                    .arg(format!("tftp://{}/{prefix}{name}", server.addr));
                if let Some(b) = blksize {
                    cmd.args(["--tftp-blksize", b]);
                }
                let result = run(&mut cmd);
                assert!(result.status.success(), "curl {name} blksize {blksize:?}");
                assert_eq!(
                    sha256_file(&out),
                    sha256_hex(bytes),
                    "{name} at blksize {blksize:?}"
                );
            }
        }
    }
}

#[test]
fn curl_gets_errors_for_missing_files_and_uploads() {
    let Some(curl) = client("curl", "curl_gets_errors_for_missing_files_and_uploads") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = lab(dir.path());
    let out = dir.path().join("download");
    for missing in ["nope", "../exact", "exact/", "%2e%2e/exact"] {
        let result = run(Command::new(&curl)
            .args(["-sS", "--path-as-is", "--max-time", "20", "-o"])
            .arg(&out)
            .arg(format!("tftp://{}/{missing}", server.addr)));
        // curl's exit code 68 is "TFTP server: file not found".
        assert_eq!(result.status.code(), Some(68), "{missing}");
    }
    let upload = dir.path().join("upload");
    std::fs::write(&upload, b"hello").unwrap();
    let result = run(Command::new(&curl)
        .args(["-sS", "--max-time", "20", "-T"])
        .arg(&upload)
        .arg(format!("tftp://{}/new", server.addr)));
    // 69 is "TFTP: permission problem", which is what access violation maps to.
    assert_eq!(result.status.code(), Some(69));
}
