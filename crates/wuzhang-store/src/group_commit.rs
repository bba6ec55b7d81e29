//! Group commit for new tickets, shared by both backends: concurrent `create_ticket` calls
//! are queued, and writer tasks each take what has queued up and write it in one
//! transaction, so one durable commit (a WAL flush) serves many submissions.
//!
//! Nothing waits on purpose: a lone submission is written at once, alone, and batches form
//! only while earlier transactions are committing, so latency stays that of one commit and
//! throughput grows with concurrency. How a batch is written is the backend's: it must
//! answer every job on its own (one bad ticket may not fail its neighbours).
//!
//! A submission that finds nothing queued and a writer slot free writes itself, on its
//! own task, instead of handing the job to a writer task and waiting to be woken with the
//! answer: each hand-off is a wake-up of a task that is often parked on another thread,
//! which is most of what a lone submission costs beside its round trip. Writer tasks take
//! whatever queues up while every slot is busy; slots are handed to waiting writers first
//! (the semaphore is fair), so queued jobs are not overtaken for long.

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::{Mutex, Semaphore, mpsc, oneshot};
use wuzhang_domain::ticket::Ticket;

use std::collections::HashSet;

use crate::error::{Result, StoreError};
use crate::model::{IdempotencyRecord, NewTicket};

/// A ticket already normalised and validated, and where its answer goes.
pub(crate) struct Job {
    pub(crate) new: NewTicket,
    pub(crate) reply: oneshot::Sender<Result<Ticket>>,
}

/// Writes a batch and answers each of its jobs.
pub(crate) type WriteBatch = Arc<dyn Fn(Vec<Job>) -> BoxFuture<'static, ()> + Send + Sync>;

/// The queue in front of the writers. Dropping the last clone of the store drops the
/// sender, and the writers finish what is queued and stop.
#[derive(Clone)]
pub(crate) struct GroupCommit {
    queue: mpsc::Sender<Job>,
    /// One permit per transaction that may be in flight, whoever writes it.
    slots: Arc<Semaphore>,
    write: WriteBatch,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field(
                "queued",
                &(self.queue.max_capacity() - self.queue.capacity()),
            )
            .field("free_slots", &self.slots.available_permits())
            .finish()
    }
}

impl GroupCommit {
    /// Starts `writers` tasks on the current tokio runtime, each writing at most
    /// `max_batch` tickets at a time with `write`.
    pub(crate) fn start(writers: usize, max_batch: usize, write: WriteBatch) -> Self {
        let writers = writers.max(1);
        let (queue, rx) = mpsc::channel(4 * max_batch);
        let rx = Arc::new(Mutex::new(rx));
        let slots = Arc::new(Semaphore::new(writers));
        for _ in 0..writers {
            tokio::spawn(writer(
                Arc::clone(&rx),
                Arc::clone(&slots),
                max_batch,
                Arc::clone(&write),
            ));
        }
        Self {
            queue,
            slots,
            write,
        }
    }

    /// Writes `new` (normalised and validated by the caller), possibly with others.
    pub(crate) async fn create(&self, new: NewTicket) -> Result<Ticket> {
        let (reply, answer) = oneshot::channel();
        let job = Job { new, reply };
        let nothing_queued = self.queue.capacity() == self.queue.max_capacity();
        let slot = if nothing_queued {
            Arc::clone(&self.slots).try_acquire_owned().ok()
        } else {
            None
        };
        match slot {
            // Write it here. If this future is dropped half-way (the caller went away),
            // the statement was either never sent or is the database's to finish, as
            // with a queued job whose caller left; the retry finds out by its key.
            Some(_slot) => (self.write)(vec![job]).await,
            None => self
                .queue
                .send(job)
                .await
                .map_err(|_| StoreError::internal("the ticket writers have stopped"))?,
        }
        answer
            .await
            .map_err(|_| StoreError::internal("a ticket writer stopped before answering"))?
    }
}

async fn writer(
    rx: Arc<Mutex<mpsc::Receiver<Job>>>,
    slots: Arc<Semaphore>,
    max_batch: usize,
    write: WriteBatch,
) {
    loop {
        let (batch, _slot) = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            // Take the rest only once a slot is ours: what queues up meanwhile joins.
            let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                return;
            };
            let mut batch = vec![first];
            while batch.len() < max_batch {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            (batch, slot)
        };
        write(batch).await;
    }
}

/// Each job's outcome before the store is asked: refused if its ticket id or idempotency
/// key repeats one of an earlier job of the batch (only the first may go in), else Ok.
pub(crate) fn refuse_repeats(batch: &[&NewTicket]) -> Vec<Result<()>> {
    let mut ids = HashSet::new();
    let mut keys = HashSet::new();
    batch
        .iter()
        .map(|new| {
            if !ids.insert(new.ticket.id) {
                Err(StoreError::already_exists("ticket", new.ticket.id))
            } else if let Some(r) = &new.idempotency
                && !keys.insert((r.scope.as_str(), r.request_id.as_str()))
            {
                Err(idempotency_taken(r))
            } else {
                Ok(())
            }
        })
        .collect()
}

/// The new tickets of the jobs whose outcome is still Ok, in batch order: what the store
/// writes.
pub(crate) fn accepted<'a>(batch: &[&'a NewTicket], outcomes: &[Result<()>]) -> Vec<&'a NewTicket> {
    batch
        .iter()
        .zip(outcomes)
        .filter(|(_, o)| o.is_ok())
        .map(|(new, _)| *new)
        .collect()
}

/// The answer to a job whose idempotency key is taken.
pub(crate) fn idempotency_taken(r: &IdempotencyRecord) -> StoreError {
    StoreError::already_exists(
        IdempotencyRecord::ENTITY,
        format!("{}/{}", r.scope, r.request_id),
    )
}
