//! Tickets and the state machine every change passes through.
//!
//! ```text
//! SUBMITTED → ASSIGNED → ACCEPTED → RESOLVED → CLOSED
//!     │          │  ▲        │          │  ▲      │
//!     │          │  └ escalate/reassign ┘  │      │
//!     │          └─────── reopen (返工) ◄───┴──────┘
//!     ├→ MERGED (duplicate)       SUBMITTED/ASSIGNED/ACCEPTED → CANCELLED | REJECTED
//! ```
//!
//! [`Ticket::apply`] is the only way a ticket changes: it checks the command against the
//! state, changes the ticket, bumps its version and returns the one event to store with it.
//! A refused command leaves the ticket untouched and says why in a [`TransitionError`].

use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::FieldError;
use crate::area::AreaCode;
use crate::category::CategoryCode;
use crate::chief::{ChiefLevel, PersonId};
use crate::clocks::ClockEffect;
use crate::emergency::ClockRate;
use crate::event::{EventKind, NewEvent};
use crate::organization::OrganizationCode;
use crate::point::GeoPoint;

/// Longest description a resident may write.
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
/// Longest note or reason on any command.
pub const MAX_NOTE_CHARS: usize = 2000;

/// A UUIDv7 whose leading bits are `at`: ids made this way sort by age and index well.
pub fn time_ordered_uuid(at: OffsetDateTime) -> Uuid {
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        u64::try_from(at.unix_timestamp()).unwrap_or(0),
        at.nanosecond(),
    );
    Uuid::new_v7(ts)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TicketId(Uuid);

impl TicketId {
    /// A new id whose leading bits are the creation time, so ids sort by age and index well.
    pub fn new(at: OffsetDateTime) -> Self {
        Self(time_ordered_uuid(at))
    }

    pub fn from_uuid(u: Uuid) -> Self {
        Self(u)
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl std::str::FromStr for TicketId {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s)
            .map(Self)
            .map_err(|_| FieldError::new("ticket_id", "must be a UUID"))
    }
}

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    Submitted,
    Assigned,
    Accepted,
    Resolved,
    Closed,
    Rejected,
    Cancelled,
    Merged,
}

impl TicketState {
    pub const ALL: [TicketState; 8] = [
        TicketState::Submitted,
        TicketState::Assigned,
        TicketState::Accepted,
        TicketState::Resolved,
        TicketState::Closed,
        TicketState::Rejected,
        TicketState::Cancelled,
        TicketState::Merged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::Submitted => "submitted",
            TicketState::Assigned => "assigned",
            TicketState::Accepted => "accepted",
            TicketState::Resolved => "resolved",
            TicketState::Closed => "closed",
            TicketState::Rejected => "rejected",
            TicketState::Cancelled => "cancelled",
            TicketState::Merged => "merged",
        }
    }

    /// Work is still owed: the ticket counts as open and its clocks may run.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            TicketState::Submitted | TicketState::Assigned | TicketState::Accepted
        )
    }

    /// Nothing can happen to the ticket any more. `Closed` is not final: a resident's
    /// complaint can reopen it.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TicketState::Rejected | TicketState::Cancelled | TicketState::Merged
        )
    }
}

impl std::str::FromStr for TicketState {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TicketState::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| FieldError::new("state", format!("unknown state {s:?}")))
    }
}

impl fmt::Display for TicketState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who owns the ticket now: a level of the chain, the area of that post, and the person
/// acting for it (`None` at the command center, which acts as a desk, not a person).
///
/// With `organization` set, that organization holds the ticket (条块协同,
/// [`crate::organization`]) and its staff act on it; the post (always the ticket's grid)
/// is the 属地 responsible who follows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub level: ChiefLevel,
    pub area_code: AreaCode,
    pub person_id: Option<PersonId>,
    #[serde(default)]
    pub organization: Option<OrganizationCode>,
}

impl Assignment {
    /// `organization` holding a ticket of `grid`, whose chief (`grid_chief`, if the post is
    /// staffed) follows it.
    pub fn organization(
        organization: OrganizationCode,
        grid: AreaCode,
        grid_chief: Option<PersonId>,
    ) -> Self {
        Self {
            level: ChiefLevel::Grid,
            area_code: grid,
            person_id: grid_chief,
            organization: Some(organization),
        }
    }
}

/// The clock-stop (挂起) a chief may ask for, e.g. while waiting for parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Pause {
    #[default]
    None,
    /// Asked for, awaiting the command center.
    Requested,
    /// Approved: clocks are stopped until resumed.
    Paused,
}

