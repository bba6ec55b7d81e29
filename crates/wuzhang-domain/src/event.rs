//! The append-only history of a ticket. Every change writes exactly one event in the same
//! transaction as the change; streams and evaluation read nothing else.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::area::AreaCode;
use crate::chief::{ChiefLevel, PersonId};
use crate::organization::OrganizationCode;
use crate::ticket::{TicketId, TicketState};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Submitted,
    Assigned,
    Accepted,
    Resolved,
    Closed,
    Rejected,
    Cancelled,
    Merged,
    /// Verification failed or the resident was not satisfied (返工).
    Reopened,
    /// A chief sent it up by hand ("beyond my level").
    Escalated,
    /// A deadline passed and the timer sent it up.
    AutoEscalated,
    /// A share of a deadline has passed; the chief is warned before the breach.
    DeadlineWarning,
    Note,
    /// A command center supervision order (督办).
    Supervised,
    /// Verification passed.
    Verified,
    Reassigned,
    Rated,
    PauseRequested,
    PauseApproved,
    PauseRefused,
    Resumed,
    /// A duplicate's reporter now follows this ticket.
    ReporterJoined,
    /// Its subdistrict switched emergency mode: its clocks run at another rate, and its
    /// deadlines moved with them.
    ClockRateChanged,
    /// 派遣: the command center gave it to an organization.
    Dispatched,
    /// 退回: the organization gave it back to the command center.
    Returned,
}

impl EventKind {
    pub const ALL: [EventKind; 25] = [
        EventKind::Submitted,
        EventKind::Assigned,
        EventKind::Accepted,
        EventKind::Resolved,
        EventKind::Closed,
        EventKind::Rejected,
        EventKind::Cancelled,
        EventKind::Merged,
        EventKind::Reopened,
        EventKind::Escalated,
        EventKind::AutoEscalated,
        EventKind::DeadlineWarning,
        EventKind::Note,
        EventKind::Supervised,
        EventKind::Verified,
        EventKind::Reassigned,
        EventKind::Rated,
        EventKind::PauseRequested,
        EventKind::PauseApproved,
        EventKind::PauseRefused,
        EventKind::Resumed,
        EventKind::ReporterJoined,
        EventKind::ClockRateChanged,
        EventKind::Dispatched,
        EventKind::Returned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Submitted => "submitted",
            EventKind::Assigned => "assigned",
            EventKind::Accepted => "accepted",
            EventKind::Resolved => "resolved",
            EventKind::Closed => "closed",
            EventKind::Rejected => "rejected",
            EventKind::Cancelled => "cancelled",
            EventKind::Merged => "merged",
            EventKind::Reopened => "reopened",
            EventKind::Escalated => "escalated",
            EventKind::AutoEscalated => "auto_escalated",
            EventKind::DeadlineWarning => "deadline_warning",
            EventKind::Note => "note",
            EventKind::Supervised => "supervised",
            EventKind::Verified => "verified",
            EventKind::Reassigned => "reassigned",
            EventKind::Rated => "rated",
            EventKind::PauseRequested => "pause_requested",
            EventKind::PauseApproved => "pause_approved",
            EventKind::PauseRefused => "pause_refused",
            EventKind::Resumed => "resumed",
            EventKind::ReporterJoined => "reporter_joined",
            EventKind::ClockRateChanged => "clock_rate_changed",
            EventKind::Dispatched => "dispatched",
            EventKind::Returned => "returned",
        }
    }
}

impl std::str::FromStr for EventKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown event kind {s:?}"))
    }
}

/// An event before the store has given it its place in the ticket's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEvent {
    pub kind: EventKind,
    /// Who did it: a principal's subject, or `system:timer` for deadlines.
    pub actor: String,
    /// `None` only for the event that creates the ticket.
    pub from_state: Option<TicketState>,
    pub to_state: TicketState,
    /// The chain level the ticket is at after the event.
    pub level: Option<ChiefLevel>,
    pub assignee_person_id: Option<PersonId>,
    /// The organization holding the ticket after the event, if one does.
    #[serde(default)]
    pub assignee_org_code: Option<OrganizationCode>,
    pub note: String,
    pub at: OffsetDateTime,
}

/// An event as stored: numbered within its ticket (`seq`, from 1, gap-free) so a watcher
/// can resume after the last one it saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketEvent {
    pub ticket_id: TicketId,
    pub subdistrict_code: AreaCode,
    pub seq: i64,
    pub event: NewEvent,
    /// What the store recorded beside the event from the ticket it was written with.
    #[serde(default)]
    pub facts: EventFacts,
}

/// Facts about the ticket that the store keeps on each event, taken from the ticket as it
/// was written with the event, so that evaluation is a function of the log alone: which
/// deadlines were in force after the event (a pause, an escalation or a reopen moves them,
/// and categories and calendars change later), and the rating a `Rated` event recorded.
/// Events stored before these were kept (migration 0014) have none: evaluation counts
/// them as on time (`docs/evaluation.md`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFacts {
    /// The ticket's accept deadline after the event.
    pub accept_due_at: Option<OffsetDateTime>,
    /// The ticket's resolve deadline after the event.
    pub resolve_due_at: Option<OffsetDateTime>,
    /// On a `Rated` event: the stars (1–5) given.
    pub rating_stars: Option<u8>,
    /// On a `Rated` event: the resident says the problem is still there.
    pub rating_not_solved: Option<bool>,
}

/// The actor recorded for changes the system makes on its own.
pub const SYSTEM_TIMER_ACTOR: &str = "system:timer";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(k.as_str().parse::<EventKind>().unwrap(), k);
        }
        assert!("exploded".parse::<EventKind>().is_err());
    }
}
