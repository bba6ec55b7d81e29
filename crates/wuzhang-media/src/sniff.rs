/// The content types a resident may upload, as the proto lists them.
pub const SUPPORTED_CONTENT_TYPES: [&str; 4] = [JPEG, PNG, WEBP, MP4];

pub(crate) const JPEG: &str = "image/jpeg";
pub(crate) const PNG: &str = "image/png";
pub(crate) const WEBP: &str = "image/webp";
pub(crate) const MP4: &str = "video/mp4";

/// The file extension a stored object of `content_type` gets, if we accept that type.
pub(crate) fn extension(content_type: &str) -> Option<&'static str> {
    match content_type {
        JPEG => Some("jpg"),
        PNG => Some("png"),
        WEBP => Some("webp"),
        MP4 => Some("mp4"),
        _ => None,
    }
}

/// The content type of a stored object with extension `ext`.
pub(crate) fn content_type_for_extension(ext: &str) -> Option<&'static str> {
    SUPPORTED_CONTENT_TYPES
        .into_iter()
        .find(|t| extension(t) == Some(ext))
}

/// The canonical spelling of a declared content type we accept (MIME types are
/// case-insensitive), or `None`.
pub(crate) fn canonical(declared: &str) -> Option<&'static str> {
    let declared = declared.trim();
    SUPPORTED_CONTENT_TYPES
        .into_iter()
        .find(|t| t.eq_ignore_ascii_case(declared))
}

/// ISO-BMFF brands that mean an MP4-family video (QuickTime and 3GP included: phones
/// record them and browsers play them as MP4).
const VIDEO_BRANDS: [&[u8; 4]; 14] = [
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ",
    b"dash", b"3gp4", b"3gp5", b"qt  ",
];

/// Major brands of ISO-BMFF files that are not videos: still images (HEIF/HEIC, AVIF) and
/// audio (M4A and kin). iPhones send HEIC in the same box structure as MP4, and such a file
/// must not pass as a video even when its compatible brands list one of [`VIDEO_BRANDS`].
const NOT_VIDEO_BRANDS: [&[u8; 4]; 14] = [
    b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis",
    b"M4A ", b"M4B ", b"M4P ", b"F4A ",
];

/// What the bytes are, read from their first bytes (the magic numbers), never from a name
/// or a declared type. `None` for anything we do not accept.
///
/// `prefix` may be the whole file or its start; 64 bytes are enough for every type here.
pub fn sniff(prefix: &[u8]) -> Option<&'static str> {
    if prefix.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(JPEG);
    }
    if prefix.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        return Some(PNG);
    }
    if prefix.len() >= 12 && &prefix[0..4] == b"RIFF" && &prefix[8..12] == b"WEBP" {
        return Some(WEBP);
    }
    if is_mp4(prefix) {
        return Some(MP4);
    }
    None
}

