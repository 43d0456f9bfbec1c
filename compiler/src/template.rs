//! Operator templates (kernel command lines and per-machine `file`s), rendered with minijinja.
//! Undefined variables are errors, output is never HTML-escaped, and a file keeps its final
//! newline.

use std::collections::BTreeSet;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

/// The variables a template may use.
pub const VARIABLES: [&str; 6] = [
    "server",
    "host",
    "mac",
    "group",
    "labels",
    "install_done_url",
];
/// The ones that differ per machine, so a profile shared by unknown machines cannot use them.
pub const HOST_VARIABLES: [&str; 5] = ["host", "mac", "group", "labels", "install_done_url"];

/// The help line naming every variable, made from [`VARIABLES`] so it cannot fall behind it.
pub fn variables_help() -> String {
    let (last, rest) = VARIABLES.split_last().expect("there are variables");
    format!(
        "the variables are {} and {last} (a host's `label \"key\" \"value\"` as labels.key)",
        rest.join(", ")
    )
}

/// One machine's values; `server` is absent when the fleet gives no address.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Vars {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The host's labels; `labels.role` on a host without a `role` label is an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<std::collections::BTreeMap<String, String>>,
    /// The URL an install reports done at; only for a host with an install lifecycle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub install_done_url: Option<String>,
}

pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_keep_trailing_newline(true);
        env.set_debug(true);
        Templates { env }
    }
}

impl Templates {
    /// Compiles a template; the error carries the line and byte range of a syntax problem.
    pub fn add(&mut self, name: &str, source: &str) -> Result<(), minijinja::Error> {
        self.env
            .add_template_owned(name.to_string(), source.to_string())
    }

    /// Top-level variables the template reads, sorted.
    pub fn variables(&self, name: &str) -> BTreeSet<String> {
        match self.env.get_template(name) {
            Ok(t) => t.undeclared_variables(false).into_iter().collect(),
            Err(_) => BTreeSet::new(),
        }
    }

    pub fn render(&self, name: &str, vars: &Vars) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(vars)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variables_help_names_every_variable() {
        let help = variables_help();
        for v in VARIABLES {
            assert!(
                help.contains(&format!("{v} ")) || help.contains(&format!("{v},")),
                "{v}: {help}"
            );
        }
    }

    #[test]
    fn renders_strictly_and_keeps_the_final_newline() {
        let mut t = Templates::default();
        t.add("c", "url=http://{{ server }}/m/{{ host }}/x <b>\n")
            .unwrap();
        let vars = Vars {
            server: Some("10.0.0.1:8080".into()),
            host: Some("node1".into()),
            ..Vars::default()
        };
        assert_eq!(
            t.render("c", &vars).unwrap(),
            "url=http://10.0.0.1:8080/m/node1/x <b>\n"
        );
        assert!(t.render("c", &Vars::default()).is_err());
        assert_eq!(
            t.variables("c").into_iter().collect::<Vec<_>>(),
            vec!["host".to_string(), "server".to_string()]
        );
    }

    #[test]
    fn syntax_errors_surface_at_add() {
        let mut t = Templates::default();
        let err = t.add("bad", "{{ host ").unwrap_err();
        assert_eq!(err.line(), Some(1));
    }
}