impl Pause {
    pub fn as_str(self) -> &'static str {
        match self {
            Pause::None => "none",
            Pause::Requested => "requested",
            Pause::Paused => "paused",
        }
    }
}

impl std::str::FromStr for Pause {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Pause::None),
            "requested" => Ok(Pause::Requested),
            "paused" => Ok(Pause::Paused),
            other => Err(format!("unknown pause state {other:?}")),
        }
    }
}

/// A resident's verdict on the work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    /// 1 to 5.
    pub stars: u8,
    /// The resident says the problem is still there; the command center is asked to reopen.
    pub not_solved: bool,
    pub comment: String,
}

impl Rating {
    pub fn new(stars: u8, not_solved: bool, comment: String) -> Result<Self, FieldError> {
        if !(1..=5).contains(&stars) {
            return Err(FieldError::new("stars", "must be 1 to 5"));
        }
        check_text("comment", &comment, MAX_NOTE_CHARS, false)?;
        Ok(Self {
            stars,
            not_solved,
            comment,
        })
    }

    /// 满意: four stars or more and not reported unsolved.
    pub fn is_satisfied(&self) -> bool {
        self.stars >= 4 && !self.not_solved
    }
}

/// Checks a free-text field: length in characters, and non-blank when required.
pub fn check_text(field: &str, text: &str, max: usize, required: bool) -> Result<(), FieldError> {
    if required && text.trim().is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    let n = text.chars().count();
    if n > max {
        return Err(FieldError::new(
            field,
            format!("is {n} characters, at most {max} allowed"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// What a resident reports; [`Ticket::submit`] turns it into a ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub category_code: CategoryCode,
    pub description: String,
    /// WGS84, after conversion.
    pub location: GeoPoint,
    /// As the phone sent it, in its own CRS.
    pub original_location: GeoPoint,
    pub address: String,
    pub building_code: Option<AreaCode>,
    pub unit_code: Option<AreaCode>,
    pub media_urls: Vec<String>,
    pub contact_phone: Option<String>,
    pub reporter_id: String,
    pub urgent: bool,
}

/// How serious a supervision order (督办) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// 一般督办.
    Normal,
    /// 重点督办.
    Serious,
    /// 紧急督办.
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Normal, Severity::Serious, Severity::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Normal => "normal",
            Severity::Serious => "serious",
            Severity::Critical => "critical",
        }
    }
}

/// A command center's supervision order (督办) on an open ticket: what it demands, by
/// when, how seriously. A ticket keeps its latest order and counts all of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupervisionOrder {
    pub severity: Severity,
    /// When the work must be done by.
    pub deadline: OffsetDateTime,
    pub note: String,
    /// Who issued it (the caller's subject).
    pub issued_by: String,
    pub issued_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: TicketId,
    /// Carried on every ticket-side row so the store can be distributed by it.
    pub subdistrict_code: AreaCode,
    pub grid_code: AreaCode,
    pub state: TicketState,
    pub assignment: Option<Assignment>,
    pub report: Report,
    pub accept_due_at: Option<OffsetDateTime>,
    pub resolve_due_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub duplicate_of: Option<TicketId>,
    pub pause: Pause,
    pub rating: Option<Rating>,
    /// Bumped by every change; a writer states the version it read, and a stale one loses.
    pub version: i64,
    /// The latest supervision order, if any was issued.
    #[serde(default)]
    pub supervision: Option<SupervisionOrder>,
    /// How many supervision orders were issued on it.
    #[serde(default)]
    pub supervision_count: u32,
    /// How fast its owner clocks run: peacetime, or its subdistrict's emergency rate
    /// ([`crate::emergency`]).
    #[serde(default)]
    pub clock_rate: ClockRate,
}

