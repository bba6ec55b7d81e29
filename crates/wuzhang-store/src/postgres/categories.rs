//! [`CategoryStore`] on PostgreSQL: categories (a change bumps the categories counter in
//! the same transaction) and calendar years.

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use sqlx::Postgres;
use wuzhang_domain::category::{Category, CategoryCode};

use super::PostgresStore;
use super::rows::category;
use crate::codec::{CategoryColumns, from_micros, to_micros};
use crate::error::{Result, StoreError};
use crate::interface::CategoryStore;
use crate::model::{Page, PageRequest, StoredCalendarYear};
use crate::query::Dialect;
use crate::token::{PageKey, into_page};

const CATEGORY_COLUMNS: &str = "code, name, parent_code, kind, start_level, accept_within_s, \
     resolve_within_s, deadline_kind, urgent, calendar_code, duplicate_radius_m, \
     duplicate_window_s, active";

#[async_trait]
impl CategoryStore for PostgresStore {
    #[tracing::instrument(skip_all, level = "debug", fields(code = %category.code))]
    async fn upsert_category(&self, category: &Category) -> Result<()> {
        let c = CategoryColumns::new(category)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO categories (code, name, parent_code, kind, start_level, accept_within_s, \
                 resolve_within_s, deadline_kind, urgent, calendar_code, duplicate_radius_m, \
                 duplicate_window_s, active) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, \
                 parent_code = EXCLUDED.parent_code, kind = EXCLUDED.kind, \
                 start_level = EXCLUDED.start_level, accept_within_s = EXCLUDED.accept_within_s, \
                 resolve_within_s = EXCLUDED.resolve_within_s, \
                 deadline_kind = EXCLUDED.deadline_kind, urgent = EXCLUDED.urgent, \
                 calendar_code = EXCLUDED.calendar_code, \
                 duplicate_radius_m = EXCLUDED.duplicate_radius_m, \
                 duplicate_window_s = EXCLUDED.duplicate_window_s, active = EXCLUDED.active",
        )
        .bind(c.code)
        .bind(c.name)
        .bind(c.parent_code)
        .bind(c.kind)
        .bind(c.start_level)
        .bind(c.accept_within_s)
        .bind(c.resolve_within_s)
        .bind(c.deadline_kind)
        .bind(c.urgent)
        .bind(c.calendar_code)
        .bind(c.duplicate_radius_m)
        .bind(c.duplicate_window_s)
        .bind(c.active)
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
             duplicate_window_s, active FROM categories WHERE code = $1",
        )
        .bind(code.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::not_found("category", code))?;
        category(&row)
    }

    #[tracing::instrument(skip_all, level = "debug")]
    async fn list_categories(&self, page: &PageRequest) -> Result<Page<Category>> {
        let (mut qb, size) = Postgres::list_categories(CATEGORY_COLUMNS, page)?;
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
        rows.into_iter()
            .map(|(code, year, document, at)| {
                Ok(StoredCalendarYear {
                    code,
                    year,
                    document,
                    updated_at: from_micros("updated_at", at)?,
                })
            })
            .collect()
    }
}
