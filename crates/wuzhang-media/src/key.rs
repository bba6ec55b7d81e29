use sha2::{Digest, Sha256};

use crate::MediaError;
use crate::sniff::{content_type_for_extension, extension, sniff};

/// A photo or video in a store: what `put` returns and `get` describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMedia {
    /// `<sha256>.<ext>`: names the bytes forever, so it goes into the media URL and the
    /// same bytes uploaded twice get the same URL.
    pub key: String,
    /// The detected MIME type (one of [`SUPPORTED_CONTENT_TYPES`](crate::SUPPORTED_CONTENT_TYPES)).
    pub content_type: String,
    /// Size of the bytes.
    pub size_bytes: u64,
    /// SHA-256 of the bytes, lowercase hex; the key's first part and the HTTP ETag.
    pub sha256: String,
}

impl StoredMedia {
    /// Checks that `bytes` are a non-empty file of `content_type` and describes them.
    /// Hashing 20 MiB takes tens of milliseconds: call it off the async threads.
    pub(crate) fn describe(content_type: &str, bytes: &[u8]) -> Result<Self, MediaError> {
        let ext = check_content(content_type, bytes)?;
        let sha256 = format!("{:x}", Sha256::digest(bytes));
        Ok(Self {
            key: format!("{sha256}.{ext}"),
            content_type: content_type.to_owned(),
            size_bytes: bytes.len() as u64,
            sha256,
        })
    }

    /// Describes bytes read back under a key that [`parse_key`] accepted; the key says what
    /// they are.
    pub(crate) fn from_key(key: &Key<'_>, size_bytes: u64) -> Self {
        Self {
            key: key.key.to_owned(),
            content_type: key.content_type.to_owned(),
            size_bytes,
            sha256: key.sha256.to_owned(),
        }
    }

    /// The path the download route serves this media under: `/media/<key>`.
    pub fn path(&self) -> String {
        format!("{}{}", crate::MEDIA_PATH_PREFIX, self.key)
    }
}

/// Refuses bytes that are empty or are not what `content_type` says; returns the
/// extension for the key. The field names are the upload's, as the client sees them.
pub(crate) fn check_content(content_type: &str, bytes: &[u8]) -> Result<&'static str, MediaError> {
    let Some(ext) = extension(content_type) else {
        return Err(MediaError::invalid(
            "metadata.content_type",
            format!("unsupported content type {content_type:?}"),
        ));
    };
    if bytes.is_empty() {
        return Err(MediaError::invalid("chunk", "no bytes uploaded"));
    }
    match sniff(bytes) {
        Some(found) if found == content_type => Ok(ext),
        Some(found) => Err(MediaError::invalid(
            "metadata.content_type",
            format!("declared {content_type} but the bytes are {found}"),
        )),
        None => Err(MediaError::invalid(
            "metadata.content_type",
            format!("declared {content_type} but the bytes are not a supported image or video"),
        )),
    }
}

/// A key that passed [`parse_key`], split into its parts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Key<'a> {
    pub(crate) key: &'a str,
    pub(crate) sha256: &'a str,
    pub(crate) content_type: &'static str,
}

impl Key<'_> {
    /// The key's place below a store's root: `ab/cd/<key>`, so no directory grows past
    /// 65536 entries of subdirectories and each leaf stays small.
    pub(crate) fn shard(&self) -> [&str; 3] {
        [&self.sha256[0..2], &self.sha256[2..4], self.key]
    }
}

/// Accepts exactly `<64 lowercase hex>.<jpg|png|webp|mp4>`. Everything else, however
/// harmless it looks, is refused: keys become file and object paths, and a key that can
/// hold `/`, `..` or anything but hex and a known extension could reach outside the store.
pub(crate) fn parse_key(key: &str) -> Option<Key<'_>> {
    let (sha256, ext) = key.split_once('.')?;
    let is_hex = sha256.len() == 64
        && sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !is_hex {
        return None;
    }
    let content_type = content_type_for_extension(ext)?;
    Some(Key {
        key,
        sha256,
        content_type,
    })
}

/// [`parse_key`] or [`MediaError::NotFound`]: a key we could never have issued names
/// nothing.
pub(crate) fn require_key(key: &str) -> Result<Key<'_>, MediaError> {
    parse_key(key).ok_or(MediaError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn good_keys_parse() {
        let key = format!("{HEX}.jpg");
        let k = parse_key(&key).unwrap();
        assert_eq!(k.sha256, HEX);
        assert_eq!(k.content_type, "image/jpeg");
        assert_eq!(k.shard(), ["e3", "b0", key.as_str()]);
        for (ext, ct) in [
            ("png", "image/png"),
            ("webp", "image/webp"),
            ("mp4", "video/mp4"),
        ] {
            assert_eq!(parse_key(&format!("{HEX}.{ext}")).unwrap().content_type, ct);
        }
    }

    #[test]
    fn anything_else_is_refused() {
        let upper = HEX.to_uppercase();
        let bad = [
            String::new(),
            "../etc/passwd".to_owned(),
            "..".to_owned(),
            HEX.to_owned(),
            format!("{HEX}."),
            format!("{HEX}.gif"),
            format!("{HEX}.JPG"),
            format!("{HEX}.jpg.png"),
            format!("{HEX}.jpg/"),
            format!("{upper}.jpg"),
            format!("{}.jpg", &HEX[1..]),
            format!("{HEX}0.jpg"),
            format!("../{}.jpg", &HEX[3..]),
            format!("e3/b0/{HEX}.jpg"),
            format!("{}g.jpg", &HEX[1..]),
            format!("{}/.jpg", &HEX[1..]),
            format!("{HEX}.jpg\0"),
            format!(" {HEX}.jpg"),
        ];
        for key in bad {
            assert!(parse_key(&key).is_none(), "{key:?}");
        }
    }

    #[test]
    fn describe_names_the_bytes() {
        let bytes = [0xFF, 0xD8, 0xFF, 0xE0];
        let m = StoredMedia::describe("image/jpeg", &bytes).unwrap();
        assert_eq!(m.sha256, format!("{:x}", Sha256::digest(bytes)));
        assert_eq!(m.key, format!("{}.jpg", m.sha256));
        assert_eq!(m.size_bytes, 4);
        assert_eq!(m.path(), format!("/media/{}", m.key));
        assert!(parse_key(&m.key).is_some());
    }
}