/// Everything that can be asked of a ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Routing hands a new ticket to its first owner.
    Assign(Assignment),
    /// 签收.
    Accept,
    Resolve,
    /// Up the chain, by hand or because a deadline passed.
    Escalate {
        to: Assignment,
        auto: bool,
    },
    /// The command center gives it to any level or person.
    Reassign(Assignment),
    /// The command center checks resolved work: pass closes, fail reopens (返工).
    Verify {
        pass: bool,
    },
    Close,
    /// Back to the owner who resolved it, from RESOLVED or CLOSED (返工).
    Reopen,
    /// Not a governance matter.
    Reject,
    /// The resident withdraws it, only while work is still owed.
    Cancel,
    /// A duplicate folded into an open ticket (its clocks stop: the other's run).
    Merge {
        into: TicketId,
    },
    Rate(Rating),
    Note,
    /// 督办: the ticket keeps the order (the latest) and counts it.
    Supervise(SupervisionOrder),
    /// A share of a deadline has passed.
    Warn,
    /// The owner asks to stop the clocks until `until` (挂起), e.g. while waiting for parts.
    RequestPause {
        until: OffsetDateTime,
    },
    DecidePause {
        approve: bool,
    },
    Resume,
    /// A merged duplicate's reporter now follows this ticket.
    JoinReporter,
    /// Its subdistrict switched emergency mode: its clocks run at `to` instead of `from`
    /// (the rate it has), what is left of each running clock rescaled
    /// ([`crate::emergency`]).
    SetClockRate {
        from: ClockRate,
        to: ClockRate,
    },
    /// 派遣: the command center gives an open ticket to an organization (`to` names it),
    /// to be resolved by `deadline`.
    Dispatch {
        to: Assignment,
        deadline: OffsetDateTime,
    },
    /// 退回: the organization holding it, not yet accepted, gives it back to the command
    /// center (`to`) with a reason, before its accept deadline.
    Return {
        to: Assignment,
    },
}

impl Command {
    /// A verb for error messages ("cannot accept a ticket that is closed").
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Assign(_) => "assign",
            Command::Accept => "accept",
            Command::Resolve => "resolve",
            Command::Escalate { .. } => "escalate",
            Command::Reassign(_) => "reassign",
            Command::Verify { .. } => "verify",
            Command::Close => "close",
            Command::Reopen => "reopen",
            Command::Reject => "reject",
            Command::Cancel => "cancel",
            Command::Merge { .. } => "merge",
            Command::Rate(_) => "rate",
            Command::Note => "add a note to",
            Command::Supervise(_) => "supervise",
            Command::Warn => "warn about",
            Command::RequestPause { .. } => "pause",
            Command::DecidePause { .. } => "decide a pause of",
            Command::Resume => "resume",
            Command::JoinReporter => "join",
            Command::SetClockRate { .. } => "change the clock rate of",
            Command::Dispatch { .. } => "dispatch",
            Command::Return { .. } => "return",
        }
    }

    /// What the command does to the ticket's clocks, if it is allowed: the one place the
    /// rule for each command is written (see [`crate::clocks`]).
    pub fn clock_effect(&self) -> ClockEffect {
        match self {
            Command::Assign(_)
            | Command::Escalate { .. }
            | Command::Reassign(_)
            | Command::Return { .. }
            | Command::Verify { pass: false }
            | Command::Reopen => ClockEffect::Start,
            Command::Dispatch { deadline, .. } => ClockEffect::Dispatched {
                deadline: *deadline,
            },
            Command::Accept => ClockEffect::Accepted,
            Command::Resolve
            | Command::Verify { pass: true }
            | Command::Close
            | Command::Reject
            | Command::Cancel
            | Command::Merge { .. } => ClockEffect::Clear,
            Command::Rate(_) | Command::Note | Command::Warn | Command::JoinReporter => {
                ClockEffect::Keep
            }
            Command::Supervise(order) => ClockEffect::Supervise {
                deadline: order.deadline,
            },
            Command::RequestPause { until } => ClockEffect::PauseRequested { until: *until },
            Command::DecidePause { approve } => ClockEffect::PauseDecided { approve: *approve },
            Command::Resume => ClockEffect::Resumed,
            Command::SetClockRate { from, to } => ClockEffect::Rescaled {
                from: *from,
                to: *to,
            },
        }
    }
}

/// A command that was allowed: the event to store with the changed ticket, and what
/// becomes of its clocks ([`ClockEffect::timers`] turns that into timers).
#[derive(Debug, Clone, PartialEq)]
#[must_use = "the event and the clock effect must be written with the ticket"]
pub struct Applied {
    pub event: NewEvent,
    pub clocks: ClockEffect,
}

