//! Deadlines that live in the store, so any replica may fire them and a crash loses none.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::area::AreaCode;
use crate::chief::ChiefLevel;
use crate::ticket::TicketId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    /// The assigned level has not accepted in time.
    Accept,
    /// The assigned level has not resolved in time.
    Resolve,
    /// A share of a deadline has passed: warn before the breach.
    Warning,
    /// A supervision order's own deadline.
    Supervision,
    /// The end of a pause (挂起) a chief asked for: the clocks run again.
    Resume,
}

impl TimerKind {
    pub const ALL: [TimerKind; 5] = [
        TimerKind::Accept,
        TimerKind::Resolve,
        TimerKind::Warning,
        TimerKind::Supervision,
        TimerKind::Resume,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::Accept => "accept",
            TimerKind::Resolve => "resolve",
            TimerKind::Warning => "warning",
            TimerKind::Supervision => "supervision",
            TimerKind::Resume => "resume",
        }
    }
}

impl std::str::FromStr for TimerKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TimerKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown timer kind {s:?}"))
    }
}

/// One pending deadline of a ticket. A ticket has at most one timer of each kind; setting
/// a ticket's timers replaces them all, so stale deadlines cannot fire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    pub ticket_id: TicketId,
    /// Timers are claimed per subdistrict so a claim touches one shard when distributed.
    pub subdistrict_code: AreaCode,
    pub kind: TimerKind,
    pub due_at: OffsetDateTime,
    /// The level whose clock this is; a timer for a level the ticket has left is stale.
    pub level: ChiefLevel,
}

impl Timer {
    /// A timer of `kind` for `ticket`'s clock at `level`, due at `due_at`.
    pub fn for_ticket(
        ticket: &crate::ticket::Ticket,
        level: ChiefLevel,
        kind: TimerKind,
        due_at: OffsetDateTime,
    ) -> Self {
        Self {
            ticket_id: ticket.id,
            subdistrict_code: ticket.subdistrict_code.clone(),
            kind,
            due_at,
            level,
        }
    }
}
