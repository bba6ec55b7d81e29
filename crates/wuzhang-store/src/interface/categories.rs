//! [`CategoryStore`]: incident categories and the working-day calendars their deadlines
//! are counted in.

use async_trait::async_trait;
use wuzhang_domain::category::{Category, CategoryCode};

use crate::error::Result;
use crate::model::{Page, PageRequest, StoredCalendarYear};

/// Categories and calendars.
#[async_trait]
pub trait CategoryStore: Send + Sync {
    /// Inserts or replaces a category by code. Invalid if [`Category::validate`] refuses it
    /// or a duration has a fraction of a second (they are stored as whole seconds).
    async fn upsert_category(&self, category: &Category) -> Result<()>;

    /// NotFound if absent.
    async fn get_category(&self, code: &CategoryCode) -> Result<Category>;

    /// All categories ordered by code, paged.
    async fn list_categories(&self, page: &PageRequest) -> Result<Page<Category>>;

    // ---------------------------------------------------------------- calendars

    /// Inserts or replaces one year of a calendar by (code, year).
    async fn upsert_calendar_year(&self, year: &StoredCalendarYear) -> Result<()>;

    /// Every stored calendar year, ordered by code and year.
    async fn list_calendar_years(&self) -> Result<Vec<StoredCalendarYear>>;
}
