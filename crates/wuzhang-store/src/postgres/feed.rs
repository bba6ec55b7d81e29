//! Where the global event log is complete: how far `events_since` may read.
//!
//! Cursors come from a sequence when a writer inserts its events, and writers commit in
//! whatever order their commits finish, so a reader that has seen cursor 11 may later see
//! 10 appear. Serialising the writers (one lock held from the insert to the commit) makes
//! commits follow cursors, but then no two commits overlap and Postgres cannot flush them
//! together, for new tickets and the timer worker alike. Instead every writer holds
//! [`EVENT_LOG_LOCK`] *shared* from before it draws its first cursor until it commits
//! (writers never wait for each other), and readers find the point below which nothing
//! can still appear:
//!
//! 1. read the sequence's last value `hi`, then the set `H` of transactions holding the
//!    lock. Every cursor up to `hi` was drawn by a member of `H` or by a transaction that
//!    has ended (it took the lock before drawing, so before `hi` was read);
//! 2. once no member of `H` holds the lock any more, every cursor up to `hi` is final:
//!    committed and visible to any later statement (Postgres releases a transaction's
//!    locks after its commit is visible), or rolled back for good.
//!
//! Each read adds such a checkpoint and settles the ones whose holders are gone. Only
//! event writers count, so a long import or a report in another session does not hold the
//! feed back. Transactions are told apart by their virtual transaction id, which is what
//! `pg_locks` shows for every lock holder.
//!
//! The writers' side is here too: [`append_events`] inserts events holding the lock.

use std::collections::VecDeque;
use std::sync::LazyLock;
use std::time::Duration;

use sqlx::{PgConnection, PgPool};
use tokio::sync::Mutex;

use super::arrays;
use super::arrays::EventArrays;
use crate::Result;
use crate::codec::EventColumns;

/// Held shared, for the rest of its transaction, by every transaction that appends events,
/// from before it draws its first cursor; see the module documentation.
pub(super) const EVENT_LOG_LOCK: i64 = 0x7775_7a68_616e_6701;

/// Checkpoints kept waiting at most; beyond, the oldest are forgotten (a later checkpoint
/// covers them, so this only delays the feed, never lets it skip).
const MAX_PENDING: usize = 64;

/// How long to wait before looking a second time when writers were in flight: they
/// usually commit within a millisecond or two, and the second look then serves events
/// committed before the call in the same call. Also the first pause of [`Feed::head`].
const SECOND_LOOK: Duration = Duration::from_millis(2);

/// Longest [`Feed::head`] waits for writers in flight to finish.
const HEAD_WAIT: Duration = Duration::from_secs(10);

/// The settled end of the event log, shared by a store's clones.
#[derive(Debug, Default)]
pub(super) struct Feed {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Every cursor up to here is final.
    settled: i64,
    /// Oldest first; every `hi` above `settled`.
    pending: VecDeque<Checkpoint>,
}

#[derive(Debug, PartialEq)]
struct Checkpoint {
    hi: i64,
    holders: Vec<String>,
}

impl Feed {
    /// How far a reader that has read up to `after` may read: the highest cursor up to
    /// which the log is final. Never goes down. While the reader is still behind what
    /// is already known to be final (catching up page by page), that is the answer,
    /// without asking Postgres; once it has caught up, this looks again, a second time
    /// [`SECOND_LOOK`] later if writers were in flight.
    pub(super) async fn settled_after(&self, pool: &PgPool, after: i64) -> Result<i64> {
        let mut state = self.state.lock().await;
        if state.settled > after {
            return Ok(state.settled);
        }
        Ok(state.settle(pool, SECOND_LOOK).await?.0)
    }

    /// The end of the log as of now, for a feed that starts here: waits until everything
    /// drawn before this call has settled. The settled end may lag behind the log (in a
    /// process that has not looked yet, it is 0), and a feed started there would read the
    /// whole log again. Waits at most [`HEAD_WAIT`] for a writer that does not finish,
    /// then answers the settled end reached so far (still safe, just lower).
    pub(super) async fn head(&self, pool: &PgPool) -> Result<i64> {
        let (settled, target) = self.state.lock().await.settle(pool, HEAD_WAIT).await?;
        if settled < target {
            tracing::warn!(
                settled,
                target,
                "event log writers still in flight; starting the feed lower"
            );
        }
        Ok(settled)
    }
}

impl State {
    /// Looks, then keeps looking (2 ms apart, doubling up to 100 ms) until everything
    /// drawn before the first look has settled or `wait` has passed. Returns the settled
    /// end and what it was waiting for.
    async fn settle(&mut self, pool: &PgPool, wait: Duration) -> Result<(i64, i64)> {
        let now = look(pool).await?;
        let target = now.hi;
        self.observe(now);
        let started = tokio::time::Instant::now();
        let mut pause = SECOND_LOOK;
        while self.settled < target && started.elapsed() < wait {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
            self.observe(look(pool).await?);
        }
        Ok((self.settled, target))
    }
}

