use bytes::Bytes;

use crate::MediaError;
use crate::key::check_content;
use crate::sniff::{SUPPORTED_CONTENT_TYPES, canonical};

const MIB: u64 = 1024 * 1024;

/// How much one upload may hold, and of what kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaLimits {
    /// Most bytes in one upload; the proto promises 20 MiB.
    pub max_bytes: u64,
    /// Most bytes in one chunk; the proto promises 1 MiB, and it bounds what one message
    /// makes us hold before we can refuse it.
    pub max_chunk: usize,
    /// The content types accepted. Only types that [`sniff`](crate::sniff) recognises can
    /// ever pass, so this can narrow [`SUPPORTED_CONTENT_TYPES`], not widen it.
    pub allowed: Vec<&'static str>,
}

impl Default for MediaLimits {
    fn default() -> Self {
        Self {
            max_bytes: 20 * MIB,
            max_chunk: MIB as usize,
            allowed: SUPPORTED_CONTENT_TYPES.to_vec(),
        }
    }
}

/// One upload being received: created from the metadata message, fed each chunk in order,
/// and finished when the stream ends.
#[derive(Debug)]
pub struct Upload {
    content_type: &'static str,
    limits: MediaLimits,
    bytes: Vec<u8>,
}

impl Upload {
    /// Starts an upload of `declared_content_type` (case-insensitive, as MIME types are).
    pub fn new(declared_content_type: &str, limits: MediaLimits) -> Result<Self, MediaError> {
        let content_type = canonical(declared_content_type)
            .filter(|t| limits.allowed.contains(t))
            .ok_or_else(|| {
                let reason = if declared_content_type.trim().is_empty() {
                    "required".to_owned()
                } else {
                    format!("unsupported content type {declared_content_type:?}")
                };
                MediaError::invalid(
                    "metadata.content_type",
                    format!("{reason}; expected one of {}", limits.allowed.join(", ")),
                )
            })?;
        Ok(Self {
            content_type,
            limits,
            bytes: Vec::new(),
        })
    }

