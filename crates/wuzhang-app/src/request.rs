//! Checks on fields every API shares, so each handler does not write them again.

use wuzhang_store::PageRequest;

use crate::ApiError;

/// Longest client-generated request id.
pub const MAX_REQUEST_ID_LEN: usize = 64;

/// A mutating request's id: required, ASCII printable, bounded. A retry with the same id
/// gets the first answer, so a blank id would make every retry a new request.
pub fn request_id(id: &str) -> Result<&str, ApiError> {
    if id.is_empty() {
        return Err(ApiError::invalid(
            "request_id",
            "is required on every mutating call",
        ));
    }
    if id.len() > MAX_REQUEST_ID_LEN {
        return Err(ApiError::invalid(
            "request_id",
            format!("must be at most {MAX_REQUEST_ID_LEN} characters"),
        ));
    }
    if !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            "request_id",
            "must be printable ASCII without spaces",
        ));
    }
    Ok(id)
}

/// A page size from the wire: negative is refused, the store clamps large ones.
pub fn page_size(size: i32) -> Result<u32, ApiError> {
    u32::try_from(size).map_err(|_| ApiError::invalid("page_size", "must not be negative"))
}

/// A list call's page (AIP-158): 0 means `default`, more than `max` is served as `max`,
/// an empty token is the first page.
pub fn page(size: i32, token: &str, default: u32, max: u32) -> Result<PageRequest, ApiError> {
    let size = match page_size(size)? {
        0 => default,
        n => n.min(max),
    };
    Ok(PageRequest {
        size,
        token: (!token.is_empty()).then(|| token.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_default_clamp_and_refuse_negatives() {
        assert_eq!(page(0, "", 50, 500).unwrap(), PageRequest::first(50));
        assert_eq!(page(501, "", 50, 500).unwrap().size, 500);
        assert_eq!(page(7, "t", 50, 500).unwrap().token.as_deref(), Some("t"));
        assert!(page(-1, "", 50, 500).is_err());
    }

    #[test]
    fn request_ids_are_checked() {
        assert!(request_id("3f1c-01").is_ok());
        assert!(request_id("").is_err());
        assert!(request_id("a b").is_err());
        assert!(request_id(&"x".repeat(65)).is_err());
        assert!(matches!(
            page_size(-1).unwrap_err(),
            ApiError::Invalid(v) if v[0].field == "page_size"
        ));
        assert_eq!(page_size(20).unwrap(), 20);
    }
}
