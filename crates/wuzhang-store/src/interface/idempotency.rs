//! [`IdempotencyStore`]: the records that let a retried request get its first answer
//! instead of doing its work twice.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::Result;
use crate::model::IdempotencyRecord;

/// Idempotency records, by (scope, request_id).
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// The record for (scope, request_id), if any.
    async fn get_idempotency(
        &self,
        scope: &str,
        request_id: &str,
    ) -> Result<Option<IdempotencyRecord>>;

    /// Stores a record on its own (for mutations that write no ticket). AlreadyExists if the
    /// key is taken.
    async fn put_idempotency(&self, record: &IdempotencyRecord) -> Result<()>;

    /// Deletes records created strictly before `before`; returns how many.
    async fn purge_idempotency(&self, before: OffsetDateTime) -> Result<u64>;
}
