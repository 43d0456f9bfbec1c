//! Secure Boot: who boots the signed chain (host, else group; `default` for machines the
//! fleet does not name), that the fleet has the chain's loaders, and that everything such a
//! machine can reach is something signed GRUB can boot — no iPXE-only method, no URL GRUB
//! cannot fetch, and every PE image it loads (kernel, EFI binary, shim and GRUB themselves)
//! carries an Authenticode signature. Without this, the machine stops at boot with
//! "bad shim signature" or "Access Denied".

use std::collections::HashSet;
use std::io::Read;

use super::{Rule, Validator};
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Span};
use crate::files::LocalFile;
use crate::fleet::{Entry, Location, Platform, Spanned, Target};
use crate::pe_image::{self, PeImage};

pub(super) const RULE: Rule = Rule {
    name: "secure boot",
    codes: &[
        Code::SecureBootWithoutLoaders,
        Code::NotForSecureBoot,
        Code::UnsignedImage,
        Code::NotPeImage,
        Code::MissingFile,
        Code::UnreadableFile,
    ],
    check: |v| v.secure_boot(),
};

/// The checked Secure Boot chain, for generation.
#[derive(Debug, Clone)]
pub struct SecureBootChain {
    pub shim: LocalFile,
    pub grub: LocalFile,
    /// Per host (as `fleet.hosts`): boots through the chain.
    pub hosts: Vec<bool>,
    /// Machines the fleet does not name boot through it.
    pub default: bool,
    /// Per artifact: reachable by a Secure Boot machine, so GRUB fetches it over TFTP.
    pub tftp_artifacts: HashSet<usize>,
}

impl Validator<'_, '_> {
    fn secure_boot(&mut self) {
        let fleet = self.fleet;
        // Every `secure-boot=#true`, where it was written; and per host, its own or its group's.
        let mut said: Vec<Span> = Vec::new();
        let yes = |s: &Option<Spanned<bool>>| s.as_ref().filter(|s| s.value).map(|s| s.span);
        said.extend(fleet.groups.iter().filter_map(|g| yes(&g.secure_boot)));
        let mut hosts = Vec::with_capacity(fleet.hosts.len());
        for h in &fleet.hosts {
            let group = h.group.and_then(|g| fleet.groups[g].secure_boot.as_ref());
            let own = h.secure_boot.as_ref();
            said.extend(yes(&h.secure_boot));
            hosts.push(own.or(group).is_some_and(|s| s.value));
        }
        let default = yes(&fleet.default_secure_boot);
        said.extend(default);

        let Some(set) = &fleet.secure_boot else {
            if let Some(&first) = said.iter().min_by_key(|s| s.offset) {
                self.push(
                    Diagnostic::new(
                        Code::SecureBootWithoutLoaders,
                        "machines are to boot through Secure Boot, but `loaders` has no `secure-boot` set",
                    )
                    .label(first, "Secure Boot asked for here")
                    .help("add the signed chain to `loaders`: `secure-boot { shim \"/usr/lib/shim/shimx64.efi.signed\"; grub \"/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed\" }` (packages shim-signed, grub-efi-amd64-signed)"),
                );
            }
            return;
        };
        let shim = set
            .shim
            .as_ref()
            .and_then(|p| self.signed_loader(p, "shim"));
        let grub = set
            .grub
            .as_ref()
            .and_then(|p| self.signed_loader(p, "GRUB"));

        // What Secure Boot machines reach, each profile with the `secure-boot=#true` that
        // makes it reachable (a host's own target wins over the default's for the label).
        let mut reach: Vec<Option<Span>> = vec![None; fleet.profiles.len()];
        let mut targets: Vec<(&Target, Span)> = Vec::new();
        for ((h, target), &sb) in fleet.hosts.iter().zip(&self.host_targets).zip(&hosts) {
            let Some(t) = target.as_ref().filter(|_| sb) else {
                continue;
            };
            let span = h
                .secure_boot
                .as_ref()
                .or(h.group.and_then(|g| fleet.groups[g].secure_boot.as_ref()))
                .map_or(h.name.span, |s| s.span);
            targets.push((t, span));
        }
        if let (Some(t), Some(span)) = (&fleet.default, default) {
            targets.push((t, span));
        }
        for (t, span) in targets {
            for p in self.reachable_profiles(t) {
                reach[p] = reach[p].or(Some(span));
            }
        }
        let mut tftp_artifacts = HashSet::new();
        let mut checked_images = HashSet::new();
        for (pi, why) in reach.iter().enumerate() {
            let Some(why) = *why else { continue };
            self.grub_profile(pi, why, &mut tftp_artifacts, &mut checked_images);
        }
        if let (Some(shim), Some(grub)) = (shim, grub) {
            self.secure_boot = Some(SecureBootChain {
                shim,
                grub,
                hosts,
                default: default.is_some(),
                tftp_artifacts,
            });
        }
    }

