use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::{MediaError, MediaStore};

/// Where [`router`] serves media: a media URL is this prefix and the key, behind whatever
/// origin the deployment exposes.
pub const MEDIA_PATH_PREFIX: &str = "/media/";

/// `GET /media/{key}` (and HEAD): the bytes with their type, cacheable forever because a
/// key names its bytes forever. Unknown and malformed keys are 404.
pub fn router(store: Arc<dyn MediaStore>) -> Router {
    Router::new()
        .route("/media/{key}", get(serve))
        .with_state(store)
}

async fn serve(
    State(store): State<Arc<dyn MediaStore>>,
    key: Result<Path<String>, PathRejection>,
    request_headers: HeaderMap,
) -> Response {
    // A path that does not even decode (bad UTF-8) is no key either.
    let Ok(Path(key)) = key else {
        return error_response("", &MediaError::NotFound);
    };
    let (media, bytes) = match store.get(&key).await {
        Ok(found) => found,
        Err(err) => return error_response(&key, &err),
    };
    let etag = format!("\"{}\"", media.sha256);
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    // Browsers must not second-guess the type: a file that sniffs as HTML must never run.
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }

    if if_none_match(&request_headers, &etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    if let Ok(v) = HeaderValue::from_str(&media.content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(media.size_bytes));
    (StatusCode::OK, headers, Body::from(bytes)).into_response()
}

/// Whether the client already holds this version (`If-None-Match` lists the ETag, weak or
/// strong, or is `*`).
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim())
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

fn error_response(key: &str, err: &MediaError) -> Response {
    let status = match err {
        // Only get() answers here, and it reports bad keys as not found; keep it that way
        // for anything else a backend might say about the key.
        MediaError::Invalid { .. } | MediaError::NotFound => StatusCode::NOT_FOUND,
        MediaError::Unavailable(_) | MediaError::Internal(_) => {
            tracing::error!(key, error = %err, "media download failed");
            err.http_status()
        }
    };
    let body = match status {
        StatusCode::NOT_FOUND => "media not found",
        StatusCode::SERVICE_UNAVAILABLE => "media store unavailable",
        _ => "internal error",
    };
    (status, body).into_response()
}
