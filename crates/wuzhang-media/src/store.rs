use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{FsMediaStore, MediaError, ObjectMediaStore, StoredMedia};

/// Where photos and videos are kept, content-addressed: the key is `<sha256>.<ext>`.
#[async_trait]
pub trait MediaStore: Send + Sync + Debug + 'static {
    /// Stores `bytes` of `content_type` and describes them. The bytes must be a non-empty
    /// file of that type (checked again here, whoever the caller is). Storing bytes that
    /// are already there does nothing and returns the same description, so retries and
    /// concurrent uploads of one file are safe.
    async fn put(&self, content_type: &str, bytes: Bytes) -> Result<StoredMedia, MediaError>;

    /// The media under `key` and its bytes. A key that is not exactly
    /// `<64 lowercase hex>.<jpg|png|webp|mp4>` is [`MediaError::NotFound`] without touching
    /// the backend, so a key can never name anything outside the store.
    async fn get(&self, key: &str) -> Result<(StoredMedia, Bytes), MediaError>;
}

/// Opens the store a configured location names:
/// - a plain path or `file:///path`: [`FsMediaStore`] in that directory (created if missing);
/// - `s3://bucket/prefix`: [`ObjectMediaStore`] on S3, configured from the standard
///   `AWS_*` environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
///   `AWS_REGION`, `AWS_ENDPOINT`, ...);
/// - `memory://`: [`ObjectMediaStore`] in memory, for tests and demos (lost on exit).
pub fn open(location: &str) -> Result<Arc<dyn MediaStore>, MediaError> {
    let location = location.trim();
    if location.is_empty() {
        return Err(MediaError::invalid("location", "required"));
    }
    if !location.contains("://") {
        return Ok(Arc::new(FsMediaStore::create(location)?));
    }
    let url = url::Url::parse(location)
        .map_err(|e| MediaError::invalid("location", format!("{location:?}: {e}")))?;
    if url.scheme() == "file" {
        let dir = url.to_file_path().map_err(|()| {
            MediaError::invalid("location", format!("{location:?} is not a local path"))
        })?;
        return Ok(Arc::new(FsMediaStore::create(dir)?));
    }
    Ok(Arc::new(ObjectMediaStore::from_url(&url)?))
}
