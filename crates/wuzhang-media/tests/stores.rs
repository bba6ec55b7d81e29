//! Every backend runs the same cases; a few more check what only the file store promises.

use std::sync::Arc;

use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use sha2::{Digest, Sha256};
use wuzhang_media::{FsMediaStore, MediaError, MediaStore, ObjectMediaStore, StoredMedia};

fn jpeg(body: &[u8]) -> Bytes {
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0];
    b.extend_from_slice(body);
    Bytes::from(b)
}

fn mp4() -> Bytes {
    let mut b = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom".to_vec();
    b.extend_from_slice(b"\0\0\0\x08free");
    Bytes::from(b)
}

fn hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

fn invalid_field(err: MediaError) -> String {
    match err {
        MediaError::Invalid { field, .. } => field,
        other => panic!("expected invalid, got {other:?}"),
    }
}

async fn round_trip(store: &dyn MediaStore) {
    let bytes = jpeg(b"a photo of a pothole");
    let put = store.put("image/jpeg", bytes.clone()).await.unwrap();
    let sha = hex(&bytes);
    assert_eq!(
        put,
        StoredMedia {
            key: format!("{sha}.jpg"),
            content_type: "image/jpeg".into(),
            size_bytes: bytes.len() as u64,
            sha256: sha,
        }
    );
    let (got, got_bytes) = store.get(&put.key).await.unwrap();
    assert_eq!(got, put);
    assert_eq!(got_bytes, bytes);

    let video = store.put("video/mp4", mp4()).await.unwrap();
    assert!(video.key.ends_with(".mp4"));
    assert_eq!(store.get(&video.key).await.unwrap().1, mp4());
}

async fn same_bytes_same_key(store: &dyn MediaStore) {
    let bytes = jpeg(b"twice");
    let first = store.put("image/jpeg", bytes.clone()).await.unwrap();
    let second = store.put("image/jpeg", bytes.clone()).await.unwrap();
    assert_eq!(first, second);
    let other = store.put("image/jpeg", jpeg(b"another")).await.unwrap();
    assert_ne!(first.key, other.key);
}

async fn unknown_and_malformed_keys_are_not_found(store: &dyn MediaStore) {
    store.put("image/jpeg", jpeg(b"x")).await.unwrap();
    let absent = format!("{}.jpg", "0".repeat(64));
    let put = store.put("image/jpeg", jpeg(b"y")).await.unwrap();
    let keys = [
        absent.as_str(),
        "../etc/passwd",
        "..%2F..%2Fetc%2Fpasswd",
        "/etc/passwd",
        "",
        ".",
        // A stored key in another spelling or with its shard directories.
        &put.key.to_uppercase(),
        &format!("{}/{}/{}", &put.sha256[..2], &put.sha256[2..4], put.key),
        &format!("{}.png", put.sha256),
        &format!("{}.jpg/../{}", put.sha256, put.key),
    ];
    for key in keys {
        assert!(
            matches!(store.get(key).await, Err(MediaError::NotFound)),
            "{key:?}"
        );
    }
}

async fn bad_content_is_refused(store: &dyn MediaStore) {
    let err = store.put("image/png", jpeg(b"x")).await.unwrap_err();
    assert_eq!(invalid_field(err), "metadata.content_type");
    let err = store
        .put("image/gif", Bytes::from_static(b"GIF89a"))
        .await
        .unwrap_err();
    assert_eq!(invalid_field(err), "metadata.content_type");
    let err = store.put("image/jpeg", Bytes::new()).await.unwrap_err();
    assert_eq!(invalid_field(err), "chunk");
}

async fn concurrent_puts_of_the_same_bytes(store: Arc<dyn MediaStore>) {
    let bytes = jpeg(&vec![7u8; 256 * 1024]);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = Arc::clone(&store);
            let bytes = bytes.clone();
            tokio::spawn(async move { store.put("image/jpeg", bytes).await })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap().unwrap());
    }
    assert!(results.windows(2).all(|w| w[0] == w[1]));
    let (_, got) = store.get(&results[0].key).await.unwrap();
    assert_eq!(got, bytes);
}

