//! Live ticket events for many watchers at little cost.
//!
//! One [`EventHub`] per process reads the store's global event log (`events_since`) from
//! where it last stopped and hands each event to the watchers of its ticket. However many
//! phones watch, the store sees one reader per process: woken at once by writes made in
//! this process while anyone watches, and polling every `poll` for writes made by other
//! processes (replicas), and to keep its place in the log while nobody watches.
//! A watcher is a small bounded channel and a map entry; it replays history from the store
//! itself, then takes live events from the hub, and fills any gap (or a hub restart) from
//! the store again, so a phone that reconnects with the last seq it saw misses nothing.
//!
//! A command center follows a whole subdistrict instead ([`EventHub::follow`]): few such
//! streams run at once, so each reads the log for its subdistricts itself, from its own
//! cursor, and the hub only tells it when the log has moved on. Being pulled rather than
//! pushed, a slow dashboard holds no memory and never falls behind for good.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::Stream;
use tokio::sync::{Notify, mpsc, watch};
use tracing::{debug, warn};
use wuzhang_app::ApiError;
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::event::{EventKind, TicketEvent};
use wuzhang_domain::ticket::TicketId;
use wuzhang_store::{LoggedEvent, Store};

/// Events one watcher may have waiting before it is cut off (and must resume from its
/// last seq): a phone that does not read must not hold memory.
const WATCHER_BUFFER: usize = 64;
/// Most events read from the log per round.
const READ_BATCH: u32 = 1000;
/// Least time between two reads of the log. Every write in this process wakes the
/// reader; under load that is thousands of wakes a second, and a read costs the store a
/// few queries (see `Store::events_since`), so wakes that come sooner than this are
/// served together. A watcher sees an event at most this much later.
const MIN_GAP: Duration = Duration::from_millis(10);
/// How long a subdistrict stream waits for word from the hub before it reads the log
/// anyway: a safety net, should the hub's reader be stuck on a store that is down.
const FOLLOW_IDLE_READ: Duration = Duration::from_secs(5);

type Senders = HashMap<TicketId, Vec<(u64, mpsc::Sender<TicketEvent>)>>;

/// Fans the event log out to the watchers of each ticket. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EventHub {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    watchers: Mutex<Senders>,
    /// Watchers registered now, readable without the lock: a write asks it before waking
    /// the reader (see [`EventHub::wake`]).
    watching: AtomicUsize,
    next_id: AtomicU64,
    wake: Notify,
    /// The log position the reader has read up to, sent after every read that found
    /// events: subdistrict streams wait on it.
    advanced: watch::Sender<i64>,
}

impl Default for EventHub {
    fn default() -> Self {
        Self::new()
    }
}

