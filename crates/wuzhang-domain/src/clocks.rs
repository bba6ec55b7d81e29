//! One home for a ticket's clocks: what every command does to the timers that watch it.
//!
//! [`Ticket::apply`](crate::ticket::Ticket::apply) decides, with the state change, a
//! [`ClockEffect`]: start new clocks, keep them, clear them, or one of the few changes in
//! between (accepted, a supervision order, a pause asked for, decided or ended). The
//! effect is a function of the command alone, so the rule for each command is written
//! once, here, and tested without a server (see the table test below). Whoever writes the
//! change (the chief's desk, the command center, intake, the timer worker) reads what the
//! effect [`needs`](ClockEffect::needs) — the category, the timers standing now, when a
//! pause began — and [`ClockEffect::timers`] turns it into the ticket's timers and due
//! times. No caller chooses clocks of its own. The other half, what a timer asks of its
//! ticket when it comes due (warn, escalate, end a pause, or nothing), is [`due`].
//!
//! Rules that cost two bug fixes when they were spread over the handlers:
//! - accepting ends the accept clock; the resolve clock runs on, with a new warning, and a
//!   supervision order's deadline stands (it is the command center's, given to this owner);
//! - a pause's end and a supervision order's deadline are timers of their own: asking for
//!   a pause adds its end, deciding it keeps the order's deadline either way, resuming
//!   moves the owner's clocks by the time they stood and brings the order's deadline back
//!   while it is still due;
//! - a new owner (escalation, reassignment) or the same one again (返工) starts new clocks
//!   from now and drops every other timer, a standing order's deadline included.

use time::OffsetDateTime;

use crate::calendar::CalendarError;
use crate::category::Category;
use crate::chief::ChiefLevel;
use crate::deadline::{Calendars, Clocks, after_accept, after_pause_decision, rescale, resume};
use crate::emergency::ClockRate;
use crate::ticket::{Command, Pause, Ticket, TicketState};
use crate::timer::{Timer, TimerKind};

/// What a command does to its ticket's timers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClockEffect {
    /// The timers stand as they are (a note, a warning, a rating).
    Keep,
    /// No clock runs any more: the work is done or ended (resolved, closed, rejected,
    /// cancelled, merged).
    Clear,
    /// A new owner, or the same one again (返工): accept and resolve clocks from now, on
    /// the category's calendar; every other timer goes.
    Start,
    /// 派遣 to an organization: as [`Start`](Self::Start), the resolve clock ending at the
    /// command center's `deadline` instead of the category's (and the accept clock no
    /// later than it).
    Dispatched { deadline: OffsetDateTime },
    /// 签收: the accept clock has done its work; the resolve clock and its warning run on,
    /// and a standing supervision order's deadline.
    Accepted,
    /// A supervision order (督办): its deadline joins the timers, replacing an earlier
    /// order's.
    Supervise { deadline: OffsetDateTime },
    /// A pause asked for until `until`: the clocks run on until the command center
    /// decides; the pause's end joins them (replacing an earlier one).
    PauseRequested { until: OffsetDateTime },
    /// Approved: only the pause's end (and a supervision order's deadline) stays, the
    /// owner's clocks stop. Refused: everything but the pause's end.
    PauseDecided { approve: bool },
    /// The clocks run again, each moved on by the time it stood still; a supervision
    /// order's deadline comes back while it is still due.
    Resumed,
    /// The subdistrict switched emergency mode: what is left of each running owner clock
    /// (warning, accept, resolve) is multiplied by `from / to`; a supervision deadline and
    /// a pause's end stand, and so do the clocks of a paused ticket
    /// ([`crate::emergency`]).
    Rescaled { from: ClockRate, to: ClockRate },
}

/// What turning an effect into timers reads, besides the calendars.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClockNeeds {
    /// The ticket's category (its deadlines and calendar).
    pub category: bool,
    /// The ticket's timers as they stand before the change.
    pub standing: bool,
    /// When the current pause began.
    pub paused_at: bool,
}

/// What the writer of a change read for its effect ([`ClockEffect::needs`]); the rest may
/// stay `None`.
#[derive(Debug, Clone, Copy)]
pub struct ClockInputs<'a> {
    pub calendars: &'a Calendars,
    /// Share of a clock after which the owner is warned.
    pub warn_share: f64,
    pub category: Option<&'a Category>,
    pub standing: Option<&'a [Timer]>,
    pub paused_at: Option<OffsetDateTime>,
}

