//! [`OrganizationStore`] on SQLite (migration 0018).

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use wuzhang_domain::organization::Organization;

use super::SqliteStore;
use crate::codec::OrganizationColumns;
use crate::error::Result;
use crate::interface::OrganizationStore;

fn organization(row: &SqliteRow) -> Result<Organization> {
    OrganizationColumns {
        code: row.try_get("code")?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        org_type: row.try_get("org_type")?,
        red_heart: row.try_get("red_heart")?,
        areas: row.try_get("areas")?,
        staff: row.try_get("staff")?,
        calendar_code: row.try_get("calendar_code")?,
    }
    .into_organization()
}

#[async_trait]
impl OrganizationStore for SqliteStore {
    #[tracing::instrument(skip_all, fields(organizations = organizations.len()))]
    async fn upsert_organizations(&self, organizations: &[Organization]) -> Result<()> {
        let rows = organizations
            .iter()
            .map(OrganizationColumns::new)
            .collect::<Result<Vec<_>>>()?;
        let mut tx = self.begin_write().await?;
        for o in rows {
            sqlx::query(
                "INSERT INTO organizations (code, name, kind, org_type, red_heart, areas, staff, \
                   calendar_code) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                 ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, \
                   org_type = EXCLUDED.org_type, red_heart = EXCLUDED.red_heart, \
                   areas = EXCLUDED.areas, staff = EXCLUDED.staff, \
                   calendar_code = EXCLUDED.calendar_code",
            )
            .bind(o.code)
            .bind(o.name)
            .bind(o.kind)
            .bind(o.org_type)
            .bind(o.red_heart)
            .bind(o.areas)
            .bind(o.staff)
            .bind(o.calendar_code)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE reference_changes SET roster = roster + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.reference_writes.fetch_add(1, Ordering::Release);
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn organizations(&self) -> Result<Vec<Organization>> {
        let rows = sqlx::query(
            "SELECT code, name, kind, org_type, red_heart, areas, staff, calendar_code \
             FROM organizations ORDER BY code",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(organization).collect()
    }
}