/// Why a command was refused. Every variant is something the caller did not check first,
/// so edges answer FAILED_PRECONDITION with the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("cannot {verb} a ticket that is {state}")]
    NotAllowed {
        verb: &'static str,
        state: TicketState,
    },
    #[error("the ticket is already at the command center, the top of the chain")]
    AtTop,
    #[error("escalation must go up the chain, not from {from} to {to}")]
    NotUpward { from: ChiefLevel, to: ChiefLevel },
    #[error("cannot {verb} a ticket whose pause is {pause}", pause = .pause.as_str())]
    PauseState { verb: &'static str, pause: Pause },
    #[error("a ticket cannot be merged into itself")]
    SelfMerge,
    #[error(
        "its subdistrict is in emergency mode (clocks at {rate}): pauses are refused until \
         the command center switches back to peacetime"
    )]
    Emergency { rate: ClockRate },
    #[error("only a ticket an organization holds and has not accepted can be returned")]
    NotReturnable,
    #[error("the return window closed at its accept deadline, {due}; resolve it instead")]
    ReturnWindowClosed { due: OffsetDateTime },
    #[error("a dispatch must name an organization")]
    NoOrganization,
    #[error("the deadline {deadline} has already passed")]
    DeadlinePassed { deadline: OffsetDateTime },
}

impl Ticket {
    /// A new ticket in SUBMITTED, and the event that records it.
    pub fn submit(
        id: TicketId,
        report: Report,
        grid_code: AreaCode,
        subdistrict_code: AreaCode,
        now: OffsetDateTime,
    ) -> (Ticket, NewEvent) {
        let event = NewEvent {
            kind: EventKind::Submitted,
            actor: report.reporter_id.clone(),
            from_state: None,
            to_state: TicketState::Submitted,
            level: None,
            assignee_person_id: None,
            assignee_org_code: None,
            note: String::new(),
            at: now,
        };
        let ticket = Ticket {
            id,
            subdistrict_code,
            grid_code,
            state: TicketState::Submitted,
            assignment: None,
            report,
            accept_due_at: None,
            resolve_due_at: None,
            created_at: now,
            updated_at: now,
            duplicate_of: None,
            pause: Pause::None,
            rating: None,
            version: 1,
            supervision: None,
            supervision_count: 0,
            clock_rate: ClockRate::PEACETIME,
        };
        (ticket, event)
    }

    pub fn level(&self) -> Option<ChiefLevel> {
        self.assignment.as_ref().map(|a| a.level)
    }

    /// The nearest of the ticket's deadlines, if it has any: what the inbox sorts by and
    /// what makes an open ticket overdue once passed (its accept deadline is usually the
    /// nearer, but an escalation restarts it while the resolve deadline runs on).
    pub fn next_deadline(&self) -> Option<OffsetDateTime> {
        match (self.accept_due_at, self.resolve_due_at) {
            (Some(a), Some(r)) => Some(a.min(r)),
            (a, r) => a.or(r),
        }
    }

