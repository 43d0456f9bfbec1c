//! A fleet that names no hosts and has no `default` boots nothing at all.

use super::{Rule, Validator};
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Span};

pub(super) const RULE: Rule = Rule {
    name: "nothing to boot",
    codes: &[Code::NothingToBoot],
    check,
};

fn check(v: &mut Validator<'_, '_>) {
    if v.fleet.hosts.is_empty() && v.fleet.default.is_none() {
        v.push(
                Diagnostic::new(Code::NothingToBoot, "the fleet boots nothing: it names no hosts and has no `default`")
                    .label(Span::new(0, 0), "in this fleet")
                    .help("add `host` nodes, or `default menu=\"…\"` / `default profile=\"…\"` for every machine"),
            );
    }
}
