//! Artifacts are what their boot method needs, for the machines that boot them: a `kernel` is
//! a Linux kernel of their architecture, an `efi` binary a PE image of their machine type,
//! and a `sanboot` ISO has an El Torito image for their firmware. Without this, the mistake
//! (an initrd named as the kernel, a BIOS-only rescue ISO offered to UEFI machines) shows
//! only on the machine, at boot, as a hang or "Exec format error".
//!
//! Which machines boot a profile is what the fleet serves (its loaders), less what the
//! profile's `only` keeps away; a fleet without loaders does not say, and then only the
//! format is checked. Only local files are read (a `url=` artifact once `netboot build` has
//! downloaded it), and only their first bytes.

use std::collections::{BTreeMap, BTreeSet};

use super::{Rule, Validator};
use crate::boot::Content;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Span};
use crate::el_torito::{self, BootImages, NotBootable};
use crate::file_kind;
use crate::files::{read_range, LocalFile};
use crate::fleet::{LoaderKind, Location, Platform};
use crate::linux_image::{self, Arch, LinuxImage};
use crate::pe_image::{self, Machine};

pub(super) const RULE: Rule = Rule {
    name: "artifact contents",
    codes: &[
        Code::NotAKernel,
        Code::NotAnEfiBinary,
        Code::WrongArchitecture,
        Code::NotADiskImage,
        Code::UnbootableIso,
        Code::UnreadableFile,
    ],
    check: |v| v.artifact_contents(),
};

/// One artifact booted one way, by every profile that does.
struct Use {
    /// The first reference to it, where "booted as … here" points.
    by: Span,
    /// The loaders of the machines that boot it, across those profiles.
    kinds: BTreeSet<LoaderKind>,
}

fn arch(kind: LoaderKind) -> Arch {
    match kind {
        LoaderKind::Bios | LoaderKind::EfiX64 => Arch::X86,
        LoaderKind::EfiArm64 => Arch::Arm64,
    }
}

/// The machine type a UEFI client kind runs; `None` for BIOS.
fn efi_machine(kind: LoaderKind) -> Option<Machine> {
    match kind {
        LoaderKind::Bios => None,
        LoaderKind::EfiX64 => Some(Machine::X64),
        LoaderKind::EfiArm64 => Some(Machine::Arm64),
    }
}

impl Validator<'_, '_> {
    fn artifact_contents(&mut self) {
        let fleet = self.fleet;
        let mut uses: BTreeMap<(usize, Content), Use> = BTreeMap::new();
        for p in &fleet.profiles {
            let Some(method) = &p.method else { continue };
            let kinds = fleet
                .loaders
                .iter()
                .map(|l| l.kind)
                .filter(|k| p.only.as_ref().is_none_or(|o| o.value == k.platform()));
            let kinds: BTreeSet<LoaderKind> = kinds.collect();
            for (r, content) in method.contents() {
                let Some(&ai) = self.artifacts.get(&r.value) else {
                    continue; // reported as unknown
                };
                let u = uses.entry((ai, content)).or_insert_with(|| Use {
                    by: r.span,
                    kinds: BTreeSet::new(),
                });
                u.kinds.extend(&kinds);
            }
        }
        for ((ai, content), u) in uses {
            // A missing file is reported already, and a URL not downloaded is not here.
            let Some(file) = self.local.get(&ai).cloned() else {
                continue;
            };
            let d = match content {
                Content::Kernel => self.kernel(ai, &file, &u),
                Content::EfiBinary => self.efi_binary(ai, &file, &u),
                Content::DiskImage => self.disk_image(ai, &file, &u),
            };
            if let Some(d) = d {
                self.push(d);
            }
        }
    }

    /// `artifact `NAME` (PATH)`, for messages.
    fn artifact_title(&self, ai: usize, file: &LocalFile) -> String {
        let a = &self.fleet.artifacts[ai];
        if a.downloaded {
            // Its cache path says nothing to the reader; the label points at its URL.
            format!("artifact `{}` (downloaded)", a.name.value)
        } else {
            format!("artifact `{}` ({})", a.name.value, file.manifest_path)
        }
    }

    /// Where the artifact's file is named: the `path=` (or `url=`) value.
    fn location_span(&self, ai: usize) -> Span {
        match &self.fleet.artifacts[ai].location {
            Location::Path(s) | Location::Url(s) => s.span,
        }
    }

