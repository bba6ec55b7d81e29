//! [`CategoryStore`] on PostgreSQL: categories (a change bumps the categories counter in
//! the same transaction) and calendar years.

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use sqlx::Postgres;
use wuzhang_domain::category::{Category, CategoryCode};

use super::PostgresStore;
use super::rows::category;
use crate::codec;
use crate::codec::{CategoryColumns, to_micros};
use crate::error::{Result, StoreError};
use crate::interface::CategoryStore;
use crate::model::{Page, PageRequest, StoredCalendarYear};
use crate::query::Dialect;
use crate::token::{PageKey, into_page};

#[async_trait]
impl CategoryStore for PostgresStore {
    #[tracing::instrument(skip_all, level = "debug", fields(code = %category.code))]
    async fn upsert_category(&self, category: &Category) -> Result<()> {
        let c = CategoryColumns::new(category)?;
        let mut tx = self.pool.begin().await?;
        Postgres::upsert_category(c)
            .build()
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE reference_changes SET categories = categories + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.reference_writes.fetch_add(1, Ordering::Release);
        Ok(())
    }

    #[tracing::instrument(skip_all, level = "debug", fields(code = %code))]
    async fn get_category(&self, code: &CategoryCode) -> Result<Category> {
        let row = sqlx::query(
            "SELECT code, name, parent_code, kind, start_level, accept_within_s, \
             resolve_within_s, deadline_kind, urgent, calendar_code, duplicate_radius_m, \
             duplicate_window_s, active, reopen_on_not_solved, organization_type FROM categories WHERE code = $1",
        )
        .bind(code.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::not_found("category", code))?;
        category(&row)
    }

    #[tracing::instrument(skip_all, level = "debug")]
    async fn list_categories(&self, page: &PageRequest) -> Result<Page<Category>> {
        let (mut qb, size) = Postgres::list_categories(page)?;
        let rows = qb.build().fetch_all(&self.pool).await?;
        let items = rows.iter().map(category).collect::<Result<Vec<_>>>()?;
        Ok(into_page(items, size, |c| PageKey::Category {
            code: c.code.as_str().to_owned(),
        }))
    }

    #[tracing::instrument(skip_all, level = "debug", fields(code = %year.code, year = year.year))]
    async fn upsert_calendar_year(&self, year: &StoredCalendarYear) -> Result<()> {
        sqlx::query(
            "INSERT INTO calendar_years (code, year, document, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (code, year) DO UPDATE \
             SET document = excluded.document, updated_at = excluded.updated_at",
        )
        .bind(&year.code)
        .bind(year.year)
        .bind(&year.document)
        .bind(to_micros(year.updated_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, level = "debug")]
    async fn list_calendar_years(&self) -> Result<Vec<StoredCalendarYear>> {
        let rows: Vec<(String, i32, String, i64)> = sqlx::query_as(
            "SELECT code, year, document, updated_at FROM calendar_years ORDER BY code, year",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(codec::calendar_year).collect()
    }
}
