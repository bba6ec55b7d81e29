//! A gRPC status as an HTTP answer: the HTTP status for its code, and a `google.rpc.Status`
//! in JSON as the body, with the same BadRequest field violations the gRPC answer carries.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::request::Violation;

/// The HTTP status for a gRPC code, as `google.rpc.Code` documents it, but for
/// FAILED_PRECONDITION: 412 (Precondition Failed), as the issue that asked for this API
/// lists it, so an HTTP client tells "the ticket is not in a state for this" (412) from
/// "a field is wrong" (400) by the status alone.
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::InvalidArgument | Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::FailedPrecondition => StatusCode::PRECONDITION_FAILED,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `google.rpc.Status` as JSON: `{"code": 3, "message": "…", "details": [{"@type":
/// "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [...]}]}`.
pub fn body(status: &Status) -> Value {
    let mut details = Vec::new();
    let error_details = status.get_error_details();
    if let Some(bad) = error_details.bad_request() {
        details.push(bad_request(
            bad.field_violations
                .iter()
                .map(|v| Violation::new(v.field.clone(), v.description.clone())),
        ));
    }
    let mut out = json!({
        "code": status.code() as i32,
        "message": status.message(),
    });
    if !details.is_empty() {
        out["details"] = Value::Array(details);
    }
    out
}

fn bad_request(violations: impl Iterator<Item = Violation>) -> Value {
    json!({
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        "fieldViolations": violations
            .map(|v| json!({"field": v.field, "description": v.description}))
            .collect::<Vec<_>>(),
    })
}

/// The HTTP answer for `status`.
pub fn response(status: &Status) -> Response {
    (http_status(status.code()), axum::Json(body(status))).into_response()
}

/// INVALID_ARGUMENT for a request the gateway could not make a message of, in the form the
/// handlers' own field errors take.
pub fn invalid(v: Violation) -> Response {
    let message = format!("invalid request: {}: {}", v.field, v.description);
    let body = json!({
        "code": Code::InvalidArgument as i32,
        "message": message,
        "details": [bad_request(std::iter::once(v))],
    });
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::{ErrorDetails, FieldViolation};

    #[test]
    fn field_violations_pass_through() {
        let status = Status::with_error_details(
            Code::InvalidArgument,
            "invalid request: location: outside",
            ErrorDetails::with_bad_request(vec![FieldViolation::new("location", "outside")]),
        );
        let b = body(&status);
        assert_eq!(b["code"], 3);
        assert_eq!(b["details"][0]["fieldViolations"][0]["field"], "location");
        assert_eq!(
            b["details"][0]["@type"],
            "type.googleapis.com/google.rpc.BadRequest"
        );
        assert_eq!(http_status(Code::FailedPrecondition).as_u16(), 412);
        assert_eq!(http_status(Code::Cancelled).as_u16(), 499);
        assert_eq!(http_status(Code::NotFound).as_u16(), 404);
    }
}
