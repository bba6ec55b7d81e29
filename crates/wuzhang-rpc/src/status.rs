//! [`ApiError`] → `tonic::Status`: the code for each class of error, BadRequest details
//! for invalid fields, internal causes logged and never sent.

use std::future::Future;

use tonic::{Code, Request, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};
use wuzhang_app::ApiError;
use wuzhang_app::error::describe;
use wuzhang_domain::access::Principal;

/// The gRPC code for each class of error.
pub fn code(e: &ApiError) -> Code {
    match e {
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

/// The status a gRPC caller gets for `e`.
pub fn status(e: ApiError) -> Status {
    let code = code(&e);
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

/// Why a handler's body failed: the application said no, or the transport did (a client
/// stream that broke off or sent what does not decode), whose status passes unchanged.
#[derive(Debug)]
pub enum Failure {
    App(ApiError),
    Transport(Status),
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::App(e)
    }
}

impl From<Status> for Failure {
    fn from(s: Status) -> Self {
        Failure::Transport(s)
    }
}

/// Runs a handler's body, written in the application's terms, and answers gRPC: every
/// handler of every service goes through here, so an error becomes a status in one place.
pub async fn grpc<T>(body: impl Future<Output = Result<T, Failure>>) -> Result<T, Status> {
    body.await.map_err(|f| match f {
        Failure::App(e) => status(e),
        Failure::Transport(s) => s,
    })
}

/// Who the authenticator let in. Every service is mounted behind it, so a missing caller
/// is a wiring fault, logged, and answered UNAUTHENTICATED.
pub fn caller<T>(request: &Request<T>) -> Result<&Principal, ApiError> {
    request.extensions().get::<Principal>().ok_or_else(|| {
        tracing::error!("no principal on the request: service mounted without the authenticator");
        ApiError::Unauthenticated("no authenticated caller".into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wuzhang_domain::FieldError;
    use wuzhang_store::StoreError;

    #[test]
    fn invalid_carries_bad_request_details() {
        let status = status(ApiError::Invalid(vec![
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
            assert_eq!(status(ApiError::from(e)).code(), code);
        }
    }

    #[test]
    fn internal_errors_do_not_leak() {
        let status = status(ApiError::internal("password=hunter2 in connection string"));
        assert_eq!(status.message(), "internal error");
    }

    #[test]
    fn unimplemented_names_the_issue() {
        let status = status(ApiError::unimplemented("SubmitIncident", "issue #4"));
        assert_eq!(status.code(), Code::Unimplemented);
        assert_eq!(
            status.message(),
            "SubmitIncident is not implemented yet (issue #4)"
        );
    }

    #[tokio::test]
    async fn a_request_without_a_caller_is_unauthenticated() {
        let request = Request::new(());
        let answer = grpc(async { Ok(caller(&request).map(|_| ())?) }).await;
        assert_eq!(answer.unwrap_err().code(), Code::Unauthenticated);
    }
}