    /// Applies `command` by `actor` at `now`. On success the ticket has changed, its
    /// version is one higher, and the returned [`Applied`] holds the event that describes
    /// the change and the command's clock effect. On error nothing has changed.
    pub fn apply(
        &mut self,
        command: Command,
        actor: &str,
        note: &str,
        now: OffsetDateTime,
    ) -> Result<Applied, TransitionError> {
        use TicketState as S;
        let from = self.state;
        let clocks = command.clock_effect();
        let refuse = |c: &Command| TransitionError::NotAllowed {
            verb: c.verb(),
            state: from,
        };
        if from.is_final() {
            return Err(refuse(&command));
        }
        let working = matches!(from, S::Assigned | S::Accepted);

        // Decide first, change after: nothing below the match may fail.
        let (to, kind, assignment, pause, extra): (S, EventKind, Option<Assignment>, Pause, Extra) =
            match &command {
                Command::Assign(a) if from == S::Submitted => (
                    S::Assigned,
                    EventKind::Assigned,
                    Some(a.clone()),
                    Pause::None,
                    Extra::None,
                ),
                Command::Accept if from == S::Assigned => (
                    S::Accepted,
                    EventKind::Accepted,
                    self.assignment.clone(),
                    self.pause,
                    Extra::None,
                ),
                Command::Resolve if from == S::Accepted => (
                    S::Resolved,
                    EventKind::Resolved,
                    self.assignment.clone(),
                    Pause::None,
                    Extra::None,
                ),
                Command::Escalate { to, auto } if working => {
                    let current = self.level().ok_or_else(|| refuse(&command))?;
                    if current == ChiefLevel::CommandCenter {
                        return Err(TransitionError::AtTop);
                    }
                    if to.level <= current {
                        return Err(TransitionError::NotUpward {
                            from: current,
                            to: to.level,
                        });
                    }
                    let kind = if *auto {
                        EventKind::AutoEscalated
                    } else {
                        EventKind::Escalated
                    };
                    (
                        S::Assigned,
                        kind,
                        Some(to.clone()),
                        Pause::None,
                        Extra::None,
                    )
                }
                Command::Dispatch { to, deadline } if from.is_open() => {
                    if to.organization.is_none() {
                        return Err(TransitionError::NoOrganization);
                    }
                    if *deadline <= now {
                        return Err(TransitionError::DeadlinePassed {
                            deadline: *deadline,
                        });
                    }
                    (
                        S::Assigned,
                        EventKind::Dispatched,
                        Some(to.clone()),
                        Pause::None,
                        Extra::None,
                    )
                }
                Command::Return { to } => {
                    let held = self
                        .assignment
                        .as_ref()
                        .is_some_and(|a| a.organization.is_some());
                    if from != S::Assigned || !held {
                        return Err(TransitionError::NotReturnable);
                    }
                    if let Some(due) = self.accept_due_at
                        && now > due
                    {
                        return Err(TransitionError::ReturnWindowClosed { due });
                    }
                    (
                        S::Assigned,
                        EventKind::Returned,
                        Some(to.clone()),
                        Pause::None,
                        Extra::None,
                    )
                }
                Command::Reassign(a) if from.is_open() => (
                    S::Assigned,
                    EventKind::Reassigned,
                    Some(a.clone()),
                    Pause::None,
                    Extra::None,
                ),
                Command::Verify { pass: true } if from == S::Resolved => (
                    S::Closed,
                    EventKind::Verified,
                    self.assignment.clone(),
                    Pause::None,
                    Extra::None,
                ),
                Command::Verify { pass: false } if from == S::Resolved => self.reopen(&command)?,
                Command::Reopen if matches!(from, S::Resolved | S::Closed) => {
                    self.reopen(&command)?
                }
                Command::Close if from == S::Resolved => (
                    S::Closed,
                    EventKind::Closed,
                    self.assignment.clone(),
                    Pause::None,
                    Extra::None,
                ),
                Command::Reject if from.is_open() => (
                    S::Rejected,
                    EventKind::Rejected,
                    self.assignment.clone(),
                    Pause::None,
                    Extra::None,
                ),
                Command::Cancel if from.is_open() => (
                    S::Cancelled,
                    EventKind::Cancelled,
                    self.assignment.clone(),
                    Pause::None,
                    Extra::None,
                ),
                // A new report is merged as it comes in; the command center may fold any
                // open ticket it finds to be a duplicate.
                Command::Merge { into } if from.is_open() => {
                    if *into == self.id {
                        return Err(TransitionError::SelfMerge);
                    }
                    (
                        S::Merged,
                        EventKind::Merged,
                        None,
                        Pause::None,
                        Extra::DuplicateOf(*into),
                    )
                }
                Command::Rate(r) if matches!(from, S::Resolved | S::Closed) => (
                    from,
                    EventKind::Rated,
                    self.assignment.clone(),
                    self.pause,
                    Extra::Rating(r.clone()),
                ),
                Command::Note => (
                    from,
                    EventKind::Note,
                    self.assignment.clone(),
                    self.pause,
                    Extra::None,
                ),
                Command::Supervise(order) if from.is_open() => (
                    from,
                    EventKind::Supervised,
                    self.assignment.clone(),
                    self.pause,
                    Extra::Supervision(order.clone()),
                ),
                Command::Warn if working => (
                    from,
                    EventKind::DeadlineWarning,
                    self.assignment.clone(),
                    self.pause,
                    Extra::None,
                ),
                Command::JoinReporter if from.is_open() || from == S::Resolved => (
                    from,
                    EventKind::ReporterJoined,
                    self.assignment.clone(),
                    self.pause,
                    Extra::None,
                ),
                Command::RequestPause { .. } if working => {
                    // 挂起 is a peacetime courtesy: in emergency mode the clocks run on.
                    if !self.clock_rate.is_peacetime() {
                        return Err(TransitionError::Emergency {
                            rate: self.clock_rate,
                        });
                    }
                    if self.pause != Pause::None {
                        return Err(TransitionError::PauseState {
                            verb: "pause",
                            pause: self.pause,
                        });
                    }
                    (
                        from,
                        EventKind::PauseRequested,
                        self.assignment.clone(),
                        Pause::Requested,
                        Extra::None,
                    )
                }
                Command::DecidePause { approve } if working => {
                    if self.pause != Pause::Requested {
                        return Err(TransitionError::PauseState {
                            verb: "decide a pause of",
                            pause: self.pause,
                        });
                    }
                    let (kind, pause) = if *approve {
                        (EventKind::PauseApproved, Pause::Paused)
                    } else {
                        (EventKind::PauseRefused, Pause::None)
                    };
                    (from, kind, self.assignment.clone(), pause, Extra::None)
                }
                Command::SetClockRate { to, .. } if from.is_open() => (
                    from,
                    EventKind::ClockRateChanged,
                    self.assignment.clone(),
                    self.pause,
                    Extra::ClockRate(*to),
                ),
                Command::Resume if working => {
                    if self.pause != Pause::Paused {
                        return Err(TransitionError::PauseState {
                            verb: "resume",
                            pause: self.pause,
                        });
                    }
                    (
                        from,
                        EventKind::Resumed,
                        self.assignment.clone(),
                        Pause::None,
                        Extra::None,
                    )
                }
                _ => return Err(refuse(&command)),
            };

        debug_assert!(
            !matches!(to, S::Assigned | S::Accepted) || assignment.is_some(),
            "a ticket being worked on always has an owner"
        );
        self.state = to;
        // A level change restarts the clocks; the caller sets new due times.
        let holder = |a: &Option<Assignment>| a.as_ref().map(|a| (a.level, a.organization.clone()));
        if holder(&assignment) != holder(&self.assignment) || !to.is_open() {
            self.accept_due_at = None;
            self.resolve_due_at = None;
        }
        self.assignment = assignment;
        self.pause = pause;
        match extra {
            Extra::None => {}
            Extra::DuplicateOf(id) => self.duplicate_of = Some(id),
            Extra::Rating(r) => self.rating = Some(r),
            Extra::ClearRating => self.rating = None,
            Extra::Supervision(order) => {
                self.supervision = Some(order);
                self.supervision_count += 1;
            }
            Extra::ClockRate(rate) => self.clock_rate = rate,
        }
        if from == S::Assigned && to == S::Accepted {
            // 签收: the accept clock has done its work.
            self.accept_due_at = None;
        }
        self.version += 1;
        self.updated_at = now;
        let event = NewEvent {
            kind,
            actor: actor.to_owned(),
            from_state: Some(from),
            to_state: to,
            level: self.level(),
            assignee_person_id: self.assignment.as_ref().and_then(|a| a.person_id.clone()),
            assignee_org_code: self
                .assignment
                .as_ref()
                .and_then(|a| a.organization.clone()),
            note: note.to_owned(),
            at: now,
        };
        Ok(Applied { event, clocks })
    }

