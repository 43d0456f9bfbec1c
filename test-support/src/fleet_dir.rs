//! A fleet in a temporary directory with small stand-in files, edited the ways editors and
//! operators do (rename over, write in place, symlinks), and built with `netboot build`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fleet in a temporary directory with small stand-in files.
pub struct Fleet {
    dir: tempfile::TempDir,
}

impl Fleet {
    pub fn new(text: &str) -> Fleet {
        let fleet = Fleet {
            dir: tempfile::tempdir().unwrap(),
        };
        fleet.write_file("loaders/undionly.kpxe", b"stand-in loader\n");
        fleet.write_file("files/kernel", &Fleet::kernel_v1());
        fleet.write_file("files/initrd", b"initrd v1\n");
        fleet.write(text);
        fleet
    }

    /// What `files/kernel` holds at first: a stand-in kernel marked `kernel v1`.
    pub fn kernel_v1() -> Vec<u8> {
        crate::stand_in::kernel("kernel v1\n")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("fleet.kdl")
    }

    /// Saves the fleet the way editors do: a temporary file renamed over the original.
    pub fn write(&self, text: &str) {
        let tmp = self.dir.path().join(".fleet.kdl.swp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, self.path()).unwrap();
    }

    pub fn write_file(&self, relative: &str, bytes: &[u8]) {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let tmp = path.with_extension("tmp-write");
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }

    /// Writes into the existing inode, as `cp` onto an existing file does.
    pub fn overwrite_in_place(&self, relative: &str, bytes: &[u8]) {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(self.dir.path().join(relative))
            .unwrap();
        file.write_all(bytes).unwrap();
    }

    /// `ln -s TARGET LINK`, both relative to the fleet's directory (TARGET as the link holds it).
    pub fn symlink(&self, target: &str, link: &str) {
        let link = self.dir.path().join(link);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, link).unwrap();
    }

    /// `mv -T FROM TO` inside the fleet's directory: one atomic rename that replaces `TO`.
    pub fn rename(&self, from: &str, to: &str) {
        std::fs::rename(self.dir.path().join(from), self.dir.path().join(to)).unwrap();
    }

    /// `netboot build` into `out/` beside the fleet.
    pub fn build(&self) -> PathBuf {
        let out = self.dir.path().join("out");
        let output = Command::new(crate::netboot_bin())
            .arg("build")
            .arg(self.path())
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "build failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        out
    }
}
