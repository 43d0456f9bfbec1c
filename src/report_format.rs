//! `--format human|json` for `check`, `diff`, `doctor` and `explain`.

use netboot_ops::report_format::Format as OpsFormat;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

impl From<Format> for OpsFormat {
    fn from(f: Format) -> OpsFormat {
        match f {
            Format::Human => OpsFormat::Human,
            Format::Json => OpsFormat::Json,
        }
    }
}