impl EventHub {
    /// A hub with no reader yet; [`spawn_reader`](Self::spawn_reader) starts it.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                watchers: Mutex::new(HashMap::new()),
                watching: AtomicUsize::new(0),
                next_id: AtomicU64::new(0),
                wake: Notify::new(),
                advanced: watch::Sender::new(0),
            }),
        }
    }

    /// Reads the log from its current end, every `poll` and whenever woken, until
    /// `shutdown` turns true.
    pub fn spawn_reader(
        &self,
        store: Arc<dyn Store>,
        poll: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let inner = Arc::clone(&self.inner);
        tokio::spawn(async move {
            let mut cursor = loop {
                match store.event_cursor_head().await {
                    Ok(c) => break c,
                    Err(e) => {
                        warn!(error = %e, "event hub cannot read the log head; retrying");
                        tokio::select! {
                            _ = tokio::time::sleep(poll) => {}
                            _ = shutdown.changed() => return,
                        }
                    }
                }
            };
            let mut last_read = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    _ = inner.wake.notified() => {}
                    _ = tokio::time::sleep(poll) => {}
                    _ = shutdown.changed() => return,
                }
                tokio::select! {
                    _ = tokio::time::sleep_until(last_read + MIN_GAP) => {}
                    _ = shutdown.changed() => return,
                }
                if *shutdown.borrow() {
                    return;
                }
                last_read = tokio::time::Instant::now();
                loop {
                    let events = match store.events_since(&[], cursor, READ_BATCH).await {
                        Ok(e) => e,
                        Err(e) => {
                            warn!(error = %e, "event hub cannot read the log");
                            break;
                        }
                    };
                    let Some(last) = events.last() else { break };
                    cursor = last.cursor;
                    let full = events.len() == READ_BATCH as usize;
                    inner.deliver(events.into_iter().map(|l| l.event));
                    inner.advanced.send_replace(cursor);
                    if !full {
                        break;
                    }
                }
            }
        })
    }

    /// Tells the reader that this process just wrote events, if anyone watches.
    ///
    /// With no watcher there is nobody to hand the events to, so the reader is left to
    /// its `poll` (which keeps its place in the log): a wake costs a thread wake-up and a
    /// read of the log costs the store a few queries, which at four callers was a tenth of
    /// the server's CPU per submission (perf, `submit-load`), all of it for nobody.
    /// Nothing is missed by it: a watcher registers before it reads the ticket's history,
    /// and a write that found nobody watching had committed before it looked, so that
    /// history holds it.
    pub fn wake(&self) {
        if self.inner.watching.load(Ordering::SeqCst) > 0 {
            self.inner.wake.notify_one();
        }
    }

    /// How many watchers are registered now.
    pub fn watchers(&self) -> usize {
        let map = self.inner.watchers.lock().expect("watchers lock");
        map.values().map(Vec::len).sum()
    }

    /// Registers interest in `ticket`'s events until the subscription is dropped.
    fn subscribe(&self, ticket: TicketId) -> Subscription {
        let (tx, rx) = mpsc::channel(WATCHER_BUFFER);
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let mut map = self.inner.watchers.lock().expect("watchers lock");
        map.entry(ticket).or_default().push((id, tx));
        self.inner.watching.fetch_add(1, Ordering::SeqCst);
        Subscription {
            inner: Arc::clone(&self.inner),
            ticket,
            id,
            rx,
        }
    }

    /// `ticket`'s events after `after_seq`: first the history from the store, then live
    /// ones, until the ticket reaches a final state (REJECTED, CANCELLED, MERGED) or the
    /// receiver is dropped. A watcher too slow to keep up gets an ABORTED error and
    /// resumes from the last seq it saw.
    pub fn watch(
        &self,
        store: Arc<dyn Store>,
        ticket: TicketId,
        after_seq: i64,
    ) -> impl Stream<Item = Result<TicketEvent, ApiError>> + Send + 'static {
        // Subscribe before reading history, so nothing written meanwhile is missed.
        let mut live = self.subscribe(ticket);
        async_stream_like(move |tx| async move {
            let mut last = after_seq;
            // History, and any gap later, straight from the store.
            let catch_up = |last: i64| {
                let store = Arc::clone(&store);
                async move {
                    let mut out = Vec::new();
                    let mut after = last;
                    loop {
                        let page = store.list_events(&ticket, after, READ_BATCH).await?;
                        let full = page.len() == READ_BATCH as usize;
                        if let Some(e) = page.last() {
                            after = e.seq;
                        }
                        out.extend(page);
                        if !full {
                            return Ok::<_, ApiError>(out);
                        }
                    }
                }
            };
            let send_all = |events: Vec<TicketEvent>, last: &mut i64| {
                let mut batch = Vec::new();
                let mut done = false;
                for e in events {
                    if e.seq <= *last {
                        continue;
                    }
                    *last = e.seq;
                    done = e.event.to_state.is_final();
                    batch.push(e);
                }
                (batch, done)
            };
            let history = match catch_up(last).await {
                Ok(h) => h,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            let (batch, mut done) = send_all(history, &mut last);
            for e in batch {
                if tx.send(Ok(e)).await.is_err() {
                    return;
                }
            }
            while !done {
                let event = tokio::select! {
                    e = live.rx.recv() => e,
                    () = tx.closed() => return,
                };
                let Some(event) = event else {
                    let _ = tx
                        .send(Err(ApiError::Aborted(format!(
                            "the stream fell behind; watch again with after_seq = {last}"
                        ))))
                        .await;
                    return;
                };
                let events = if event.seq > last + 1 {
                    // Missed some (the hub started after they were written): fill from the store.
                    match catch_up(last).await {
                        Ok(h) => h,
                        Err(e) => {
                            let _ = tx.send(Err(e)).await;
                            return;
                        }
                    }
                } else {
                    vec![event]
                };
                let (batch, finished) = send_all(events, &mut last);
                done = finished;
                for e in batch {
                    if tx.send(Ok(e)).await.is_err() {
                        return;
                    }
                }
            }
            debug!(ticket = %ticket, "watch finished: final state");
        })
    }

    /// Every event of `subdistricts` (all, if empty) stored after `after_cursor`, in log
    /// order, and then live, until the receiver is dropped; only those of `kinds` (all, if
    /// empty) are sent, but the cursor moves past the others too. Each item carries its
    /// cursor, so a dashboard that reconnects resumes after the last one it saw.
    pub fn follow(
        &self,
        store: Arc<dyn Store>,
        subdistricts: Vec<AreaCode>,
        after_cursor: i64,
        kinds: Vec<EventKind>,
    ) -> impl Stream<Item = Result<LoggedEvent, ApiError>> + Send + 'static {
        // Counted as a watcher, so this process's writes wake the reader at once.
        let follower = Follower::new(Arc::clone(&self.inner));
        let mut advanced = self.inner.advanced.subscribe();
        async_stream_like(move |tx| async move {
            let _follower = follower;
            let mut cursor = after_cursor;
            loop {
                // Marked seen before reading, so a move during the read is not lost.
                advanced.borrow_and_update();
                let events = match store.events_since(&subdistricts, cursor, READ_BATCH).await {
                    Ok(e) => e,
                    Err(e) => {
                        let _ = tx.send(Err(e.into())).await;
                        return;
                    }
                };
                let full = events.len() == READ_BATCH as usize;
                for logged in events {
                    cursor = logged.cursor;
                    if !kinds.is_empty() && !kinds.contains(&logged.event.event.kind) {
                        continue;
                    }
                    if tx.send(Ok(logged)).await.is_err() {
                        return;
                    }
                }
                if full {
                    continue;
                }
                tokio::select! {
                    changed = advanced.changed() => {
                        if changed.is_err() {
                            return; // the hub is gone: the process is stopping
                        }
                    }
                    _ = tokio::time::sleep(FOLLOW_IDLE_READ) => {}
                    () = tx.closed() => return,
                }
            }
        })
    }
}

