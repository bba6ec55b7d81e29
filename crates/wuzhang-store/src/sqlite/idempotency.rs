//! [`IdempotencyStore`] on SQLite, and [`insert_idempotency`], which ticket writes use to
//! store their record in their own transaction.

use async_trait::async_trait;
use sqlx::SqliteConnection;
use time::OffsetDateTime;

use super::SqliteStore;
use super::rows::{IDEMPOTENCY_INSERT_ONE, bind_idempotency, idempotency};
use crate::codec::{normalize_idempotency, to_micros};
use crate::error::{Result, unique_as};
use crate::interface::IdempotencyStore;
use crate::model::IdempotencyRecord;

pub(super) async fn insert_idempotency(
    conn: &mut SqliteConnection,
    r: &IdempotencyRecord,
) -> Result<()> {
    bind_idempotency(sqlx::query(IDEMPOTENCY_INSERT_ONE.as_str()), r)
        .execute(conn)
        .await
        .map_err(|e| {
            unique_as(
                e,
                IdempotencyRecord::ENTITY,
                format!("{}/{}", r.scope, r.request_id),
            )
        })?;
    Ok(())
}

#[async_trait]
impl IdempotencyStore for SqliteStore {
    #[tracing::instrument(skip_all, level = "debug", fields(%scope, %request_id))]
    async fn get_idempotency(
        &self,
        scope: &str,
        request_id: &str,
    ) -> Result<Option<IdempotencyRecord>> {
        let row = sqlx::query(
            "SELECT scope, request_id, request_hash, response, created_at FROM idempotency \
             WHERE scope = ?1 AND request_id = ?2",
        )
        .bind(scope)
        .bind(request_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(idempotency).transpose()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(scope = %record.scope, request_id = %record.request_id))]
    async fn put_idempotency(&self, record: &IdempotencyRecord) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_idempotency(&mut tx, &normalize_idempotency(record)).await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, level = "debug", fields(%before))]
    async fn purge_idempotency(&self, before: OffsetDateTime) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM idempotency WHERE created_at < ?1")
            .bind(to_micros(before))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
