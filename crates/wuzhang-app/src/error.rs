//! [`ApiError`]: what went wrong, by what the caller can do about it, whatever channel the
//! call came by. Each edge maps it once: gRPC in `wuzhang-rpc` (`status`), HTTP here
//! ([`ApiError::http_status`]) for the HTTP gateway.

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

/// The violations as one line, for messages.
pub fn describe(v: &[FieldError]) -> String {
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
    fn store_errors_keep_what_the_caller_can_do() {
        let taken = ApiError::from(StoreError::AlreadyExists {
            entity: IdempotencyRecord::ENTITY,
            key: "a".into(),
        });
        assert!(taken.is_taken_request_id());
        let other = ApiError::from(StoreError::AlreadyExists {
            entity: "area",
            key: "a".into(),
        });
        assert!(matches!(
            other,
            ApiError::AlreadyExists { entity: "area", .. }
        ));
        assert!(!other.is_taken_request_id());
        assert!(matches!(
            ApiError::from(StoreError::invalid("parent_code", "missing")),
            ApiError::Invalid(v) if v[0].field == "parent_code"
        ));
        assert!(matches!(
            ApiError::from(StoreError::Conflict {
                entity: "ticket",
                key: "t".into(),
                current_version: 3,
            }),
            ApiError::Aborted(_)
        ));
    }

    #[test]
    fn unimplemented_names_the_issue() {
        let e = ApiError::unimplemented("SubmitIncident", "issue #4");
        assert_eq!(
            e.to_string(),
            "SubmitIncident is not implemented yet (issue #4)"
        );
        assert_eq!(e.http_status(), http::StatusCode::NOT_IMPLEMENTED);
    }
}
