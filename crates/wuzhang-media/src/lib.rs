//! Residents' photos and videos: what an upload may hold, and where the bytes live.
//!
//! An upload arrives in chunks ([`Upload`] checks each against [`MediaLimits`]); when it
//! ends, the bytes must be what the client declared ([`sniff`] reads the magic numbers,
//! never the file name). A [`MediaStore`] keeps the bytes content-addressed: the key is
//! `<sha256>.<ext>`, so the same bytes always get the same key and are stored once, and a
//! key names its bytes forever, which lets [`router`] serve them as immutable.
//!
//! Layout:
//! - `sniff`: the content types we accept and how bytes are recognised as one of them.
//! - `upload`: [`MediaLimits`] and the [`Upload`] accumulator.
//! - `error`: [`MediaError`], classified by what the caller can do about it.
//! - `key`: [`StoredMedia`] and the key format (`<sha256>.<ext>`, checked strictly).
//! - `store`: the [`MediaStore`] trait and [`open`], which picks a backend from a location.
//! - `fs`: [`FsMediaStore`], files in a local directory.
//! - `object`: [`ObjectMediaStore`], any `object_store` backend (S3, memory, local).
//! - `http`: [`router`], `GET /media/{key}`.

mod error;
mod fs;
mod http;
mod key;
mod object;
mod sniff;
mod store;
mod upload;

pub use error::MediaError;
pub use fs::FsMediaStore;
pub use http::{MEDIA_PATH_PREFIX, router};
pub use key::StoredMedia;
pub use object::ObjectMediaStore;
pub use sniff::{SUPPORTED_CONTENT_TYPES, sniff};
pub use store::{MediaStore, open};
pub use upload::{MediaLimits, Upload};