impl<'a> ClockInputs<'a> {
    pub fn new(calendars: &'a Calendars, warn_share: f64) -> Self {
        Self {
            calendars,
            warn_share,
            category: None,
            standing: None,
            paused_at: None,
        }
    }

    pub fn category(mut self, category: &'a Category) -> Self {
        self.category = Some(category);
        self
    }

    pub fn standing(mut self, timers: &'a [Timer]) -> Self {
        self.standing = Some(timers);
        self
    }

    pub fn paused_at(mut self, at: OffsetDateTime) -> Self {
        self.paused_at = Some(at);
        self
    }
}

/// Why an effect could not be turned into timers. Both are faults of the server, not of
/// the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// The writer did not read what [`ClockEffect::needs`] asked for.
    #[error("clock effect {effect} needs the {input}, which was not read")]
    Missing {
        effect: &'static str,
        input: &'static str,
    },
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

impl ClockEffect {
    /// A name for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            ClockEffect::Keep => "keep",
            ClockEffect::Clear => "clear",
            ClockEffect::Start => "start",
            ClockEffect::Dispatched { .. } => "dispatched",
            ClockEffect::Accepted => "accepted",
            ClockEffect::Supervise { .. } => "supervise",
            ClockEffect::PauseRequested { .. } => "pause requested",
            ClockEffect::PauseDecided { .. } => "pause decided",
            ClockEffect::Resumed => "resumed",
            ClockEffect::Rescaled { .. } => "rescaled",
        }
    }

    /// What [`timers`](Self::timers) reads for this effect.
    pub fn needs(&self) -> ClockNeeds {
        let mut needs = ClockNeeds::default();
        match self {
            ClockEffect::Keep | ClockEffect::Clear => {}
            ClockEffect::Start | ClockEffect::Dispatched { .. } => needs.category = true,
            ClockEffect::Accepted => {
                needs.category = true;
                needs.standing = true;
            }
            ClockEffect::Supervise { .. }
            | ClockEffect::PauseRequested { .. }
            | ClockEffect::PauseDecided { .. } => needs.standing = true,
            ClockEffect::Resumed => needs.paused_at = true,
            ClockEffect::Rescaled { .. } => {
                needs.category = true;
                needs.standing = true;
            }
        }
        needs
    }

    /// The ticket's timers after the command that decided this effect (`None`: they stand
    /// as they are), setting its due times to match. `ticket` is the ticket after the
    /// command; `now` the command's time.
    pub fn timers(
        &self,
        ticket: &mut Ticket,
        inputs: &ClockInputs<'_>,
        now: OffsetDateTime,
    ) -> Result<Option<Vec<Timer>>, ClockError> {
        let missing = |input| ClockError::Missing {
            effect: self.name(),
            input,
        };
        let category = || inputs.category.ok_or_else(|| missing("category"));
        let standing = || inputs.standing.ok_or_else(|| missing("standing timers"));
        let timers = match self {
            ClockEffect::Keep => return Ok(None),
            ClockEffect::Clear => {
                ticket.accept_due_at = None;
                ticket.resolve_due_at = None;
                Vec::new()
            }
            ClockEffect::Start | ClockEffect::Dispatched { .. } => {
                let mut clocks = Clocks::start(
                    category()?,
                    inputs.calendars,
                    now,
                    inputs.warn_share,
                    ticket.clock_rate,
                )?;
                if let ClockEffect::Dispatched { deadline } = self {
                    clocks.resolve_due = *deadline;
                    if clocks.accept_due > *deadline {
                        clocks.accept_due = *deadline;
                        clocks.warn_at = clocks.warn_at.min(*deadline);
                    }
                }
                clocks.apply(ticket)
            }
            ClockEffect::Accepted => {
                ticket.accept_due_at = None;
                let mut timers = after_accept(
                    ticket,
                    category()?,
                    inputs.calendars,
                    now,
                    inputs.warn_share,
                );
                timers.extend(
                    standing()?
                        .iter()
                        .filter(|t| t.kind == TimerKind::Supervision)
                        .cloned(),
                );
                timers
            }
            ClockEffect::Supervise { deadline } => {
                replace_kind(ticket, standing()?, TimerKind::Supervision, *deadline)
            }
            ClockEffect::PauseRequested { until } => {
                replace_kind(ticket, standing()?, TimerKind::Resume, *until)
            }
            ClockEffect::PauseDecided { approve } => after_pause_decision(standing()?, *approve),
            ClockEffect::Resumed => {
                let paused_at = inputs.paused_at.ok_or_else(|| missing("pause start"))?;
                resume(ticket, paused_at, now)
            }
            ClockEffect::Rescaled { .. } if ticket.pause == Pause::Paused => return Ok(None),
            ClockEffect::Rescaled { from, to } => rescale(
                ticket,
                category()?,
                inputs.calendars,
                standing()?,
                now,
                (*from, *to),
            ),
        };
        Ok(Some(timers))
    }
}