/// An ISO-BMFF file opens with an `ftyp` box: a 32-bit big-endian size, `ftyp`, the major
/// brand, a minor version, then compatible brands up to the box's end. It is a video we
/// accept when the major brand is not an image or audio brand and the major brand or any
/// compatible brand is a video brand.
fn is_mp4(prefix: &[u8]) -> bool {
    if prefix.len() < 12 || &prefix[4..8] != b"ftyp" {
        return false;
    }
    let major = &prefix[8..12];
    if NOT_VIDEO_BRANDS.iter().any(|b| b.as_slice() == major) {
        return false;
    }
    let is_video = |brand: &[u8]| VIDEO_BRANDS.iter().any(|b| b.as_slice() == brand);
    if is_video(major) {
        return true;
    }
    let size = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
    // Compatible brands start after the minor version; a size below 16 has none (and 0 or 1
    // would mean "to end of file" or a 64-bit size, which no real ftyp uses).
    if size < 16 {
        return false;
    }
    let end = size.min(prefix.len());
    prefix
        .get(16..end)
        .unwrap_or_default()
        .chunks_exact(4)
        .any(is_video)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
        let size = 16 + 4 * compatible.len();
        let mut b = (size as u32).to_be_bytes().to_vec();
        b.extend_from_slice(b"ftyp");
        b.extend_from_slice(major);
        b.extend_from_slice(&[0, 0, 2, 0]);
        for c in compatible {
            b.extend_from_slice(*c);
        }
        b.extend_from_slice(&[0, 0, 0, 8, b'f', b'r', b'e', b'e']);
        b
    }

    #[test]
    fn jpeg() {
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F']),
            Some(JPEG)
        );
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF]), Some(JPEG));
        assert_eq!(sniff(&[0xFF, 0xD8]), None);
    }

    #[test]
    fn png() {
        let header = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];
        assert_eq!(sniff(&header), Some(PNG));
        // A PNG whose line endings were mangled by a text transfer is not a PNG.
        assert_eq!(sniff(&[0x89, b'P', b'N', b'G', 0x0A, 0x1A, 0x0A, 0]), None);
    }

    #[test]
    fn webp() {
        let mut b = b"RIFF".to_vec();
        b.extend_from_slice(&1234u32.to_le_bytes());
        b.extend_from_slice(b"WEBPVP8 ");
        assert_eq!(sniff(&b), Some(WEBP));
        // Other RIFF files (WAV, AVI) are not WebP.
        let mut wav = b"RIFF".to_vec();
        wav.extend_from_slice(&1234u32.to_le_bytes());
        wav.extend_from_slice(b"WAVEfmt ");
        assert_eq!(sniff(&wav), None);
        assert_eq!(sniff(b"RIFF\0\0\0\0WEB"), None);
    }

    #[test]
    fn mp4_by_major_brand() {
        for brand in VIDEO_BRANDS {
            assert_eq!(sniff(&ftyp(brand, &[])), Some(MP4), "{brand:?}");
        }
        // The smallest ftyp we can read: size, type, major brand.
        assert_eq!(sniff(b"\0\0\0\x14ftypisom"), Some(MP4));
    }

    #[test]
    fn mp4_by_compatible_brand() {
        assert_eq!(
            sniff(&ftyp(b"XAVC", &[b"XAVC", b"mp42", b"iso2"])),
            Some(MP4)
        );
        assert_eq!(sniff(&ftyp(b"MSNV", &[b"MSNV", b"isom"])), Some(MP4));
        assert_eq!(sniff(&ftyp(b"abcd", &[b"efgh"])), None);
    }

    #[test]
    fn compatible_brands_stop_at_the_box_end() {
        let mut b = ftyp(b"abcd", &[]);
        // The next box's type is not a compatible brand.
        b.extend_from_slice(b"\0\0\0\x08isom");
        assert_eq!(sniff(&b), None);
    }

    #[test]
    fn heic_avif_and_audio_are_not_video() {
        assert_eq!(sniff(&ftyp(b"heic", &[b"mif1", b"heic", b"iso8"])), None);
        assert_eq!(sniff(&ftyp(b"mif1", &[b"heic", b"isom"])), None);
        assert_eq!(
            sniff(&ftyp(b"avif", &[b"avif", b"mif1", b"miaf", b"mp41"])),
            None
        );
        assert_eq!(sniff(&ftyp(b"M4A ", &[b"M4A ", b"mp42", b"isom"])), None);
    }

    #[test]
    fn other_bytes_are_nothing() {
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(b"GIF89a\x01\0\x01\0"), None);
        assert_eq!(sniff(b"%PDF-1.7\n"), None);
        assert_eq!(sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"), None);
        assert_eq!(sniff(b"PK\x03\x04\x14\0\0\0"), None);
        assert_eq!(sniff(b"\0\0\0\x18ftyp"), None);
        assert_eq!(sniff(b"hello, world: not a photo at all"), None);
    }
}
