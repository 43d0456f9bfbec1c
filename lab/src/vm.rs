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
    /// The named network namespace (`ip netns add`) that holds the tap; `None`: this
    /// process's own (the private network `netboot test` entered).
    pub netns: Option<&'a str>,
    pub purpose: Purpose,
}

/// What the VM stands for, which decides its memory and what a reboot does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// A machine of the fleet (`netboot test`, `netboot try`): 1 GiB for a real installer,
    /// and reboots allowed, so a boot that fails comes back to the network instead of
    /// stopping where nobody sees it.
    Machine,
    /// A probe of the project's own VM tests (the lab kernel and busybox initrd): 512 MiB,
    /// and a reboot ends QEMU, so a boot that fails ends the test instead of looping.
    Probe,
}

impl Vm {
    /// Starts QEMU headless, with a screen to dump through QMP.
    pub fn start(o: &VmOptions) -> io::Result<Vm> {
        let serial = o.dir.join(format!("{}-serial.log", o.name));
        let qmp = o.dir.join(format!("{}-qmp.sock", o.name));
        let log = o.dir.join(format!("{}-qemu.log", o.name));
        let scratch = o.dir.join(o.name);
        let spec = Spec {
            qmp: Some(&qmp),
            screen: true,
            reboot: o.purpose == Purpose::Machine,
            accel: o.accel,
            memory_mib: o.purpose.memory_mib(),
            ..Spec::headless(o.firmware, o.tap, o.mac, &serial, &scratch)
        };
        let args = qemu::args(&spec)?;
        let out = File::create(&log)?;
        let mut command = in_netns(o.netns);
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
            reboot: o.purpose == Purpose::Machine,
            accel: o.accel,
            memory_mib: o.purpose.memory_mib(),
            ..Spec::headless(o.firmware, o.tap, o.mac, Path::new("-"), &scratch)
        };
        in_netns(o.netns).args(qemu::args(&spec)?).status()
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

impl Purpose {
    fn memory_mib(self) -> u32 {
        match self {
            Purpose::Machine => qemu::MACHINE_MEMORY_MIB,
            Purpose::Probe => qemu::SMALL_MEMORY_MIB,
        }
    }
}

/// QEMU, run in `netns` when one is named (`ip netns exec` execs it, so the child is QEMU
/// itself and the parent-death signal set before the exec still holds).
fn in_netns(netns: Option<&str>) -> Command {
    match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, qemu::QEMU]);
            c
        }
        None => Command::new(qemu::QEMU),
    }
}

fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}