    /// The declared content type, spelled canonically (e.g. `image/jpeg`).
    pub fn content_type(&self) -> &'static str {
        self.content_type
    }

    /// Bytes received so far.
    pub fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Whether no bytes have arrived yet.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Appends the next chunk. A refused chunk leaves the upload as it was.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), MediaError> {
        if chunk.is_empty() {
            return Err(MediaError::invalid("chunk", "empty chunk"));
        }
        if chunk.len() > self.limits.max_chunk {
            return Err(MediaError::invalid(
                "chunk",
                format!(
                    "chunk of {} bytes exceeds the limit of {} per chunk",
                    chunk.len(),
                    human_size(self.limits.max_chunk as u64)
                ),
            ));
        }
        if self.len() + chunk.len() as u64 > self.limits.max_bytes {
            return Err(MediaError::invalid(
                "chunk",
                format!(
                    "upload exceeds the limit of {} in all",
                    human_size(self.limits.max_bytes)
                ),
            ));
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    /// Ends the upload: there must be bytes, and they must be what was declared.
    pub fn finish(self) -> Result<Bytes, MediaError> {
        check_content(self.content_type, &self.bytes)?;
        Ok(Bytes::from(self.bytes))
    }
}

/// `20 MiB (20971520 bytes)` for whole mebibytes, otherwise `1234 bytes`.
fn human_size(n: u64) -> String {
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB ({n} bytes)", n / MIB)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    const JPEG: [u8; 4] = [0xFF, 0xD8, 0xFF, 0xDB];

    fn field(err: MediaError) -> (String, String) {
        match err {
            MediaError::Invalid { field, reason } => (field, reason),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    fn small() -> MediaLimits {
        MediaLimits {
            max_bytes: 16,
            max_chunk: 8,
            ..MediaLimits::default()
        }
    }

    #[test]
    fn defaults_match_the_proto() {
        let l = MediaLimits::default();
        assert_eq!(l.max_bytes, 20 * 1024 * 1024);
        assert_eq!(l.max_chunk, 1024 * 1024);
        assert_eq!(
            l.allowed,
            ["image/jpeg", "image/png", "image/webp", "video/mp4"]
        );
    }

    #[test]
    fn chunks_add_up() {
        let mut u = Upload::new("image/png", small()).unwrap();
        u.push(&PNG[..3]).unwrap();
        u.push(&PNG[3..]).unwrap();
        u.push(b"IHDR").unwrap();
        assert_eq!(u.len(), 12);
        let bytes = u.finish().unwrap();
        assert_eq!(&bytes[..8], &PNG);
        assert_eq!(&bytes[8..], b"IHDR");
    }

    #[test]
    fn declared_type_is_checked() {
        let (f, r) = field(Upload::new("image/gif", small()).unwrap_err());
        assert_eq!(f, "metadata.content_type");
        assert!(r.contains("image/gif") && r.contains("image/jpeg"), "{r}");
        let (f, r) = field(Upload::new("", small()).unwrap_err());
        assert_eq!(f, "metadata.content_type");
        assert!(r.starts_with("required"), "{r}");
        // Parameters are not part of the types we accept.
        assert!(Upload::new("image/png; q=1", small()).is_err());
        // MIME types are case-insensitive; we keep the canonical spelling.
        assert_eq!(
            Upload::new("Image/PNG", small()).unwrap().content_type(),
            "image/png"
        );
        // A narrower allowed list refuses the rest.
        let photos = MediaLimits {
            allowed: vec!["image/jpeg"],
            ..MediaLimits::default()
        };
        assert!(Upload::new("video/mp4", photos).is_err());
    }

    #[test]
    fn empty_chunk_is_refused() {
        let mut u = Upload::new("image/png", small()).unwrap();
        let (f, r) = field(u.push(b"").unwrap_err());
        assert_eq!((f.as_str(), r.as_str()), ("chunk", "empty chunk"));
    }

    #[test]
    fn chunk_too_big_is_refused() {
        let mut u = Upload::new("image/png", small()).unwrap();
        let (f, r) = field(u.push(&[0; 9]).unwrap_err());
        assert_eq!(f, "chunk");
        assert!(r.contains("8 bytes"), "{r}");
        assert!(u.is_empty());
    }

    #[test]
    fn total_too_big_is_refused_with_the_limit() {
        let mut u = Upload::new("image/png", small()).unwrap();
        u.push(&[0; 8]).unwrap();
        u.push(&[0; 8]).unwrap();
        let (f, r) = field(u.push(&[0]).unwrap_err());
        assert_eq!(f, "chunk");
        assert!(r.contains("limit of 16 bytes"), "{r}");
        assert_eq!(u.len(), 16);

        let mut u = Upload::new("image/png", MediaLimits::default()).unwrap();
        let mib = vec![0u8; 1024 * 1024];
        for _ in 0..20 {
            u.push(&mib).unwrap();
        }
        let (_, r) = field(u.push(&[0]).unwrap_err());
        assert!(r.contains("20 MiB (20971520 bytes)"), "{r}");
    }

    #[test]
    fn no_bytes_is_refused() {
        let u = Upload::new("image/png", small()).unwrap();
        let (f, r) = field(u.finish().unwrap_err());
        assert_eq!((f.as_str(), r.as_str()), ("chunk", "no bytes uploaded"));
    }

    #[test]
    fn bytes_must_be_the_declared_type() {
        let mut u = Upload::new("image/png", small()).unwrap();
        u.push(&JPEG).unwrap();
        let (f, r) = field(u.finish().unwrap_err());
        assert_eq!(f, "metadata.content_type");
        assert_eq!(r, "declared image/png but the bytes are image/jpeg");

        let mut u = Upload::new("video/mp4", small()).unwrap();
        u.push(b"notvideo").unwrap();
        let (f, r) = field(u.finish().unwrap_err());
        assert_eq!(f, "metadata.content_type");
        assert!(r.contains("not a supported image or video"), "{r}");
    }
}
