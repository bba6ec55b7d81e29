use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;

use crate::key::{Key, parse_key, require_key};
use crate::{MediaError, MediaStore, StoredMedia};

/// Media as files in a local directory: `dir/ab/cd/<key>`, where `abcd` are the first four
/// hex digits of the hash.
///
/// A put writes a temporary file in the final directory, fsyncs it, renames it into place
/// and fsyncs the directory, so a file under a key is always complete and survives a
/// crash; two puts of the same bytes race harmlessly to rename identical files.
#[derive(Debug, Clone)]
pub struct FsMediaStore {
    root: PathBuf,
}

impl FsMediaStore {
    /// A store in `dir`. Nothing is touched until the first put, which creates what it
    /// needs; see [`FsMediaStore::create`] to find out at once whether `dir` is usable.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { root: dir.into() }
    }

    /// A store in `dir`, created if missing.
    pub fn create(dir: impl Into<PathBuf>) -> Result<Self, MediaError> {
        let root = dir.into();
        fs::create_dir_all(&root).map_err(|e| {
            MediaError::Internal(format!(
                "cannot create media directory {}: {e}",
                root.display()
            ))
        })?;
        Ok(Self { root })
    }

    /// The directory the store lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir_of(&self, key: &Key<'_>) -> PathBuf {
        let [a, b, _] = key.shard();
        self.root.join(a).join(b)
    }
}

#[async_trait]
impl MediaStore for FsMediaStore {
    async fn put(&self, content_type: &str, bytes: Bytes) -> Result<StoredMedia, MediaError> {
        let store = self.clone();
        let content_type = content_type.to_owned();
        tokio::task::spawn_blocking(move || store.put_blocking(&content_type, &bytes))
            .await
            .map_err(|e| MediaError::from_join(&e))?
    }

    async fn get(&self, key: &str) -> Result<(StoredMedia, Bytes), MediaError> {
        let key = require_key(key)?;
        let path = self.dir_of(&key).join(key.key);
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| MediaError::from_io(&e))?;
        Ok((
            StoredMedia::from_key(&key, bytes.len() as u64),
            Bytes::from(bytes),
        ))
    }
}

impl FsMediaStore {
    fn put_blocking(&self, content_type: &str, bytes: &[u8]) -> Result<StoredMedia, MediaError> {
        let media = StoredMedia::describe(content_type, bytes)?;
        let key = parse_key(&media.key)
            .ok_or_else(|| MediaError::Internal(format!("made a bad key {:?}", media.key)))?;
        let dir = self.dir_of(&key);
        let path = dir.join(key.key);
        let io = |what: &str, e: std::io::Error| {
            MediaError::Internal(format!("{what} {}: {e}", path.display()))
        };

        // Already there: the name is the hash, so the bytes are ours. The size check only
        // guards against a file cut short by a crash on a file system that reorders writes.
        if let Ok(meta) = fs::metadata(&path)
            && meta.is_file()
            && meta.len() == media.size_bytes
        {
            return Ok(media);
        }

        let fresh_dirs = !dir.is_dir();
        fs::create_dir_all(&dir).map_err(|e| io("cannot create the directory of", e))?;
        let mut tmp = temp_builder()
            .tempfile_in(&dir)
            .map_err(|e| io("cannot create a temporary file for", e))?;
        tmp.write_all(bytes).map_err(|e| io("cannot write", e))?;
        tmp.as_file().sync_all().map_err(|e| io("cannot sync", e))?;
        tmp.persist(&path)
            .map_err(|e| io("cannot rename into", e.error))?;

        // The rename (and any new directory) is durable only once its directory is synced.
        sync_dir(&dir).map_err(|e| io("cannot sync the directory of", e))?;
        if fresh_dirs {
            for parent in [dir.parent(), Some(self.root.as_path())]
                .into_iter()
                .flatten()
            {
                sync_dir(parent).map_err(|e| io("cannot sync the directories of", e))?;
            }
        }
        Ok(media)
    }
}

/// Temporary files start with a dot, which no key does, so a leftover from a crash can
/// never be served.
fn temp_builder() -> tempfile::Builder<'static, 'static> {
    let mut b = tempfile::Builder::new();
    b.prefix(".put-");
    // tempfile makes files private (0600); media files are public by nature, and another
    // process (a static file server, a backup) may need to read them.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        b.permissions(fs::Permissions::from_mode(0o644));
    }
    b
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