    /// Checks one profile a Secure Boot machine reaches (`why`: where that was said).
    fn grub_profile(
        &mut self,
        pi: usize,
        why: Span,
        tftp_artifacts: &mut HashSet<usize>,
        checked_images: &mut HashSet<usize>,
    ) {
        let p = &self.fleet.profiles[pi];
        let name = &p.name.value;
        let reached = "a Secure Boot machine boots this";
        if let Some(only) = p.only.as_ref().filter(|o| o.value == Platform::Bios) {
            self.push(
                Diagnostic::new(
                    Code::NotForSecureBoot,
                    format!("profile `{name}` cannot boot under Secure Boot: it is for BIOS machines only"),
                )
                .label(only.span, "BIOS only")
                .label(why, reached)
                .help("Secure Boot machines boot UEFI: give them a UEFI profile, or leave `secure-boot` off for them"),
            );
            return;
        }
        let Some(method) = &p.method else { return };
        let images = match method.grub_images() {
            Ok(images) => images,
            Err(not) => {
                self.push(
                    Diagnostic::new(
                        Code::NotForSecureBoot,
                        format!(
                            "profile `{name}` cannot boot under Secure Boot: {}",
                            not.why
                        ),
                    )
                    .label(not.span, "GRUB cannot boot this")
                    .label(why, reached)
                    .help(not.hint),
                );
                return;
            }
        };
        for a in method.artifacts() {
            let Some(&ai) = self.artifacts.get(&a.value) else {
                continue; // reported as unknown already
            };
            if let Location::Url(u) = &self.fleet.artifacts[ai].location {
                self.push(
                    Diagnostic::new(
                        Code::NotForSecureBoot,
                        format!(
                            "artifact `{}` is booted from its URL, but GRUB fetches only from netboot, over TFTP",
                            a.value
                        ),
                    )
                    .label(a.span, "GRUB cannot fetch this")
                    .label(u.span, "from here")
                    .label(why, reached)
                    .help("run `netboot build` (it downloads `url=` artifacts and serves them itself), or use a local `path=`"),
                );
                continue;
            }
            tftp_artifacts.insert(ai);
            let is_image = images.iter().any(|i| i.value == a.value);
            if is_image && checked_images.insert(ai) {
                if let Some(file) = self.local.get(&ai).cloned() {
                    let what = format!("artifact `{}` ({})", a.value, file.manifest_path);
                    self.signed_image(a, &file, &what, Some(why));
                }
            }
        }
    }

    /// Hashes a loader of the chain and checks that it is a signed PE image.
    fn signed_loader(&mut self, path: &Spanned<String>, what: &str) -> Option<LocalFile> {
        match self.files.hashed(&path.value) {
            Ok(f) => {
                self.inputs.insert(f.abs.clone());
                let what = format!("the {what} loader `{}`", path.value);
                self.signed_image(path, &f, &what, None).then_some(f)
            }
            Err(p) => {
                self.missing_file(path, &p, "loader");
                None
            }
        }
    }

    /// Reports `file` (written as `written`) unless it is a PE image with a certificate table.
    fn signed_image(
        &mut self,
        written: &Spanned<String>,
        file: &LocalFile,
        what: &str,
        why: Option<Span>,
    ) -> bool {
        let mut head = Vec::with_capacity(pe_image::HEAD_LEN);
        let read = std::fs::File::open(&file.abs)
            .and_then(|f| f.take(pe_image::HEAD_LEN as u64).read_to_end(&mut head));
        if let Err(e) = read {
            self.push(
                Diagnostic::new(
                    Code::UnreadableFile,
                    format!("cannot read `{}`: {e}", written.value),
                )
                .label(written.span, "cannot be read")
                .help(format!(
                    "check the permissions of {} for the user netboot runs as",
                    file.abs.display()
                )),
            );
            return false;
        }
        let d = match pe_image::inspect(&head, file.size) {
            PeImage::Signed { .. } => return true,
            PeImage::Unsigned => Diagnostic::new(
                Code::UnsignedImage,
                format!("{what} has no Authenticode signature, and Secure Boot machines refuse it"),
            )
            .label(written.span, "a PE image with an empty certificate table")
            .help("use the distribution's signed build (Debian: `linux-image-*-amd64`, `shim-signed`, `grub-efi-amd64-signed`), or sign it with `sbsign` and enrol the key as a MOK"),
            PeImage::NotPe(not) => Diagnostic::new(
                Code::NotPeImage,
                format!("{what} is not a PE image: {not}"),
            )
            .label(written.span, "not an EFI executable")
            .help("Secure Boot loads only signed EFI executables here: point at the EFI build (a kernel `vmlinuz`, a `.efi` file), not an initrd, ISO or BIOS binary"),
        };
        let d = match why {
            Some(span) => d.label(span, "a Secure Boot machine boots this"),
            None => d,
        };
        self.push(d);
        false
    }

    /// Every profile a machine booting `t` can reach, through menus and submenus.
    fn reachable_profiles(&self, t: &Target) -> Vec<usize> {
        let fleet = self.fleet;
        let mut profiles = Vec::new();
        let mut seen_menus = HashSet::new();
        let mut todo: Vec<usize> = Vec::new();
        let by_name = |name: &str, profiles: &mut Vec<usize>, todo: &mut Vec<usize>| {
            if let Some(&p) = self.profiles.get(name) {
                profiles.push(p);
            } else if let Some(&m) = self.menus.get(name) {
                todo.push(m);
            }
        };
        match t {
            Target::Profile(n) => by_name(&n.value, &mut profiles, &mut todo),
            Target::Menu(n) => {
                if let Some(&m) = self.menus.get(&n.value) {
                    todo.push(m);
                }
            }
        }
        while let Some(m) = todo.pop() {
            if !seen_menus.insert(m) {
                continue;
            }
            for e in &fleet.menus[m].entries {
                match e {
                    Entry::Item { target, .. } => by_name(&target.value, &mut profiles, &mut todo),
                    Entry::Submenu(s) => todo.push(*s),
                    Entry::Separator(_) => {}
                }
            }
        }
        profiles
    }
}
