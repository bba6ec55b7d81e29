//! The download route, driven as a tower service.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use bytes::Bytes;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use tower::ServiceExt as _;
use wuzhang_media::{MediaStore, ObjectMediaStore, StoredMedia, router};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR";

async fn stored() -> (Arc<dyn MediaStore>, StoredMedia) {
    let store: Arc<dyn MediaStore> = Arc::new(ObjectMediaStore::new(
        Arc::new(InMemory::new()),
        ObjectPath::default(),
    ));
    let put = store
        .put("image/png", Bytes::from_static(PNG))
        .await
        .unwrap();
    (store, put)
}

fn request(method: Method, uri: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap()
}

async fn body(resp: axum::response::Response) -> Bytes {
    axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap()
}

#[tokio::test]
async fn serves_the_bytes_with_their_headers() {
    let (store, put) = stored().await;
    let resp = router(store)
        .oneshot(request(Method::GET, &put.path()))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers();
    assert_eq!(h[header::CONTENT_TYPE], "image/png");
    assert_eq!(h[header::CONTENT_LENGTH], PNG.len().to_string().as_str());
    assert_eq!(
        h[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(h[header::ETAG], format!("\"{}\"", put.sha256).as_str());
    assert_eq!(body(resp).await, PNG);
}

#[tokio::test]
async fn head_has_the_headers_and_no_body() {
    let (store, put) = stored().await;
    let resp = router(store)
        .oneshot(request(Method::HEAD, &put.path()))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "image/png");
    assert!(body(resp).await.is_empty());
}

#[tokio::test]
async fn a_matching_etag_is_not_modified() {
    let (store, put) = stored().await;
    let app = router(store);
    for tag in [
        format!("\"{}\"", put.sha256),
        format!("W/\"{}\", \"other\"", put.sha256),
        "*".to_owned(),
    ] {
        let req = Request::builder()
            .uri(put.path())
            .header(header::IF_NONE_MATCH, tag.as_str())
            .body(Body::empty())
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_MODIFIED, "{tag}");
        assert_eq!(
            resp.headers()[header::ETAG],
            format!("\"{}\"", put.sha256).as_str()
        );
        assert!(body(resp).await.is_empty());
    }
    let req = Request::builder()
        .uri(put.path())
        .header(header::IF_NONE_MATCH, "\"something-else\"")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.oneshot(req).await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_and_invalid_keys_are_404() {
    let (store, put) = stored().await;
    let app = router(store);
    let uris = [
        format!("/media/{}.png", "0".repeat(64)),
        format!("/media/{}.jpg", put.sha256),
        "/media/..%2F..%2Fetc%2Fpasswd".to_owned(),
        "/media/%2e%2e".to_owned(),
        "/media/%FF%FE.png".to_owned(),
        "/media/not-a-key".to_owned(),
        format!("/media/{}", put.key.to_uppercase()),
        "/media/".to_owned(),
        format!("/media/{}/{}", &put.sha256[..2], put.key),
    ];
    for uri in uris {
        let resp = app
            .clone()
            .oneshot(request(Method::GET, &uri))
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{uri}");
    }
}
