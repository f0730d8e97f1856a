//! What a failed check says, shared by every step of the request.

/// Redirects followed before giving up (here because [`HttpError::TooManyRedirects`] names it).
pub const MAX_REDIRECTS: usize = 5;

/// A failed check, worded for an exit reason.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum HttpError {
    #[error("invalid URL {0}")]
    Url(String),
    #[error("cannot resolve {0}")]
    Resolve(String),
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("timed out after {waited:.1} s {during}")]
    Timeout { during: &'static str, waited: f64 },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("{0}")]
    Io(String),
    #[error("invalid HTTP response: {0}")]
    Protocol(String),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
}
