//! How `check`, `diff`, `doctor` and `explain` print their report: for a person, or as JSON
//! for a script.

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}
