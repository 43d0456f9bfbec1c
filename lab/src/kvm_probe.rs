//! Whether KVM can really run a guest, not just whether /dev/kvm opens.
//!
//! Opening /dev/kvm proves little: some hosts (nested or sandboxed ones) answer every KVM
//! ioctl yet run the guest's code a thousand times slower than TCG, so a Linux kernel does not
//! get past its decompressor within any boot's timeout. The probe runs a tiny real-mode guest
//! (a counting loop at the reset vector, then `hlt`) and accepts KVM when it halts quickly:
//! hardware runs the loop in well under a millisecond, TCG in a few, such a host in hundreds.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};

/// Iterations of the guest's loop (two instructions each).
const LOOPS: u32 = 200_000;
/// The loop must end within this (hardware: ~0.1 ms; the slow hosts above: ~200 ms).
const FAST_ENOUGH: Duration = Duration::from_millis(20);
/// A KVM_RUN that never returns is abandoned after this: the guest is not running usefully.
const GIVE_UP: Duration = Duration::from_secs(2);
/// Best of this many runs, so one preemption of the probe's thread on a busy host is no verdict.
const TRIES: usize = 3;

const KVM_API_VERSION: i32 = 12;
const KVM_EXIT_HLT: u32 = 5;

#[repr(C)]
struct MemoryRegion {
    slot: u32,
    flags: u32,
    guest_phys_addr: u64,
    memory_size: u64,
    userspace_addr: u64,
}

/// One page of guest memory, page-aligned as KVM requires.
#[repr(C, align(4096))]
struct Page([u8; 4096]);

nix::ioctl_write_int_bad!(kvm_get_api_version, nix::request_code_none!(0xAE, 0x00));
nix::ioctl_write_int_bad!(kvm_create_vm, nix::request_code_none!(0xAE, 0x01));
nix::ioctl_write_int_bad!(kvm_get_vcpu_mmap_size, nix::request_code_none!(0xAE, 0x04));
nix::ioctl_write_int_bad!(kvm_create_vcpu, nix::request_code_none!(0xAE, 0x41));
nix::ioctl_write_int_bad!(kvm_run, nix::request_code_none!(0xAE, 0x80));
nix::ioctl_write_ptr!(kvm_set_user_memory_region, 0xAE, 0x46, MemoryRegion);

/// Why KVM is not used (for the log line that says TCG was chosen).
pub fn unusable_reason() -> Option<String> {
    let (tx, rx) = mpsc::channel();
    // A thread, because a broken KVM may never return from KVM_RUN; it is then left behind
    // (blocked in the kernel, it holds nothing but its own VM) and the process carries on.
    let spawned = std::thread::Builder::new()
        .name("kvm-probe".into())
        .spawn(move || {
            let _ = tx.send(probe());
        });
    if let Err(e) = spawned {
        return Some(format!("cannot start the probe: {e}"));
    }
    match rx.recv_timeout(GIVE_UP) {
        Ok(Ok(took)) if took <= FAST_ENOUGH => None,
        Ok(Ok(took)) => Some(format!(
            "a {LOOPS}-iteration loop took {:.1} ms in a KVM guest (hardware: well under 1 ms)",
            took.as_secs_f64() * 1000.0
        )),
        Ok(Err(e)) => Some(e),
        Err(_) => Some(format!(
            "a tiny KVM guest did not halt within {} s",
            GIVE_UP.as_secs()
        )),
    }
}

/// The fastest of [`TRIES`] runs of the guest.
fn probe() -> Result<Duration, String> {
    let kvm = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .map_err(|e| format!("/dev/kvm: {e}"))?;
    let fd = kvm.as_raw_fd();
    // SAFETY: plain ioctls on a descriptor this function owns; the integer argument is all
    // they read.
    let version =
        unsafe { kvm_get_api_version(fd, 0) }.map_err(|e| format!("KVM_GET_API_VERSION: {e}"))?;
    if version != KVM_API_VERSION {
        return Err(format!("KVM API version {version}, not {KVM_API_VERSION}"));
    }
    let mut best = Duration::MAX;
    for _ in 0..TRIES {
        best = best.min(run_once(fd)?);
    }
    Ok(best)
}

