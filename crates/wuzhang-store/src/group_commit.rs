//! Group commit for new tickets, shared by both backends: concurrent `create_ticket` calls
//! are queued, and writer tasks each take what has queued up and write it in one
//! transaction, so one durable commit (a WAL flush) serves many submissions.
//!
//! Nothing waits on purpose: a lone submission is written at once, alone, and batches form
//! only while earlier transactions are committing, so latency stays that of one commit and
//! throughput grows with concurrency. How a batch is written is the backend's: it must
//! answer every job on its own (one bad ticket may not fail its neighbours).

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::{Mutex, mpsc, oneshot};
use wuzhang_domain::ticket::Ticket;

use crate::error::{Result, StoreError};
use crate::model::NewTicket;

/// A ticket already normalised and validated, and where its answer goes.
pub(crate) struct Job {
    pub(crate) new: NewTicket,
    pub(crate) reply: oneshot::Sender<Result<Ticket>>,
}

/// Writes a batch and answers each of its jobs.
pub(crate) type WriteBatch = Arc<dyn Fn(Vec<Job>) -> BoxFuture<'static, ()> + Send + Sync>;

/// The queue in front of the writers. Dropping the last clone of the store drops the
/// sender, and the writers finish what is queued and stop.
#[derive(Debug, Clone)]
pub(crate) struct GroupCommit {
    queue: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts `writers` tasks on the current tokio runtime, each writing at most
    /// `max_batch` tickets at a time with `write`.
    pub(crate) fn start(writers: usize, max_batch: usize, write: WriteBatch) -> Self {
        let (queue, rx) = mpsc::channel(4 * max_batch);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..writers.max(1) {
            tokio::spawn(writer(Arc::clone(&rx), max_batch, Arc::clone(&write)));
        }
        Self { queue }
    }

    /// Writes `new` (normalised and validated by the caller), possibly with others.
    pub(crate) async fn create(&self, new: NewTicket) -> Result<Ticket> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { new, reply })
            .await
            .map_err(|_| StoreError::internal("the ticket writers have stopped"))?;
        answer
            .await
            .map_err(|_| StoreError::internal("a ticket writer stopped before answering"))?
    }
}

async fn writer(rx: Arc<Mutex<mpsc::Receiver<Job>>>, max_batch: usize, write: WriteBatch) {
    loop {
        let batch = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            let mut batch = vec![first];
            while batch.len() < max_batch {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            batch
        };
        write(batch).await;
    }
}