/// One watcher's place in the hub; leaving it (however the watch ends) frees the place.
struct Subscription {
    inner: Arc<Inner>,
    ticket: TicketId,
    id: u64,
    rx: mpsc::Receiver<TicketEvent>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut map = self.inner.watchers.lock().expect("watchers lock");
        self.inner.watching.fetch_sub(1, Ordering::SeqCst);
        if let Some(list) = map.get_mut(&self.ticket) {
            list.retain(|(id, _)| *id != self.id);
            if list.is_empty() {
                map.remove(&self.ticket);
            }
        }
    }
}

/// A subdistrict stream's presence, for [`EventHub::wake`].
struct Follower {
    inner: Arc<Inner>,
}

impl Follower {
    fn new(inner: Arc<Inner>) -> Self {
        inner.watching.fetch_add(1, Ordering::SeqCst);
        Self { inner }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.inner.watching.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Inner {
    fn deliver(&self, events: impl Iterator<Item = TicketEvent>) {
        let mut map = self.watchers.lock().expect("watchers lock");
        for event in events {
            let Some(list) = map.get_mut(&event.ticket_id) else {
                continue;
            };
            // A closed or full watcher is dropped: closed ones are gone, full ones resume.
            list.retain(|(_, tx)| tx.try_send(event.clone()).is_ok());
            if list.is_empty() {
                map.remove(&event.ticket_id);
            }
        }
    }
}

/// A stream fed by a task that sends into a small channel: the task owns the state, and
/// the stream ends when the task does.
fn async_stream_like<T, F, Fut>(f: F) -> impl Stream<Item = T> + Send + 'static
where
    T: Send + 'static,
    F: FnOnce(mpsc::Sender<T>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(f(tx));
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the reader has a wake waiting for it.
    async fn woken(hub: &EventHub) -> bool {
        tokio::time::timeout(Duration::from_millis(20), hub.inner.wake.notified())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn writes_wake_the_reader_only_while_someone_watches() {
        let hub = EventHub::new();
        hub.wake();
        assert!(!woken(&hub).await, "nobody watches: no wake");

        let a = hub.subscribe(TicketId::new(time::OffsetDateTime::UNIX_EPOCH));
        let b = hub.subscribe(TicketId::new(time::OffsetDateTime::UNIX_EPOCH));
        hub.wake();
        assert!(woken(&hub).await, "two watchers: woken");

        drop(a);
        hub.wake();
        assert!(woken(&hub).await, "one watcher left: woken");

        drop(b);
        hub.wake();
        assert!(!woken(&hub).await, "the last watcher left: no wake");
        assert_eq!(hub.watchers(), 0);
    }
}