    /// 返工: back to the owner who resolved it.
    fn reopen(
        &self,
        command: &Command,
    ) -> Result<(TicketState, EventKind, Option<Assignment>, Pause, Extra), TransitionError> {
        let a = self.assignment.clone().ok_or(TransitionError::NotAllowed {
            verb: command.verb(),
            state: self.state,
        })?;
        Ok((
            TicketState::Assigned,
            EventKind::Reopened,
            Some(a),
            Pause::None,
            Extra::ClearRating,
        ))
    }

    /// The invariants every reachable ticket satisfies; property tests check them after
    /// every command.
    pub fn check_invariants(&self) -> Result<(), String> {
        use TicketState as S;
        if matches!(
            self.state,
            S::Assigned | S::Accepted | S::Resolved | S::Closed
        ) && self.assignment.is_none()
        {
            return Err(format!("{} ticket has no owner", self.state));
        }
        if (self.state == S::Merged) != self.duplicate_of.is_some() {
            return Err("duplicate_of must be set exactly when merged".into());
        }
        if self.pause != Pause::None && !matches!(self.state, S::Assigned | S::Accepted) {
            return Err(format!("{} ticket cannot be paused", self.state));
        }
        if self.rating.is_some() && !matches!(self.state, S::Resolved | S::Closed) {
            return Err(format!("{} ticket cannot carry a rating", self.state));
        }
        if !self.state.is_open() && (self.accept_due_at.is_some() || self.resolve_due_at.is_some())
        {
            return Err(format!("{} ticket has running clocks", self.state));
        }
        if self.version < 1 || self.updated_at < self.created_at {
            return Err("version and times must move forward".into());
        }
        Ok(())
    }
}

/// What a command changes besides state, owner and pause.
enum Extra {
    None,
    DuplicateOf(TicketId),
    Rating(Rating),
    ClearRating,
    Supervision(SupervisionOrder),
    ClockRate(ClockRate),
}

#[cfg(test)]
mod tests;
