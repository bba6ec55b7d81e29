//! [`ApiError`] and the one mapping from it to `tonic::Status` and to HTTP status codes.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};
use wuzhang_domain::FieldError;
use wuzhang_domain::clocks::ClockError;
use wuzhang_domain::ticket::TransitionError;
use wuzhang_store::{IdempotencyRecord, StoreError};

/// What went wrong, by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Fix the request: each violation names the field and why.
    #[error("invalid request: {}", describe(.0))]
    Invalid(Vec<FieldError>),
    /// Not there, or not visible to this caller (the two are deliberately the same).
    #[error("{0}")]
    NotFound(String),
    /// The entity is kept so code can branch on it (a taken request id is a lost retry
    /// race, not the caller's conflict).
    #[error("{entity} {key} already exists")]
    AlreadyExists { entity: &'static str, key: String },
    /// The object is in a state where this cannot happen (e.g. cancel a closed ticket).
    #[error("{0}")]
    FailedPrecondition(String),
    /// Lost a race: re-read and decide again.
    #[error("{0}")]
    Aborted(String),
    /// Authenticated, but this role may never do this.
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    Unauthenticated(String),
    /// Try again later.
    #[error("{0}")]
    Unavailable(String),
    /// Part of the API that is not built yet; names the issue that builds it.
    #[error("{rpc} is not implemented yet ({issue})")]
    Unimplemented {
        rpc: &'static str,
        issue: &'static str,
    },
    /// Our fault. The source is logged, never sent.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

fn describe(v: &[FieldError]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, reason)])
    }

    /// NOT_FOUND for `what` ("ticket 0193…" → "ticket 0193… not found").
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::NotFound(format!("{what} not found"))
    }

    pub fn unimplemented(rpc: &'static str, issue: &'static str) -> Self {
        Self::Unimplemented { rpc, issue }
    }

    pub fn internal(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(e.into())
    }

    /// The request id is taken: another request wrote its idempotency record first.
    pub fn is_taken_request_id(&self) -> bool {
        matches!(self, ApiError::AlreadyExists { entity, .. } if *entity == IdempotencyRecord::ENTITY)
    }

    pub fn code(&self) -> Code {
        match self {
            ApiError::Invalid(_) => Code::InvalidArgument,
            ApiError::NotFound(_) => Code::NotFound,
            ApiError::AlreadyExists { .. } => Code::AlreadyExists,
            ApiError::FailedPrecondition(_) => Code::FailedPrecondition,
            ApiError::Aborted(_) => Code::Aborted,
            ApiError::PermissionDenied(_) => Code::PermissionDenied,
            ApiError::Unauthenticated(_) => Code::Unauthenticated,
            ApiError::Unavailable(_) => Code::Unavailable,
            ApiError::Unimplemented { .. } => Code::Unimplemented,
            ApiError::Internal(_) => Code::Internal,
        }
    }

    /// The HTTP status for the same error, for the HTTP gateway.
    pub fn http_status(&self) -> http::StatusCode {
        use http::StatusCode as H;
        match self {
            ApiError::Invalid(_) => H::BAD_REQUEST,
            ApiError::NotFound(_) => H::NOT_FOUND,
            ApiError::AlreadyExists { .. } | ApiError::Aborted(_) => H::CONFLICT,
            ApiError::FailedPrecondition(_) => H::UNPROCESSABLE_ENTITY,
            ApiError::PermissionDenied(_) => H::FORBIDDEN,
            ApiError::Unauthenticated(_) => H::UNAUTHORIZED,
            ApiError::Unavailable(_) => H::SERVICE_UNAVAILABLE,
            ApiError::Unimplemented { .. } => H::NOT_IMPLEMENTED,
            ApiError::Internal(_) => H::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Status {
        let code = e.code();
        match e {
            ApiError::Invalid(violations) => {
                let message = format!("invalid request: {}", describe(&violations));
                let details = ErrorDetails::with_bad_request(
                    violations
                        .into_iter()
                        .map(|v| FieldViolation::new(v.field, v.reason))
                        .collect::<Vec<_>>(),
                );
                Status::with_error_details(code, message, details)
            }
            ApiError::Internal(source) => {
                tracing::error!(error = %source, "internal error");
                Status::new(code, "internal error")
            }
            ApiError::Unavailable(ref reason) => {
                tracing::warn!(%reason, "unavailable");
                Status::new(code, e.to_string())
            }
            other => Status::new(code, other.to_string()),
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::Invalid(vec![e])
    }
}

impl From<ClockError> for ApiError {
    /// The server did not read what a clock effect needs, or a calendar cannot count the
    /// deadline: neither is the caller's to fix.
    fn from(e: ClockError) -> Self {
        ApiError::internal(e)
    }
}

impl From<TransitionError> for ApiError {
    fn from(e: TransitionError) -> Self {
        ApiError::FailedPrecondition(e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { entity, key } => {
                ApiError::not_found(format_args!("{entity} {key}"))
            }
            StoreError::AlreadyExists { entity, key } => ApiError::AlreadyExists { entity, key },
            e @ StoreError::Conflict { .. } => ApiError::Aborted(e.to_string()),
            StoreError::Invalid { field, reason } => ApiError::invalid(field, reason),
            e @ StoreError::Unavailable { .. } => ApiError::Unavailable(e.to_string()),
            StoreError::Internal { source } => ApiError::Internal(source),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_carries_bad_request_details() {
        let status = Status::from(ApiError::Invalid(vec![
            FieldError::new("location.lat", "must be a finite number"),
            FieldError::new("description", "must not be empty"),
        ]));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("location.lat"));
        let br = status
            .get_details_bad_request()
            .expect("bad request details");
        let fields: Vec<_> = br
            .field_violations
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(fields, ["location.lat", "description"]);
    }

    #[test]
    fn store_errors_map_by_what_the_caller_can_do() {
        let cases = [
            (StoreError::not_found("ticket", "t1"), Code::NotFound),
            (
                StoreError::AlreadyExists {
                    entity: "area",
                    key: "a".into(),
                },
                Code::AlreadyExists,
            ),
            (
                StoreError::Conflict {
                    entity: "ticket",
                    key: "t".into(),
                    current_version: 3,
                },
                Code::Aborted,
            ),
            (
                StoreError::invalid("parent_code", "missing"),
                Code::InvalidArgument,
            ),
            (StoreError::internal("boom"), Code::Internal),
        ];
        for (e, code) in cases {
            assert_eq!(Status::from(ApiError::from(e)).code(), code);
        }
    }

    #[test]
    fn internal_errors_do_not_leak() {
        let status = Status::from(ApiError::internal("password=hunter2 in connection string"));
        assert_eq!(status.message(), "internal error");
    }

    #[test]
    fn unimplemented_names_the_issue() {
        let status = Status::from(ApiError::unimplemented("SubmitIncident", "issue #4"));
        assert_eq!(status.code(), Code::Unimplemented);
        assert_eq!(
            status.message(),
            "SubmitIncident is not implemented yet (issue #4)"
        );
        assert_eq!(
            ApiError::unimplemented("X", "issue #1").http_status(),
            http::StatusCode::NOT_IMPLEMENTED
        );
    }
}
