//! `artifact NAME path=… | url=… sha256=…`: the files profiles boot.

use kdl::KdlNode;

use super::values::{name_span, url_problem, Decoder};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::fleet::{Artifact, Location, Spanned};

impl Decoder<'_> {
    pub(super) fn sha256(&mut self, node: &KdlNode) -> Option<Spanned<String>> {
        let s = self.string_prop(node, "sha256")?;
        if s.value.len() == 64 && s.value.bytes().all(|b| b.is_ascii_hexdigit()) {
            Some(Spanned::new(s.value.to_ascii_lowercase(), s.span))
        } else {
            self.error(
                Code::BadSha256,
                "`sha256` must be 64 hexadecimal digits".into(),
                s.span,
                "not a sha256",
                "compute it with `sha256sum FILE`".into(),
            );
            None
        }
    }

    /// `artifact-origin "http://cache.example/netboot"`: where scripts fetch artifacts by
    /// content. The URL is a directory that `<origin>/sha256/<hex>` is appended to, so a query
    /// or a fragment, which would end up before that path, is refused.
    pub(super) fn artifact_origin(&mut self, node: &KdlNode) -> Option<Spanned<String>> {
        self.check_entries(node, 1, &[]);
        self.no_children(node);
        let u = self.string_arg(
            node,
            0,
            "a base URL",
            "artifact-origin \"http://cache.example.org/netboot\"",
        )?;
        let why = url_problem(&u.value).or_else(|| {
            u.value.contains(['?', '#']).then_some(
                "a base URL takes no `?` query or `#` fragment (`/sha256/<hex>` is appended to it)",
            )
        });
        if let Some(why) = why {
            self.error(
                Code::BadUrl,
                format!("`{}` is not a usable artifact origin: {why}", u.value),
                u.span,
                "bad URL",
                "write it like `http://cache.example.org/netboot`".into(),
            );
            return None;
        }
        let trimmed = u.value.trim_end_matches('/').to_string();
        Some(Spanned::new(trimmed, u.span))
    }

    pub(super) fn artifact(&mut self, node: &KdlNode) -> Option<Artifact> {
        self.check_entries(node, 1, &["path", "url", "sha256"]);
        self.no_children(node);
        let name = self.name_arg(node, "artifact")?;
        let path = self.string_prop(node, "path");
        let url = self.string_prop(node, "url");
        let sha256 = self.sha256(node);
        let location = match (path, url) {
            (Some(p), None) => Location::Path(p),
            (None, Some(u)) => {
                if let Some(why) = url_problem(&u.value) {
                    self.error(
                        Code::BadUrl,
                        format!("`{}` is not a usable URL: {why}", u.value),
                        u.span,
                        "bad URL",
                        "write it like `https://example.org/vmlinuz`".into(),
                    );
                    return None;
                }
                Location::Url(u)
            }
            (Some(p), Some(u)) => {
                self.push(
                    Diagnostic::new(
                        Code::ConflictingProperties,
                        "an artifact has either `path` or `url`, not both",
                    )
                    .label(u.span, "`url` here")
                    .label(p.span, "`path` here")
                    .help("keep the one the file really comes from"),
                );
                return None;
            }
            (None, None) => {
                self.error(
                    Code::MissingValue,
                    format!("artifact `{}` needs `path=` or `url=`", name.value),
                    name_span(node),
                    "no location",
                    "write it like `artifact \"kernel\" path=\"artifacts/vmlinuz\"`".into(),
                );
                return None;
            }
        };
        Some(Artifact {
            name,
            location,
            sha256,
            downloaded: false,
        })
    }
}
