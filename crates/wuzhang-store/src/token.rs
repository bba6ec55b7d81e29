//! Page tokens: an opaque base64url wrapping of a small JSON keyset cursor (the sort key
//! of the last item given). Keyset paging stays correct while rows are added, and a token
//! names the listing it belongs to, so one listing's token is refused by another.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::codec::{from_micros, to_micros};
use crate::error::{Result, StoreError};
use crate::model::{Page, TicketOrder};
use wuzhang_domain::ticket::Ticket;

/// Where the next page starts: after this key, in the listing's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "k")]
pub(crate) enum PageKey {
    /// Areas by code.
    #[serde(rename = "area")]
    Area { code: String },
    /// Categories by code.
    #[serde(rename = "cat")]
    Category { code: String },
    /// A listing by code that a service pages itself, named by `listing`.
    #[serde(rename = "code")]
    Code { listing: String, code: String },
    /// Tickets newest first: created_at (unix µs) descending, then id descending.
    #[serde(rename = "new")]
    TicketNewest { created: i64, id: Uuid },
    /// Tickets by deadline: due (unix µs, [`NO_DEADLINE_MICROS`] when none) ascending, then
    /// created_at ascending, then id ascending.
    #[serde(rename = "due")]
    TicketDue { due: i64, created: i64, id: Uuid },
}

/// Where tickets without a deadline sort in the deadline order: after every real one
/// (9999-12-31T23:59:59.999999Z, the last instant both stores can hold).
pub(crate) const NO_DEADLINE_MICROS: i64 = 253_402_300_799_999_999;

impl PageKey {
    pub(crate) fn encode(&self) -> String {
        // Serialising these plain structs cannot fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// The key in `token`, if any; a token that does not decode, or belongs to another
    /// listing (`same_listing` says no), is `Invalid { field: "page_token" }`.
    pub(crate) fn decode(
        token: Option<&str>,
        same_listing: impl Fn(&PageKey) -> bool,
    ) -> Result<Option<PageKey>> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        let invalid = || StoreError::invalid("page_token", "not a token of this listing");
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
        let key: PageKey = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        if !same_listing(&key) {
            return Err(invalid());
        }
        // Instants outside what both stores hold would fail later, less clearly.
        let instants: &[i64] = match &key {
            PageKey::TicketNewest { created, .. } => &[*created],
            PageKey::TicketDue { due, created, .. } => &[*due, *created],
            _ => &[],
        };
        if instants
            .iter()
            .any(|m| from_micros("page_token", *m).is_err())
        {
            return Err(invalid());
        }
        Ok(Some(key))
    }
}

/// The token of the page after `code` of a listing ordered by code that a service pages
/// itself (in memory), named `listing` so that another listing's token is refused: the same
/// opaque form as the store's own tokens.
pub fn code_page_token(listing: &str, code: &str) -> String {
    PageKey::Code {
        listing: listing.to_owned(),
        code: code.to_owned(),
    }
    .encode()
}

/// The code a page of `listing` starts after, from its token (`None`: the first page); a
/// token that does not decode or is another listing's is `Invalid { field: "page_token" }`.
pub fn code_page_after(listing: &str, token: Option<&str>) -> Result<Option<String>> {
    let key = PageKey::decode(
        token,
        |k| matches!(k, PageKey::Code { listing: l, .. } if l == listing),
    )?;
    Ok(match key {
        Some(PageKey::Code { code, .. }) => Some(code),
        _ => None,
    })
}

/// Cuts a listing fetched with one row too many into a page: the extra row only says that
/// there is more, and the last row kept gives the key the next page starts after.
pub(crate) fn into_page<T>(mut items: Vec<T>, size: u32, key: impl Fn(&T) -> PageKey) -> Page<T> {
    let size = size as usize;
    let next_token = if items.len() > size {
        items.truncate(size);
        items.last().map(|last| key(last).encode())
    } else {
        None
    };
    Page { items, next_token }
}

/// The keyset position of a ticket in `order`, for the next page token.
pub(crate) fn ticket_key(order: TicketOrder, t: &Ticket) -> PageKey {
    let created = to_micros(t.created_at);
    match order {
        TicketOrder::NewestFirst => PageKey::TicketNewest {
            created,
            id: t.id.as_uuid(),
        },
        TicketOrder::DueSoonest => PageKey::TicketDue {
            due: t.next_deadline().map_or(NO_DEADLINE_MICROS, to_micros),
            created,
            id: t.id.as_uuid(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_are_checked() {
        let key = PageKey::TicketDue {
            due: NO_DEADLINE_MICROS,
            created: -5,
            id: Uuid::nil(),
        };
        let token = key.encode();
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let back = PageKey::decode(Some(&token), |k| matches!(k, PageKey::TicketDue { .. }));
        assert_eq!(back.unwrap(), Some(key));
        assert!(PageKey::decode(Some(&token), |k| matches!(k, PageKey::Area { .. })).is_err());
        assert!(PageKey::decode(Some("!!"), |_| true).is_err());
        assert!(PageKey::decode(Some("e30"), |_| true).is_err()); // "{}"
        assert_eq!(PageKey::decode(None, |_| false).unwrap(), None);
        assert_eq!(PageKey::decode(Some(""), |_| false).unwrap(), None);
    }
}
