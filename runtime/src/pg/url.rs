//! The `--state` argument: a PostgreSQL URL, checked, and shown with its password redacted
//! wherever it is logged or named in an error.

use std::fmt;
use std::str::FromStr;

/// A `postgres://` or `postgresql://` URL that the client accepts.
#[derive(Clone)]
pub struct StateUrl {
    text: String,
    config: postgres::Config,
}

/// Why `--state` is not a state database URL.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error("--state {shown}: expected a PostgreSQL URL like postgres://netboot@%2Frun%2Fpostgresql/netboot")]
    Scheme { shown: String },
    #[error("--state {shown}: {why}")]
    Invalid { shown: String, why: String },
}

impl FromStr for StateUrl {
    type Err = UrlError;

    fn from_str(text: &str) -> Result<StateUrl, UrlError> {
        let shown = redact(text);
        if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
            return Err(UrlError::Scheme { shown });
        }
        let config = text
            .parse()
            .map_err(|e: postgres::Error| UrlError::Invalid {
                shown,
                why: e.to_string(),
            })?;
        Ok(StateUrl {
            text: text.to_string(),
            config,
        })
    }
}

impl StateUrl {
    pub(super) fn config(&self) -> &postgres::Config {
        &self.config
    }
}

/// Never the password: shown as the URL with `***` in its place.
impl fmt::Display for StateUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.text))
    }
}

impl fmt::Debug for StateUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StateUrl({self})")
    }
}

/// `url` with any password replaced by `***`: the one in `user:password@` and a
/// `password=` parameter.
pub fn redact(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest = scheme_end + 3;
        let authority_end = out[rest..].find(['/', '?']).map_or(out.len(), |i| rest + i);
        if let Some(at) = out[rest..authority_end].rfind('@') {
            let userinfo = rest..rest + at;
            if let Some(colon) = out[userinfo.clone()].find(':') {
                out.replace_range(rest + colon + 1..rest + at, "***");
            }
        }
    }
    // `?password=…` or `&password=…`, and the key=value form's `password=…`.
    let mut searched = 0;
    while let Some(found) = out[searched..].find("password=") {
        let start = searched + found;
        let boundary = start == 0 || matches!(out.as_bytes()[start - 1], b'?' | b'&' | b' ');
        let value = start + "password=".len();
        let end = out[value..]
            .find(['&', ' '])
            .map_or(out.len(), |i| value + i);
        if boundary {
            out.replace_range(value..end, "***");
            searched = value + 3;
        } else {
            searched = value;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        for (url, want) in [
            (
                "postgres://netboot:s3cret@db.lab:5432/netboot",
                "postgres://netboot:***@db.lab:5432/netboot",
            ),
            (
                "postgresql://u:p%40ss@h/db?sslmode=disable",
                "postgresql://u:***@h/db?sslmode=disable",
            ),
            (
                "postgres://u@h/db?password=hunter2&application_name=x",
                "postgres://u@h/db?password=***&application_name=x",
            ),
            (
                "postgres://netboot@%2Frun%2Fpostgresql/netboot",
                "postgres://netboot@%2Frun%2Fpostgresql/netboot",
            ),
            (
                "host=/run/x password=abc user=u",
                "host=/run/x password=*** user=u",
            ),
        ] {
            assert_eq!(redact(url), want);
        }
    }

    #[test]
    fn only_postgres_urls_are_state_urls() {
        let url: StateUrl = "postgres://u:pw@localhost/netboot".parse().unwrap();
        assert_eq!(url.to_string(), "postgres://u:***@localhost/netboot");
        assert_eq!(
            format!("{url:?}"),
            "StateUrl(postgres://u:***@localhost/netboot)"
        );
        let err = "/var/lib/netboot"
            .parse::<StateUrl>()
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected a PostgreSQL URL"), "{err}");
        let err = "postgres://u:pw@h:notaport/db"
            .parse::<StateUrl>()
            .unwrap_err()
            .to_string();
        assert!(err.contains("u:***@h") && !err.contains("pw"), "{err}");
    }
}