/// One look: the sequence's last value, then who holds the lock (in that order).
async fn look(pool: &PgPool) -> Result<Checkpoint> {
    let (last, called): (i64, bool) =
        sqlx::query_as("SELECT last_value, is_called FROM ticket_events_cursor_seq")
            .fetch_one(pool)
            .await?;
    let mut holders: Vec<String> = sqlx::query_scalar(
        "SELECT virtualtransaction FROM pg_locks \
         WHERE locktype = 'advisory' AND granted AND objsubid = 1 \
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
           AND ((classid::int8 << 32) | objid::int8) = $1",
    )
    .bind(EVENT_LOG_LOCK)
    .fetch_all(pool)
    .await?;
    holders.sort_unstable();
    holders.dedup();
    Ok(Checkpoint {
        hi: if called { last } else { last - 1 },
        holders,
    })
}

impl State {
    /// Settles what `now` shows to be final and remembers `now` until it is.
    fn observe(&mut self, now: Checkpoint) {
        let gone = |c: &Checkpoint| c.holders.iter().all(|h| !now.holders.contains(h));
        // A settled checkpoint settles everything below it, whatever earlier ones wait on:
        // its holders included every writer still in flight then.
        if let Some(hi) = self.pending.iter().filter(|c| gone(c)).map(|c| c.hi).max() {
            self.settled = self.settled.max(hi);
        }
        if now.holders.is_empty() {
            self.settled = self.settled.max(now.hi);
        }
        let settled = self.settled;
        self.pending.retain(|c| c.hi > settled);
        if now.hi > settled && self.pending.back() != Some(&now) {
            self.pending.push_back(now);
        }
        while self.pending.len() > MAX_PENDING {
            self.pending.pop_front();
        }
    }
}

/// Appends events (their seqs already given); the caller commits right after.
pub(super) async fn append_events(
    conn: &mut PgConnection,
    events: Vec<EventColumns>,
) -> Result<()> {
    let mut arrays = EventArrays::default();
    events.into_iter().for_each(|e| arrays.push(e));
    insert_events(conn, arrays).await
}

/// The events, holding the event log lock shared (taken in an InitPlan before the first
/// row draws its cursor, held to the commit; see [`EVENT_LOG_LOCK`]). One statement for
/// any number of events.
static INSERT_EVENTS_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO ticket_events (subdistrict_code, ticket_id, seq, kind, actor, from_state, \
           to_state, level, assignee_person_id, note, at, accept_due_at, resolve_due_at, \
           rating_stars, rating_not_solved, assignee_org_code) \
         SELECT * FROM {} WHERE (SELECT 1 FROM pg_advisory_xact_lock_shared($17)) = 1",
        arrays::event_unnest(1)
    )
});

/// Inserts `events` with [`INSERT_EVENTS_SQL`] (nothing if there are none).
pub(super) async fn insert_events(conn: &mut PgConnection, events: EventArrays) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    events
        .bind(sqlx::query(INSERT_EVENTS_SQL.as_str()))
        .bind(EVENT_LOG_LOCK)
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hi: i64, holders: &[&str]) -> Checkpoint {
        Checkpoint {
            hi,
            holders: holders.iter().map(|h| (*h).to_owned()).collect(),
        }
    }

    #[test]
    fn nobody_in_flight_settles_at_once() {
        let mut s = State::default();
        s.observe(at(10, &[]));
        assert_eq!(s.settled, 10);
        assert!(s.pending.is_empty());
    }

    #[test]
    fn waits_for_the_holders_seen_with_the_cursor() {
        let mut s = State::default();
        s.observe(at(10, &["3/7"]));
        assert_eq!(s.settled, 0, "3/7 may still commit a cursor below 10");
        // 3/7 is still there, joined by 4/2, and the log has moved on.
        s.observe(at(12, &["3/7", "4/2"]));
        assert_eq!(s.settled, 0);
        // 3/7 is gone: 10 is final; 12 still waits for 4/2 (5/1 came after it).
        s.observe(at(15, &["4/2", "5/1"]));
        assert_eq!(s.settled, 10);
        s.observe(at(15, &["5/1"]));
        assert_eq!(s.settled, 12);
        s.observe(at(16, &[]));
        assert_eq!(s.settled, 16);
        assert!(s.pending.is_empty());
    }

    #[test]
    fn each_checkpoint_waits_only_for_its_own_holders() {
        let mut s = State::default();
        s.observe(at(10, &["1/1", "2/2"]));
        s.observe(at(20, &["2/2", "3/3"]));
        s.observe(at(25, &["3/3"]));
        assert_eq!(
            s.settled, 10,
            "1/1 and 2/2 are gone; 3/3 holds 20 and 25 back"
        );
        s.observe(at(30, &["4/4"]));
        assert_eq!(s.settled, 25);
    }

    #[test]
    fn never_goes_down_and_stays_bounded() {
        let mut s = State::default();
        for i in 0..1000 {
            s.observe(at(i + 1, &["9/9"]));
            assert!(s.pending.len() <= MAX_PENDING);
        }
        assert_eq!(s.settled, 0, "9/9 never left");
        s.observe(at(1000, &[]));
        assert_eq!(s.settled, 1000);
        s.observe(at(990, &["1/1"]));
        assert_eq!(s.settled, 1000);
    }
}
