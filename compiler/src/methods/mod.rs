//! Boot methods, each declared once, in a file of its own: the profile nodes that write it,
//! how they decode, the artifacts it boots, the iPXE it renders (through its own template
//! under `templates/methods/`), the download commands `explain` must follow in that iPXE, and
//! for Secure Boot machines how signed GRUB boots it (`methods/<name>.grub`) or why it cannot.
//! Decoding, validation, generation and `explain` all iterate [`METHODS`].
//!
//! A new method touches: a file here (its [`Declaration`] and its [`Boot`]), its entry in
//! [`METHODS`], its template, a profile using it in `compiler/tests/methods/fleet.kdl` (with
//! the golden regenerated) and its row in the method tables of schema/fleet-language.md (iPXE
//! and GRUB). The tests catch the rest: an iPXE command `explain` cannot follow fails
//! `compiler/tests/ipxe_follow.rs`, a new diagnostic code without a reference row or broken
//! fleet fails `tests/cli_check.rs`.

use kdl::KdlNode;

pub use crate::boot::{Boot, Content, NotForGrub, Render};
use crate::decode::values::Decoder;

mod binary;
mod chain;
mod exit;
pub mod kernel;
mod sanboot;
mod wimboot;

/// Every boot method, in the order the language reference lists them (the order of the
/// "add one of …" help).
pub const METHODS: &[&Declaration] = &[
    &kernel::DECLARATION,
    &chain::DECLARATION,
    &exit::DECLARATION,
    &binary::DECLARATION,
    &wimboot::DECLARATION,
    &sanboot::DECLARATION,
];

/// A boot method as the fleet language knows it.
pub struct Declaration {
    /// The method's name in messages ("profile `p` says both `chain` and `binary`").
    pub name: &'static str,
    /// The profile children that belong to it.
    pub nodes: &'static [Node],
    /// Decodes the method's nodes of one profile, in source order, reporting what is wrong
    /// with them; `None` when they do not make a bootable method.
    pub decode: Decode,
    /// The commands in its rendered iPXE that download something, for `explain`.
    pub fetches: &'static [Fetch],
}

/// Decodes a method's nodes of one profile (see [`Declaration::decode`]).
pub type Decode = fn(&mut Decoder, &[&KdlNode]) -> Option<Box<dyn Boot>>;

/// One profile child of a method.
pub struct Node {
    pub name: &'static str,
    /// Whether the node chooses the method (`kernel`, `efi`); two nodes that choose different
    /// methods conflict. Nodes that only add to one (`initrd`, `cmdline`) need it chosen.
    pub chooses: bool,
    /// Whether it may be given more than once.
    pub repeatable: bool,
    /// Whether it takes a `{ … }` block.
    pub block: bool,
}

impl Node {
    /// A node that chooses its method, once, without a block.
    pub const fn chooses(name: &'static str) -> Node {
        Node {
            name,
            chooses: true,
            repeatable: false,
            block: false,
        }
    }
}

/// The downloads of a method that boots through iPXE's `kernel` and `initrd` (kernel, wimboot).
pub const KERNEL_AND_INITRD: &[Fetch] = &[
    Fetch {
        command: "kernel",
        role: "kernel",
        ends_script: false,
    },
    Fetch {
        command: "initrd",
        role: "initrd",
        ends_script: false,
    },
];

/// An iPXE command that downloads a file, as `explain` reports it.
pub struct Fetch {
    pub command: &'static str,
    /// What the download is for: `kernel`, `initrd`, `sanboot`, …
    pub role: &'static str,
    /// Whether iPXE leaves the script once the command runs (it boots what it fetched).
    pub ends_script: bool,
}

/// The node `name` of a method, and its method.
pub fn node(name: &str) -> Option<(usize, &'static Node)> {
    METHODS
        .iter()
        .enumerate()
        .find_map(|(i, m)| m.nodes.iter().find(|n| n.name == name).map(|n| (i, n)))
}

/// The nodes that choose `method`, as the help writes them: `efi`/`bios`.
pub fn choosers(method: &Declaration) -> String {
    method
        .nodes
        .iter()
        .filter(|n| n.chooses)
        .map(|n| format!("`{}`", n.name))
        .collect::<Vec<_>>()
        .join("/")
}

/// The download command `command` of any method.
pub fn fetch(command: &str) -> Option<&'static Fetch> {
    METHODS
        .iter()
        .flat_map(|m| m.fetches)
        .find(|f| f.command == command)
}