    /// Reads `len` bytes of `file` from `offset`, or reports why it cannot.
    fn read(&mut self, ai: usize, file: &LocalFile, offset: u64, len: usize) -> Option<Vec<u8>> {
        match read_range(&file.abs, offset, len) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                let d = Diagnostic::new(
                    Code::UnreadableFile,
                    format!("cannot read {}: {e}", self.artifact_title(ai, file)),
                )
                .label(self.location_span(ai), "artifact cannot be read")
                .help(format!(
                    "check the permissions of {} for the user netboot runs as",
                    file.abs.display()
                ));
                self.push(d);
                None
            }
        }
    }

    /// The first loader line serving one of `kinds`, to show who boots the artifact.
    fn served_by(
        &self,
        d: Diagnostic,
        kinds: impl Fn(LoaderKind) -> bool,
        who: &str,
    ) -> Diagnostic {
        match self.fleet.loaders.iter().find(|l| kinds(l.kind)) {
            Some(l) => d.label(l.path.span, format!("{who} machines are served here")),
            None => d,
        }
    }

    fn kernel(&mut self, ai: usize, file: &LocalFile, u: &Use) -> Option<Diagnostic> {
        let head = self.read(ai, file, 0, linux_image::HEAD_LEN)?;
        let title = self.artifact_title(ai, file);
        let arches: BTreeSet<Arch> = u.kinds.iter().map(|&k| arch(k)).collect();
        let not_a_kernel = |what: &str| {
            Diagnostic::new(
                Code::NotAKernel,
                format!("{title} is not a Linux kernel: this is {what}"),
            )
            .label(self.location_span(ai), format!("{what}, not a kernel"))
            .label(u.by, "booted as a kernel here")
        };
        let found = match linux_image::inspect(&head) {
            LinuxImage::Kernel(found) => found,
            // arm64 kernels come gzip-compressed, and arm64 machines unpack them.
            LinuxImage::Gzip if arches.is_empty() || arches.contains(&Arch::Arm64) => return None,
            LinuxImage::Gzip => {
                return Some(not_a_kernel(file_kind::describe(&head)).help(
                    "x86 kernels are bzImages (Debian's installer: `linux`; an installed system: `/boot/vmlinuz-*`); the gzip file is the initrd, for `initrd`",
                ))
            }
            LinuxImage::ForeignPe(machine) => {
                let d = Diagnostic::new(
                    Code::WrongArchitecture,
                    format!(
                        "{title} is an EFI executable for {}, which none of the machines here run",
                        machine.describe()
                    ),
                )
                .label(self.location_span(ai), format!("for {}", machine.describe()))
                .label(u.by, "booted as a kernel here")
                .help("use the kernel built for the machines' architecture (x86-64 or arm64)");
                return Some(d);
            }
            LinuxImage::NotKernel => {
                return Some(not_a_kernel(file_kind::describe(&head)).help(
                    "point at the kernel image (Debian's installer: `linux`; an installed system: `/boot/vmlinuz-*`), and give the initrd to `initrd`",
                ))
            }
        };
        if arches.is_empty() || arches.contains(&found) {
            return None;
        }
        let served: Vec<&str> = arches.iter().map(|a| a.describe()).collect();
        let d = Diagnostic::new(
            Code::WrongArchitecture,
            format!(
                "{title} is an {} kernel, but the machines that boot it are {}",
                found.describe(),
                served.join(" and ")
            ),
        )
        .label(
            self.location_span(ai),
            format!("an {} kernel", found.describe()),
        )
        .label(u.by, "booted as a kernel here")
        .help(format!(
            "use the {} kernel (Debian's installer for {}: `debian-installer-12-netboot-{}`)",
            served[0],
            served[0],
            if served[0] == "arm64" {
                "arm64"
            } else {
                "amd64"
            }
        ));
        Some(self.served_by(d, |k| u.kinds.contains(&k), served[0]))
    }

    fn efi_binary(&mut self, ai: usize, file: &LocalFile, u: &Use) -> Option<Diagnostic> {
        let head = self.read(ai, file, 0, pe_image::HEAD_LEN)?;
        let title = self.artifact_title(ai, file);
        let machine = match pe_image::machine(&head) {
            Ok(machine) => machine,
            Err(not) => {
                let what = file_kind::describe(&head);
                let d = Diagnostic::new(
                    Code::NotAnEfiBinary,
                    format!("{title} is not an EFI executable ({not}): this is {what}"),
                )
                .label(
                    self.location_span(ai),
                    format!("{what}, not an EFI executable"),
                )
                .label(u.by, "booted as an EFI binary here")
                .help("UEFI machines run PE images: point `efi` at the `.efi` build of the tool");
                return Some(d);
            }
        };
        let wanted: Vec<Machine> = u.kinds.iter().filter_map(|&k| efi_machine(k)).collect();
        if wanted.is_empty() || wanted.contains(&machine) {
            return None;
        }
        let d = Diagnostic::new(
            Code::WrongArchitecture,
            format!(
                "{title} is an EFI executable for {}, but the UEFI machines that boot it are {}",
                machine.describe(),
                wanted[0].describe()
            ),
        )
        .label(
            self.location_span(ai),
            format!("for {}", machine.describe()),
        )
        .label(u.by, "booted as an EFI binary here")
        .help(format!(
            "use the {} build of the tool",
            wanted[0].describe()
        ));
        let who = format!("{} UEFI", wanted[0].describe());
        Some(self.served_by(d, |k| efi_machine(k) == Some(wanted[0]), &who))
    }

    fn disk_image(&mut self, ai: usize, file: &LocalFile, u: &Use) -> Option<Diagnostic> {
        let title = self.artifact_title(ai, file);
        let descriptors = self.read(
            ai,
            file,
            el_torito::DESCRIPTORS_AT,
            el_torito::DESCRIPTORS_LEN,
        )?;
        let images = match el_torito::boot_catalog(&descriptors) {
            Ok(lba) => {
                let at = u64::from(lba) * el_torito::SECTOR;
                let catalog = self.read(ai, file, at, el_torito::CATALOG_LEN)?;
                el_torito::boot_images(&catalog, lba)
            }
            Err(e) => Err(e),
        };
        let images = match images {
            Ok(images) => images,
            Err(NotBootable::NotIso) => {
                let head = self.read(ai, file, 0, 4096)?;
                // A hard-disk image boots from its boot sector; what is on it is its business.
                if head.get(510..512) == Some([0x55, 0xaa].as_slice()) {
                    return None;
                }
                let what = file_kind::describe(&head);
                let d = Diagnostic::new(
                    Code::NotADiskImage,
                    format!("{title} is not a disk image: this is {what}"),
                )
                .label(self.location_span(ai), format!("{what}, not a disk image"))
                .label(u.by, "booted by sanboot here")
                .help("`sanboot` boots an ISO image (or a disk image with a boot sector) as a local disk");
                return Some(d);
            }
            Err(not) => {
                let d = Diagnostic::new(Code::UnbootableIso, format!("{title} boots nothing: {not}"))
                    .label(self.location_span(ai), "no El Torito boot image")
                    .label(u.by, "booted by sanboot here")
                    .help("use a bootable ISO (`xorriso -indev FILE -report_el_torito plain` lists its boot images)");
                return Some(d);
            }
        };
        self.iso_platforms(ai, &title, images, u)
    }

    fn iso_platforms(
        &mut self,
        ai: usize,
        title: &str,
        images: BootImages,
        u: &Use,
    ) -> Option<Diagnostic> {
        let reaches = |pl: Platform| u.kinds.iter().any(|k| k.platform() == pl);
        let missing = [(Platform::Efi, images.efi), (Platform::Bios, images.bios)]
            .into_iter()
            .find(|&(pl, has)| reaches(pl) && !has)
            .map(|(pl, _)| pl);
        let Some(pl) = missing else {
            if images.bios || images.efi {
                return None;
            }
            let d = Diagnostic::new(
                Code::UnbootableIso,
                format!("{title} boots nothing: its El Torito catalog lists no bootable image"),
            )
            .label(self.location_span(ai), "no bootable El Torito image")
            .label(u.by, "booted by sanboot here")
            .help("use a bootable ISO (`xorriso -indev FILE -report_el_torito plain` lists its boot images)");
            return Some(d);
        };
        let (other, fix) = match pl {
            Platform::Efi => (
                Platform::Bios,
                "add `only \"bios\"` to the profile so UEFI machines are not offered it, or use an ISO with an EFI boot image",
            ),
            Platform::Bios => (
                Platform::Efi,
                "add `only \"efi\"` to the profile so BIOS machines are not offered it, or use an ISO with a BIOS boot image",
            ),
        };
        let has = if images.bios || images.efi {
            format!("boots {} only", other.describe())
        } else {
            "has no bootable image".into()
        };
        let d = Diagnostic::new(
            Code::UnbootableIso,
            format!(
                "{title} has no El Torito image for {}, but {} machines boot it",
                pl.describe(),
                pl.describe()
            ),
        )
        .label(self.location_span(ai), format!("this ISO {has}"))
        .label(u.by, "booted by sanboot here")
        .help(fix);
        Some(self.served_by(d, |k| k.platform() == pl, pl.describe()))
    }
}
