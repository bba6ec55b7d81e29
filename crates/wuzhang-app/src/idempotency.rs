//! `request_id` makes a mutation idempotent (Google AIP-155): a retry with the same id and
//! the same request gets the first answer, never a second effect; the same id with another
//! request is refused. Records are scoped to the caller and the RPC, so two callers'
//! ids never collide.

use prost::Message;
use sha2::{Digest, Sha256};
use std::future::Future;
use wuzhang_domain::access::Principal;
use wuzhang_domain::clock::Clock;
use wuzhang_store::{IdempotencyRecord, Store};

use crate::ApiError;

/// The key records are filed under: who asked and which RPC.
pub fn scope(principal: &Principal, rpc: &str) -> String {
    format!("{}:{}/{rpc}", principal.role, principal.subject)
}

/// A digest of the request as sent (its encoding includes the request id).
pub fn request_hash<M: Message>(request: &M) -> Vec<u8> {
    Sha256::digest(request.encode_to_vec()).to_vec()
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

/// When a mutation's answer is recorded under its key, which decides when [`once`] reads
/// the record.
#[derive(Clone, Copy)]
pub enum Recording<'c> {
    /// [`once`] writes the record after the effect, stamped by the clock. For mutations
    /// whose own write is idempotent (imports replace by code): a crash in between makes
    /// the retry run again, which changes nothing. The record is read first.
    AfterTheEffect(&'c dyn Clock),
    /// The mutation writes the record itself, in the transaction of its effect
    /// ([`Key::record`]), so a taken key means nothing was written. The record is read
    /// first.
    WithTheEffect,
    /// As `WithTheEffect`, but the run comes first and the record is read only when it
    /// fails: that saves the read on every first attempt, which is nearly every request.
    /// A retry of an answered request reaches the write, finds the key taken and
    /// replays; a retry that fails earlier (the world changed since the first answer: a
    /// category retired, an area gone) also replays when a record exists, so a recorded
    /// answer always wins. Only for mutations with no effect outside that write: anything
    /// the run does before it would happen again on every retry.
    WithTheEffectOptimistic,
}

impl std::fmt::Debug for Recording<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Recording::AfterTheEffect(_) => "AfterTheEffect",
            Recording::WithTheEffect => "WithTheEffect",
            Recording::WithTheEffectOptimistic => "WithTheEffectOptimistic",
        })
    }
}

/// Runs a mutation once per key (caller, RPC, request id): a retry of the same request
/// gets the recorded answer; the same id with another payload is FAILED_PRECONDITION;
/// losing the race to a concurrent retry (the store refusing the taken key) replays the
/// winner's answer, or is ABORTED while the winner has not answered yet.
pub async fn once<Resp, F, Fut>(
    store: &dyn Store,
    key: &Key,
    recording: Recording<'_>,
    run: F,
) -> Result<Resp, ApiError>
where
    Resp: Message + Default,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Resp, ApiError>>,
{
    let recorded = || store.get_idempotency(&key.scope, &key.request_id);
    let replay_first =
        |first: &IdempotencyRecord| replay(first, &key.request_hash, &key.request_id);
    let still_running =
        || ApiError::Aborted("a concurrent retry is still running; try again".into());
    match recording {
        Recording::AfterTheEffect(clock) => {
            if let Some(first) = recorded().await? {
                return replay_first(&first);
            }
            let answer = run().await?;
            match store
                .put_idempotency(&key.record(&answer, clock.now()))
                .await
            {
                Ok(()) => Ok(answer),
                // A concurrent retry finished first: answer as it did.
                Err(e) if e.is_taken_request_id() => match recorded().await? {
                    Some(first) => replay_first(&first),
                    None => Ok(answer),
                },
                Err(e) => Err(e.into()),
            }
        }
        Recording::WithTheEffect => {
            if let Some(first) = recorded().await? {
                return replay_first(&first);
            }
            match run().await {
                Err(e) if e.is_taken_request_id() => match recorded().await? {
                    Some(first) => replay_first(&first),
                    None => Err(still_running()),
                },
                other => other,
            }
        }
        Recording::WithTheEffectOptimistic => {
            let err = match run().await {
                Ok(answer) => return Ok(answer),
                Err(e) => e,
            };
            match recorded().await {
                Ok(Some(first)) => replay_first(&first),
                Ok(None) if err.is_taken_request_id() => Err(still_running()),
                // No record: the error is this request's own. A failed read changes
                // nothing about it either.
                Ok(None) | Err(_) => Err(err),
            }
        }
    }
}
