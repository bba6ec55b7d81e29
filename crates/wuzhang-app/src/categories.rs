//! Category listings with the filters every API offers (parent, active only), shared by
//! intake's report form, Open311's services and the admin API. A city has tens to hundreds
//! of categories, so they are filtered in memory after one read.

use wuzhang_domain::category::{Category, CategoryCode};
use wuzhang_store::{PageRequest, Store};

use crate::ApiError;

/// Token prefix, so a token from another listing is recognisably not ours.
const TOKEN_PREFIX: &str = "cat:";

/// Every category, ordered by code.
pub async fn all(store: &dyn Store) -> Result<Vec<Category>, ApiError> {
    let mut out = Vec::new();
    let mut page = PageRequest::first(wuzhang_store::MAX_PAGE_SIZE);
    loop {
        let p = store.list_categories(&page).await?;
        out.extend(p.items);
        match p.next_token {
            Some(t) => page.token = Some(t),
            None => return Ok(out),
        }
    }
}

/// One page of categories (active ones unless `include_inactive`, children of `parent` if
/// given), ordered by code; the next page's token; how many match in all.
pub async fn list(
    store: &dyn Store,
    include_inactive: bool,
    parent: Option<&CategoryCode>,
    page: &PageRequest,
) -> Result<(Vec<Category>, Option<String>, u64), ApiError> {
    let after = match page.token.as_deref() {
        None => None,
        Some(t) => Some(
            t.strip_prefix(TOKEN_PREFIX)
                .filter(|c| !c.is_empty())
                .ok_or_else(|| ApiError::invalid("page_token", "is not a token of this listing"))?
                .to_owned(),
        ),
    };
    let matching: Vec<Category> = all(store)
        .await?
        .into_iter()
        .filter(|c| include_inactive || c.active)
        .filter(|c| parent.is_none() || c.parent_code.as_ref() == parent)
        .collect();
    let total = matching.len() as u64;
    let size = page.size.max(1) as usize;
    let mut items: Vec<Category> = matching
        .into_iter()
        .filter(|c| after.as_deref().is_none_or(|a| c.code.as_str() > a))
        .take(size + 1)
        .collect();
    let next = if items.len() > size {
        items.truncate(size);
        items.last().map(|c| format!("{TOKEN_PREFIX}{}", c.code))
    } else {
        None
    };
    Ok((items, next, total))
}