/// The guest: at the reset vector (physical 0xfffffff0, where a fresh vCPU starts in real
/// mode) `mov ecx, LOOPS; l: dec ecx; jnz l; hlt`.
fn guest() -> Box<Page> {
    let mut page = Box::new(Page([0xf4; 4096]));
    let mut code = vec![0x66, 0xb9];
    code.extend_from_slice(&LOOPS.to_le_bytes());
    code.extend_from_slice(&[0x66, 0x49, 0x75, 0xfc, 0xf4]);
    page.0[0xff0..0xff0 + code.len()].copy_from_slice(&code);
    page
}

fn run_once(kvm: RawFd) -> Result<Duration, String> {
    let page = guest();
    // SAFETY: ioctls on /dev/kvm with integer arguments; each returned descriptor is new and
    // owned from here on.
    let vm = unsafe { kvm_create_vm(kvm, 0) }.map_err(|e| format!("KVM_CREATE_VM: {e}"))?;
    let vm = unsafe { OwnedFd::from_raw_fd(vm) };
    let region = MemoryRegion {
        slot: 0,
        flags: 0,
        guest_phys_addr: 0xffff_f000,
        memory_size: 4096,
        userspace_addr: page.0.as_ptr() as u64,
    };
    // SAFETY: the region points at `page`, which outlives the VM (dropped after `vm` below).
    unsafe { kvm_set_user_memory_region(vm.as_raw_fd(), &region) }
        .map_err(|e| format!("KVM_SET_USER_MEMORY_REGION: {e}"))?;
    let vcpu = unsafe { kvm_create_vcpu(vm.as_raw_fd(), 0) }
        .map_err(|e| format!("KVM_CREATE_VCPU: {e}"))?;
    let vcpu = unsafe { OwnedFd::from_raw_fd(vcpu) };
    let size = unsafe { kvm_get_vcpu_mmap_size(kvm, 0) }
        .map_err(|e| format!("KVM_GET_VCPU_MMAP_SIZE: {e}"))?;
    let size = std::num::NonZeroUsize::new(usize::try_from(size).unwrap_or(0))
        .ok_or("KVM_GET_VCPU_MMAP_SIZE: 0")?;
    // SAFETY: maps the vCPU's shared run structure, unmapped below before `vcpu` closes.
    let run = unsafe {
        mmap(
            None,
            size,
            ProtFlags::PROT_READ,
            MapFlags::MAP_SHARED,
            &vcpu,
            0,
        )
    }
    .map_err(|e| format!("mmap of the vCPU: {e}"))?;
    let started = Instant::now();
    let ran = unsafe { kvm_run(vcpu.as_raw_fd(), 0) };
    let took = started.elapsed();
    // SAFETY: `struct kvm_run` starts with two bytes and six of padding, then the u32
    // exit_reason; the mapping is at least a page.
    let exit = unsafe { run.cast::<u8>().add(8).cast::<u32>().read_volatile() };
    let _ = unsafe { munmap(run, size.get()) };
    drop(vcpu);
    drop(vm);
    drop(page);
    ran.map_err(|e| format!("KVM_RUN: {e}"))?;
    if exit != KVM_EXIT_HLT {
        return Err(format!(
            "the KVM guest stopped with exit reason {exit}, not hlt"
        ));
    }
    Ok(took)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guest_counts_down_at_the_reset_vector_then_halts() {
        let page = guest();
        assert_eq!(
            &page.0[0xff0..0xffb],
            &[0x66, 0xb9, 0x40, 0x0d, 0x03, 0x00, 0x66, 0x49, 0x75, 0xfc, 0xf4]
        );
    }
}
