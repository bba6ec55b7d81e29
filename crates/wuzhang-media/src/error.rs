use axum::http::StatusCode;

/// What went wrong, classified by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The request is wrong; `field` names the request field to fix (as the proto names
    /// it, e.g. `metadata.content_type` or `chunk`).
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The offending field.
        field: String,
        /// Why it is refused.
        reason: String,
    },
    /// No media under that key (unknown keys and malformed keys alike).
    #[error("media not found")]
    NotFound,
    /// The store cannot be reached now; a retry may succeed.
    #[error("media store unavailable: {0}")]
    Unavailable(String),
    /// A fault on our side; retrying will not help.
    #[error("media store error: {0}")]
    Internal(String),
}

impl MediaError {
    /// An [`MediaError::Invalid`] for `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The HTTP status this error answers with.
    pub fn http_status(&self) -> StatusCode {
        match self {
            Self::Invalid { .. } => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub(crate) fn from_io(err: &std::io::Error) -> Self {
        match err.kind() {
            std::io::ErrorKind::NotFound => Self::NotFound,
            _ => Self::Internal(err.to_string()),
        }
    }

    pub(crate) fn from_join(err: &tokio::task::JoinError) -> Self {
        Self::Internal(format!("media task failed: {err}"))
    }
}