/// One `#[tokio::test]` per case for a backend; `$make` builds a fresh store and may keep
/// a guard (a temporary directory) alive for the test's length.
macro_rules! media_store_suite {
    ($backend:ident, $make:expr) => {
        mod $backend {
            use super::*;

            #[tokio::test]
            async fn round_trip() {
                let (store, _guard) = $make;
                super::round_trip(&*store).await;
            }

            #[tokio::test]
            async fn same_bytes_same_key() {
                let (store, _guard) = $make;
                super::same_bytes_same_key(&*store).await;
            }

            #[tokio::test]
            async fn unknown_and_malformed_keys_are_not_found() {
                let (store, _guard) = $make;
                super::unknown_and_malformed_keys_are_not_found(&*store).await;
            }

            #[tokio::test]
            async fn bad_content_is_refused() {
                let (store, _guard) = $make;
                super::bad_content_is_refused(&*store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_puts_of_the_same_bytes() {
                let (store, _guard) = $make;
                super::concurrent_puts_of_the_same_bytes(store).await;
            }
        }
    };
}

fn fs_store() -> (Arc<dyn MediaStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (Arc::new(FsMediaStore::new(dir.path().join("media"))), dir)
}

fn memory_store() -> (Arc<dyn MediaStore>, ()) {
    let store = ObjectMediaStore::new(Arc::new(InMemory::new()), ObjectPath::from("media"));
    (Arc::new(store), ())
}

fn local_object_store() -> (Arc<dyn MediaStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let local = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
    let store = ObjectMediaStore::new(Arc::new(local), ObjectPath::default());
    (Arc::new(store), dir)
}

media_store_suite!(fs, fs_store());
media_store_suite!(object_memory, memory_store());
media_store_suite!(object_local, local_object_store());

/// Every file under `dir`, relative, sorted.
fn files(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap();
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn fs_layout_is_two_levels_of_hash() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsMediaStore::new(dir.path());
    let put = store.put("image/jpeg", jpeg(b"layout")).await.unwrap();
    let expected = format!("{}/{}/{}", &put.sha256[..2], &put.sha256[2..4], put.key);
    assert_eq!(files(dir.path()), std::slice::from_ref(&expected));
    assert_eq!(
        std::fs::read(dir.path().join(&expected)).unwrap(),
        jpeg(b"layout")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_concurrent_puts_leave_one_file_and_no_temporaries() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn MediaStore> = Arc::new(FsMediaStore::new(dir.path()));
    concurrent_puts_of_the_same_bytes(Arc::clone(&store)).await;
    let found = files(dir.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(!found[0].contains("/."), "{found:?}");
}

#[tokio::test]
async fn fs_put_of_existing_bytes_does_not_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsMediaStore::new(dir.path());
    let put = store.put("image/jpeg", jpeg(b"once")).await.unwrap();
    let path = dir
        .path()
        .join(&put.sha256[..2])
        .join(&put.sha256[2..4])
        .join(&put.key);
    let before = std::fs::metadata(&path).unwrap();
    store.put("image/jpeg", jpeg(b"once")).await.unwrap();
    let after = std::fs::metadata(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        assert_eq!(before.ino(), after.ino(), "the file was replaced");
    }
    assert_eq!(before.modified().unwrap(), after.modified().unwrap());
}

#[tokio::test]
async fn fs_traversal_reaches_nothing_outside() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret"), b"\xFF\xD8\xFF secret").unwrap();
    let store = FsMediaStore::new(dir.path().join("media"));
    for key in [
        "../secret",
        "..",
        "../../secret",
        "%2e%2e/secret",
        "/etc/passwd",
    ] {
        assert!(
            matches!(store.get(key).await, Err(MediaError::NotFound)),
            "{key}"
        );
    }
}

#[tokio::test]
async fn open_picks_the_backend() {
    let dir = tempfile::tempdir().unwrap();

    let plain = dir.path().join("plain");
    let store = wuzhang_media::open(plain.to_str().unwrap()).unwrap();
    assert!(plain.is_dir(), "open creates the directory");
    let put = store.put("image/jpeg", jpeg(b"plain")).await.unwrap();
    assert_eq!(store.get(&put.key).await.unwrap().0, put);
    assert!(format!("{store:?}").contains("FsMediaStore"));

    let url = url::Url::from_directory_path(dir.path().join("url")).unwrap();
    let store = wuzhang_media::open(url.as_str()).unwrap();
    store.put("image/jpeg", jpeg(b"url")).await.unwrap();
    assert_eq!(files(&dir.path().join("url")).len(), 1);

    let store = wuzhang_media::open("memory://").unwrap();
    assert!(format!("{store:?}").contains("ObjectMediaStore"));
    round_trip(&*store).await;

    // Building an S3 store contacts nothing; credentials are looked up on first use.
    let store = wuzhang_media::open("s3://wuzhang-media/uploads").unwrap();
    assert!(format!("{store:?}").contains("ObjectMediaStore"));

    for bad in ["", "   ", "ftp://host/media", "gopher://x", "s3://"] {
        let err = wuzhang_media::open(bad).unwrap_err();
        assert_eq!(invalid_field(err), "location", "{bad:?}");
    }
}
