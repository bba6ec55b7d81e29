//! Errors as the spec writes them: an `errors` list of `{code, description}` with the
//! HTTP status set, in the format the client asked for.

use axum::http::StatusCode;
use axum::response::Response;
use wuzhang_domain::FieldError;

use crate::backend::BackendError;
use crate::render::{Document, Format, Node};

/// The one mapping from a backend error to an HTTP status.
pub fn status_of(e: &BackendError) -> StatusCode {
    match e {
        BackendError::Invalid(_) => StatusCode::BAD_REQUEST,
        BackendError::NotFound(_) => StatusCode::NOT_FOUND,
        BackendError::Forbidden(_) => StatusCode::FORBIDDEN,
        BackendError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        BackendError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error answer: one status, one or more descriptions (the spec allows several, and a
/// form with three bad fields gets three).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) descriptions: Vec<String>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, description: impl Into<String>) -> Self {
        Self {
            status,
            descriptions: vec![description.into()],
        }
    }

    /// 400 with one error per field, each naming the field first (`lat: must be …`).
    pub(crate) fn invalid(errors: Vec<FieldError>) -> Self {
        debug_assert!(
            !errors.is_empty(),
            "an invalid request names at least one field"
        );
        Self {
            status: StatusCode::BAD_REQUEST,
            descriptions: errors.iter().map(ToString::to_string).collect(),
        }
    }

    pub(crate) fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("{what} not found"))
    }

    pub(crate) fn forbidden(description: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, description)
    }

    pub(crate) fn respond(&self, format: Format) -> Response {
        let errors = self
            .descriptions
            .iter()
            .map(|d| {
                Node::Object(vec![
                    ("code", Node::Integer(i64::from(self.status.as_u16()))),
                    ("description", Node::text(d.clone())),
                ])
            })
            .collect();
        Document::new(
            "errors",
            Node::List {
                item: "error",
                items: errors,
            },
        )
        .respond(self.status, format)
    }
}

impl From<BackendError> for ApiError {
    fn from(e: BackendError) -> Self {
        let status = status_of(&e);
        match e {
            BackendError::Invalid(errors) if !errors.is_empty() => ApiError::invalid(errors),
            BackendError::Invalid(_) => ApiError::new(status, "invalid request"),
            BackendError::NotFound(what) => ApiError::new(status, what),
            BackendError::Forbidden(why) => ApiError::new(status, why),
            BackendError::Unavailable(why) => {
                tracing::warn!(reason = %why, "open311 backend unavailable");
                ApiError::new(status, "the service is unavailable, try again later")
            }
            BackendError::Internal(why) => {
                tracing::error!(reason = %why, "open311 backend failed");
                ApiError::new(status, "internal error")
            }
        }
    }
}
