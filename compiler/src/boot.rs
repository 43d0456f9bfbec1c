//! What the compiler's stages ask of a decoded boot method ([`Boot`]), and what a method may
//! ask of the stage rendering it ([`Render`]). The methods (`crate::methods`) implement the
//! first and the generator the second, so neither imports the other and the fleet's syntax
//! tree can hold a method without knowing any.

use std::fmt::Debug;

use crate::diagnostic::{Diagnostic, Span};
use crate::platform::Platform;
use crate::spanned::Spanned;

/// Why GRUB, the loader of Secure Boot machines, cannot boot a method.
#[derive(Debug)]
pub struct NotForGrub {
    /// What to point at.
    pub span: Span,
    /// Ends "… cannot boot under Secure Boot: {why}".
    pub why: &'static str,
    pub hint: &'static str,
}

/// What an artifact must be for the method to boot it, checked at build time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Content {
    /// A Linux kernel (bzImage, arm64 Image or EFI stub) for the machines that boot it.
    Kernel,
    /// A PE image for the UEFI machines that boot it.
    EfiBinary,
    /// A disk image `sanboot` hands to the firmware: an ISO with El Torito images for the
    /// machines that boot it, or a disk image with a boot sector.
    DiskImage,
}

/// A decoded boot method of one profile.
pub trait Boot: Debug + Send + Sync {
    /// The artifacts it boots, as written (validation resolves them).
    fn artifacts(&self) -> Vec<&Spanned<String>>;

    /// The iPXE steps that boot it on one machine; `None` once a problem is reported.
    fn render(&self, cx: &mut dyn Render) -> Option<String>;

    /// Under Secure Boot, signed GRUB boots it: the artifacts GRUB loads as PE images (shim
    /// refuses them unsigned), or why GRUB cannot boot it at all.
    fn grub_images(&self) -> Result<Vec<&Spanned<String>>, NotForGrub>;

    /// The GRUB commands that boot it on one machine (inside a `menuentry`); asked only of a
    /// method whose [`Boot::grub_images`] is `Ok`. `None` once a problem is reported.
    fn render_grub(&self, cx: &mut dyn Render) -> Option<String>;

    /// The artifacts whose contents the build checks, with what each must be.
    fn contents(&self) -> Vec<(&Spanned<String>, Content)> {
        Vec::new()
    }

    /// The platforms it has a binary for, when it is tied to platforms at all.
    fn platforms(&self) -> Option<Vec<Platform>> {
        None
    }

    /// The kernel command-line template, checked and rendered per machine.
    fn cmdline(&self) -> Option<&Spanned<String>> {
        None
    }

    /// Whether a host's `cmdline-append` has a kernel command line to go to.
    fn takes_cmdline_append(&self) -> bool {
        false
    }
}

/// What a boot method renders with: where its artifacts are fetched from, the machine it
/// renders for, and where its problems go (once per profile).
pub trait Render {
    /// What an iPXE script fetches for an artifact.
    fn fetch(&self, artifact: &str) -> String;

    /// Where GRUB fetches an artifact.
    fn grub_fetch(&self, artifact: &str) -> String;

    /// Whether the script fetches the artifact by an absolute URL (its own or the fleet's
    /// `artifact-origin`), so its file name is not the artifact's.
    fn is_url(&self, artifact: &str) -> bool;

    /// The machine rendered for; `None` for the shared script everyone else boots.
    fn host_name(&self) -> Option<&str>;

    /// The host's `cmdline-append`, when rendering for a host that has one.
    fn cmdline_append(&self) -> Option<&Spanned<String>>;

    /// Reports a problem with the profile being rendered.
    fn error(&mut self, d: Diagnostic);

    /// The profile's command-line template `c`, rendered for this machine and checked for
    /// text iPXE would misread; `None` once a problem is reported.
    fn cmdline(&mut self, c: &Spanned<String>) -> Option<String>;
}
