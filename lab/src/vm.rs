//! One QEMU process of a lab: started on its tap with its console in a file and a QMP socket,
//! killed when dropped so a failing run leaves no VM behind.

use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::firmware::{Accel, Firmware};
use crate::qemu::{self, Serial, Spec};
use crate::qmp::{Qmp, QmpError};

/// A VM started by [`Vm::start`], its files named `<dir>/<name>-*`.
pub struct Vm {
    child: Child,
    serial: PathBuf,
    qmp: PathBuf,
    log: PathBuf,
}

/// What a VM is started with.
pub struct VmOptions<'a> {
    pub firmware: Firmware,
    pub tap: &'a str,
    pub mac: &'a str,
    pub accel: Accel,
    /// Where its files go: `<name>-serial.log`, `<name>-qemu.log`, `<name>-qmp.sock`, ...
    pub dir: &'a Path,
    pub name: &'a str,
}

impl Vm {
    /// Starts QEMU headless with a screen to dump and reboots allowed, so a boot that fails
    /// comes back to the network instead of stopping where nobody sees it.
    pub fn start(o: &VmOptions) -> io::Result<Vm> {
        let serial = o.dir.join(format!("{}-serial.log", o.name));
        let qmp = o.dir.join(format!("{}-qmp.sock", o.name));
        let log = o.dir.join(format!("{}-qemu.log", o.name));
        let scratch = o.dir.join(o.name);
        let spec = Spec {
            qmp: Some(&qmp),
            screen: true,
            reboot: true,
            accel: o.accel,
            memory_mib: qemu::MACHINE_MEMORY_MIB,
            ..Spec::headless(o.firmware, o.tap, o.mac, &serial, &scratch)
        };
        let args = qemu::args(&spec)?;
        let out = File::create(&log)?;
        let mut command = Command::new(qemu::QEMU);
        command
            .args(&args)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        // A `netboot test` killed outright (a CI timeout's SIGKILL) runs no Drop: the kernel
        // then kills QEMU with it, so no VM outlives the run and keeps its network alive.
        // SAFETY: prctl is async-signal-safe and touches nothing of the parent's.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn()?;
        Ok(Vm {
            child,
            serial,
            qmp,
            log,
        })
    }

    /// Runs QEMU with the guest's serial console on this terminal (Ctrl-A X quits) until it
    /// ends; for a person walking menus by hand.
    pub fn attached(o: &VmOptions) -> io::Result<ExitStatus> {
        let scratch = o.dir.join(o.name);
        let spec = Spec {
            serial: Serial::Stdio,
            reboot: true,
            accel: o.accel,
            memory_mib: qemu::MACHINE_MEMORY_MIB,
            ..Spec::headless(o.firmware, o.tap, o.mac, Path::new("-"), &scratch)
        };
        Command::new(qemu::QEMU).args(qemu::args(&spec)?).status()
    }

    /// The serial console so far (lossy UTF-8: firmware writes escape codes).
    pub fn serial_text(&self) -> String {
        read_lossy(&self.serial)
    }

    pub fn serial_path(&self) -> &Path {
        &self.serial
    }

    /// What QEMU itself printed (errors about its arguments, devices, the tap).
    pub fn qemu_log(&self) -> String {
        read_lossy(&self.log)
    }

    /// The exit status once QEMU has ended (the guest powered off, or QEMU failed).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// A PNG of the screen now, through QMP; fails once QEMU has ended.
    pub fn screendump(&self, png: &Path) -> Result<(), QmpError> {
        let mut qmp = Qmp::connect(&self.qmp, Duration::from_secs(10))?;
        qmp.screendump_png(png)
    }

    /// Kills QEMU (if still running) and reaps it.
    pub fn stop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        self.stop();
    }
}

fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}
