//! Errors: why a request is not authenticated, and why keys could not be loaded.

use std::path::PathBuf;

/// Why a request carries no usable identity. Every variant means the same thing to the
/// caller (get a new token) and maps to UNAUTHENTICATED; the variants exist for logs and
/// tests. `reason`s are fixed phrases, never token contents or library messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `authorization` metadata at all.
    #[error("missing bearer token")]
    Missing,
    /// Something is there, but it is not `Bearer <jwt>`.
    #[error("malformed bearer token")]
    Malformed,
    /// A well-formed token that we do not accept.
    #[error("invalid token: {reason}")]
    Invalid { reason: &'static str },
    /// A valid token past its `exp` (plus leeway).
    #[error("token expired")]
    Expired,
}

impl AuthError {
    pub(crate) fn invalid(reason: &'static str) -> Self {
        AuthError::Invalid { reason }
    }
}

impl From<AuthError> for tonic::Status {
    fn from(err: AuthError) -> Self {
        tonic::Status::unauthenticated(err.to_string())
    }
}

/// Why the signing keys are not available. These are startup errors, reported to the
/// operator, so they name the file.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("secret is {len} bytes, need at least {min}", min = crate::MIN_SECRET_LEN)]
    TooShort { len: usize },
    #[error("secret is not base64")]
    NotBase64,
    #[error("key file {}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key file {}: expected the secret in base64 on one line", path.display())]
    Format { path: PathBuf },
    #[error(
        "no jwt crypto provider: build jsonwebtoken with exactly one of rust_crypto or aws_lc_rs"
    )]
    NoCryptoProvider,
}