/// What a due timer asks of its ticket: the other half of the clock rules, which the timer
/// worker carries out (it reads the chain for an escalation; everything else is a
/// command on the ticket, whose own clock effect follows as for any other command).
#[derive(Debug, Clone, PartialEq)]
pub enum Due {
    /// Nothing: the timer is stale (the ticket has left its level, the work is done or
    /// not yet assigned, its clock stands still in a pause), or the ticket is at the top of
    /// the chain, where a passed deadline leaves it overdue.
    Drop,
    /// Up the chain to the next staffed post; `why` says which deadline passed.
    Escalate { why: String },
    /// A command on the ticket, by the timer.
    Apply { command: Command, note: String },
}

/// What `timer`, now due, asks of `ticket` (as stored when it fired).
pub fn due(timer: &Timer, ticket: &Ticket) -> Due {
    let working = matches!(ticket.state, TicketState::Assigned | TicketState::Accepted);
    if !working {
        return Due::Drop;
    }
    if timer.kind == TimerKind::Resume {
        // A pause's end belongs to the ticket, not to a level.
        return match ticket.pause {
            Pause::Paused => Due::Apply {
                command: Command::Resume,
                note: "pause ended as asked".into(),
            },
            Pause::Requested => Due::Apply {
                command: Command::DecidePause { approve: false },
                note: "the pause was not decided before its end; the clocks ran on".into(),
            },
            Pause::None => Due::Drop,
        };
    }
    if ticket.level() != Some(timer.level) || ticket.pause == Pause::Paused {
        return Due::Drop;
    }
    let accepted = ticket.state == TicketState::Accepted;
    match timer.kind {
        TimerKind::Warning => {
            let (what, deadline) = if accepted {
                ("resolve", ticket.resolve_due_at)
            } else {
                ("accept", ticket.accept_due_at)
            };
            let note = match deadline {
                Some(d) => format!("{what} deadline at {d} is near"),
                None => format!("{what} deadline is near"),
            };
            Due::Apply {
                command: Command::Warn,
                note,
            }
        }
        // Accepted in time: the accept deadline no longer matters.
        TimerKind::Accept if accepted => Due::Drop,
        TimerKind::Accept | TimerKind::Resolve
            if ticket.level() == Some(ChiefLevel::CommandCenter) =>
        {
            Due::Drop
        }
        TimerKind::Accept | TimerKind::Resolve => Due::Escalate {
            why: format!("{} deadline passed", timer.kind.as_str()),
        },
        // A supervision order's deadline passed with the work still owed: the owner and
        // the command center are told, in the log, as with a deadline warning. The order
        // stays on the ticket; evaluation reads the log.
        TimerKind::Supervision => Due::Apply {
            command: Command::Warn,
            note: match &ticket.supervision {
                Some(o) => format!("supervision deadline at {} passed", o.deadline),
                None => "supervision deadline passed".to_owned(),
            },
        },
        TimerKind::Resume => Due::Drop,
    }
}

/// The standing timers with the one of `kind` replaced by one due at `due`, at the level
/// that owns the ticket now (none when nobody owns it).
fn replace_kind(
    ticket: &Ticket,
    standing: &[Timer],
    kind: TimerKind,
    due: OffsetDateTime,
) -> Vec<Timer> {
    let mut timers: Vec<Timer> = standing
        .iter()
        .filter(|t| t.kind != kind)
        .cloned()
        .collect();
    if let Some(level) = ticket.level() {
        timers.push(Timer::for_ticket(
            ticket,
            level,
            kind,
            crate::clock::truncate_to_micros(due),
        ));
    }
    timers
}

#[cfg(test)]
mod tests;
