use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};

use crate::key::{Key, parse_key, require_key};
use crate::{MediaError, MediaStore, StoredMedia};

/// Media in any [`ObjectStore`] (S3, memory, local files): objects at
/// `<prefix>/ab/cd/<key>`, the same layout as [`FsMediaStore`](crate::FsMediaStore).
///
/// Object stores write whole objects atomically, so a put needs no temporary object; it
/// asks first whether the key exists, so re-uploading a file costs a HEAD, not 20 MiB.
#[derive(Debug, Clone)]
pub struct ObjectMediaStore {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
}

impl ObjectMediaStore {
    /// Media under `prefix` in `store` (`Path::default()` for the store's root).
    pub fn new(store: Arc<dyn ObjectStore>, prefix: Path) -> Self {
        Self { store, prefix }
    }

    /// The store a URL names (`s3://bucket/prefix`, `memory://`, ...), with the S3
    /// settings taken from the `AWS_*` environment variables. Nothing is contacted yet.
    pub fn from_url(url: &url::Url) -> Result<Self, MediaError> {
        let aws_env = std::env::vars().filter(|(k, _)| k.starts_with("AWS_"));
        let (store, prefix) = object_store::parse_url_opts(url, aws_env)
            .map_err(|e| MediaError::invalid("location", format!("{url}: {e}")))?;
        Ok(Self::new(Arc::from(store), prefix))
    }

    fn location(&self, key: &Key<'_>) -> Path {
        let [a, b, name] = key.shard();
        self.prefix.clone().join(a).join(b).join(name)
    }
}

#[async_trait]
impl MediaStore for ObjectMediaStore {
    async fn put(&self, content_type: &str, bytes: Bytes) -> Result<StoredMedia, MediaError> {
        let media = {
            let content_type = content_type.to_owned();
            let bytes = bytes.clone();
            tokio::task::spawn_blocking(move || StoredMedia::describe(&content_type, &bytes))
                .await
                .map_err(|e| MediaError::from_join(&e))??
        };
        let key = parse_key(&media.key)
            .ok_or_else(|| MediaError::Internal(format!("made a bad key {:?}", media.key)))?;
        let location = self.location(&key);
        match self.store.head(&location).await {
            Ok(meta) if meta.size == media.size_bytes => return Ok(media),
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(classify(e)),
        }
        // Overwrite, not create-if-absent: a racing put writes the same bytes, and S3 does
        // not do conditional creates everywhere.
        self.store
            .put(&location, PutPayload::from(bytes))
            .await
            .map_err(classify)?;
        Ok(media)
    }

    async fn get(&self, key: &str) -> Result<(StoredMedia, Bytes), MediaError> {
        let key = require_key(key)?;
        let bytes = self
            .store
            .get(&self.location(&key))
            .await
            .map_err(classify)?
            .bytes()
            .await
            .map_err(classify)?;
        Ok((StoredMedia::from_key(&key, bytes.len() as u64), bytes))
    }
}

/// Not found is the caller's business; a generic error is the backend (network, S3)
/// failing, which a retry may cure; anything else is ours.
fn classify(err: object_store::Error) -> MediaError {
    match err {
        object_store::Error::NotFound { .. } => MediaError::NotFound,
        object_store::Error::Generic { .. } => MediaError::Unavailable(err.to_string()),
        _ => MediaError::Internal(err.to_string()),
    }
}
