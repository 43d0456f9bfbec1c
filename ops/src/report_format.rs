//! How `check`, `diff`, `doctor` and `explain` give their report: for a person, or as JSON
//! for a script.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}
