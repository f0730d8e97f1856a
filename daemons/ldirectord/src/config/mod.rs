//! ldirectord.cf → [`crate::model::Config`]. TODO(ld-config helper): implement.

use std::path::{Path, PathBuf};

use crate::model::Config;

/// A configuration error: where it is and what is wrong ("/etc/ha.d/ldirectord.cf:12: ...").
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {message}", file.display())]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based; 0 when the error is about the file as a whole (unreadable, empty).
    pub line: usize,
    pub message: String,
}

/// Reads and parses a configuration file.
pub fn parse_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        line: 0,
        message: format!("cannot read: {e}"),
    })?;
    parse_str(&text, path)
}

/// Parses configuration text; `path` is used in errors and as [`Config::path`].
pub fn parse_str(_text: &str, path: &Path) -> Result<Config, ConfigError> {
    Err(ConfigError {
        file: path.to_path_buf(),
        line: 0,
        message: "the parser is not implemented yet".into(),
    })
}
