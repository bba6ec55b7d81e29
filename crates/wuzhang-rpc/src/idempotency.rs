//! `request_id` makes a mutation idempotent (Google AIP-155): a retry with the same id and
//! the same request gets the first answer, never a second effect; the same id with another
//! request is refused. Records are scoped to the caller and the RPC, so two callers'
//! ids never collide.

use prost::Message;
use sha2::{Digest, Sha256};
use std::future::Future;
use wuzhang_domain::access::Principal;
use wuzhang_domain::clock::Clock;
use wuzhang_store::{IdempotencyRecord, Store, StoreError};

use crate::ApiError;

/// The key records are filed under: who asked and which RPC.
pub fn scope(principal: &Principal, rpc: &str) -> String {
    format!("{}:{}/{rpc}", principal.role, principal.subject)
}

/// A digest of the request as sent (its encoding includes the request id).
pub fn request_hash<M: Message>(request: &M) -> Vec<u8> {
    Sha256::digest(request.encode_to_vec()).to_vec()
}

/// Runs `run` once per (caller, RPC, request id): a retry of the same request returns the
/// recorded answer; the same id with a different request is FAILED_PRECONDITION.
///
/// For mutations whose own write is idempotent (imports replace by code): the record is
/// written after the effect, so a crash in between makes the retry run again, which
/// changes nothing. Mutations that must not run twice write the record in their own
/// transaction instead (tickets do).
pub async fn once<Req, Resp, F, Fut>(
    store: &dyn Store,
    clock: &dyn Clock,
    principal: &Principal,
    rpc: &str,
    request_id: &str,
    request: &Req,
    run: F,
) -> Result<Resp, ApiError>
where
    Req: Message,
    Resp: Message + Default,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Resp, ApiError>>,
{
    let scope = scope(principal, rpc);
    let hash = request_hash(request);
    if let Some(first) = store.get_idempotency(&scope, request_id).await? {
        return replay(&first, &hash, request_id);
    }
    let response = run().await?;
    let record = IdempotencyRecord {
        scope,
        request_id: request_id.to_owned(),
        request_hash: hash.clone(),
        response: response.encode_to_vec(),
        created_at: clock.now(),
    };
    match store.put_idempotency(&record).await {
        Ok(()) => Ok(response),
        // A concurrent retry finished first: answer as it did.
        Err(StoreError::AlreadyExists { .. }) => {
            match store.get_idempotency(&record.scope, request_id).await? {
                Some(first) => replay(&first, &hash, request_id),
                None => Ok(response),
            }
        }
        Err(e) => Err(e.into()),
    }
}

fn replay<Resp: Message + Default>(
    first: &IdempotencyRecord,
    hash: &[u8],
    request_id: &str,
) -> Result<Resp, ApiError> {
    if first.request_hash != hash {
        return Err(ApiError::FailedPrecondition(format!(
            "request_id {request_id} was already used for a different request; use a new id"
        )));
    }
    Resp::decode(first.response.as_slice()).map_err(ApiError::internal)
}

/// A request's idempotency key, for mutations that write their record in their own
/// transaction (ticket changes): the caller's scope, the id, the payload's digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub scope: String,
    pub request_id: String,
    pub request_hash: Vec<u8>,
}

impl Key {
    pub fn new<M: Message>(
        principal: &Principal,
        rpc: &str,
        request_id: &str,
        request: &M,
    ) -> Self {
        Self {
            scope: scope(principal, rpc),
            request_id: request_id.to_owned(),
            request_hash: request_hash(request),
        }
    }

    /// The record to write with the effect: this key and the encoded answer.
    pub fn record<Resp: Message>(
        &self,
        answer: &Resp,
        at: time::OffsetDateTime,
    ) -> IdempotencyRecord {
        IdempotencyRecord {
            scope: self.scope.clone(),
            request_id: self.request_id.clone(),
            request_hash: self.request_hash.clone(),
            response: answer.encode_to_vec(),
            created_at: at,
        }
    }
}

/// Runs a mutation that records its answer in its own transaction (see [`Key::record`])
/// once per key: a recorded answer is replayed; another payload under the same id is
/// FAILED_PRECONDITION; losing a race to a concurrent retry (the store's AlreadyExists for
/// the key) replays the winner's answer.
pub async fn once_recorded<Resp, F, Fut>(
    store: &dyn Store,
    key: &Key,
    run: F,
) -> Result<Resp, ApiError>
where
    Resp: Message + Default,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Resp, ApiError>>,
{
    if let Some(first) = store.get_idempotency(&key.scope, &key.request_id).await? {
        return replay(&first, &key.request_hash, &key.request_id);
    }
    match run().await {
        Err(ApiError::AlreadyExists(what)) if what.starts_with("idempotency") => {
            match store.get_idempotency(&key.scope, &key.request_id).await? {
                Some(first) => replay(&first, &key.request_hash, &key.request_id),
                None => Err(ApiError::Aborted(
                    "a concurrent retry is still running; try again".into(),
                )),
            }
        }
        other => other,
    }
}

/// Like [`once_recorded`], for mutations whose write takes the key in the same statement
/// or transaction as the whole effect, so that a taken key means nothing was written:
/// runs first and reads the record only when the run fails. That saves the read on every
/// first attempt, which is nearly every request.
///
/// A retry of an answered request reaches the write, finds the key taken (AlreadyExists
/// for the key) and replays; a retry that fails earlier (the world changed since the
/// first answer: a category retired, an area gone) also replays when a record exists,
/// so a recorded answer always wins, as with [`once_recorded`]. Only for mutations with
/// no effect outside that write: anything the run does before it would happen again on
/// every retry.
pub async fn once_recorded_optimistic<Resp, F, Fut>(
    store: &dyn Store,
    key: &Key,
    run: F,
) -> Result<Resp, ApiError>
where
    Resp: Message + Default,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Resp, ApiError>>,
{
    let err = match run().await {
        Ok(answer) => return Ok(answer),
        Err(e) => e,
    };
    let lost_race =
        matches!(&err, ApiError::AlreadyExists(what) if what.starts_with("idempotency"));
    match store.get_idempotency(&key.scope, &key.request_id).await {
        Ok(Some(first)) => replay(&first, &key.request_hash, &key.request_id),
        Ok(None) if lost_race => Err(ApiError::Aborted(
            "a concurrent retry is still running; try again".into(),
        )),
        // No record: the error is this request's own. A failed read changes nothing
        // about it either.
        Ok(None) | Err(_) => Err(err),
    }
}
