//! [`IdempotencyStore`] on PostgreSQL, and [`insert_idempotency`], which ticket writes use
//! to store their record in their own transaction.

use async_trait::async_trait;
use sqlx::PgConnection;
use time::OffsetDateTime;
use wuzhang_domain::clock::truncate_to_micros;

use super::PostgresStore;
use super::rows::idempotency;
use crate::codec::normalize_idempotency;
use crate::error::{Result, unique_as};
use crate::interface::IdempotencyStore;
use crate::model::IdempotencyRecord;

pub(super) async fn insert_idempotency(
    conn: &mut PgConnection,
    r: &IdempotencyRecord,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO idempotency (scope, request_id, request_hash, response, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&r.scope)
    .bind(&r.request_id)
    .bind(&r.request_hash)
    .bind(&r.response)
    .bind(truncate_to_micros(r.created_at))
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
impl IdempotencyStore for PostgresStore {
    #[tracing::instrument(skip_all, level = "debug", fields(%scope, %request_id))]
    async fn get_idempotency(
        &self,
        scope: &str,
        request_id: &str,
    ) -> Result<Option<IdempotencyRecord>> {
        let row = sqlx::query(
            "SELECT scope, request_id, request_hash, response, created_at FROM idempotency \
             WHERE scope = $1 AND request_id = $2",
        )
        .bind(scope)
        .bind(request_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(idempotency).transpose()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(scope = %record.scope, request_id = %record.request_id))]
    async fn put_idempotency(&self, record: &IdempotencyRecord) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        insert_idempotency(&mut conn, &normalize_idempotency(record)).await
    }

    #[tracing::instrument(skip_all, level = "debug", fields(%before))]
    async fn purge_idempotency(&self, before: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM idempotency WHERE created_at < $1")
            .bind(truncate_to_micros(before))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
