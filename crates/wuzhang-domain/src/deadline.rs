//! The clocks of an assignment: when the owner must accept (签收) and resolve, when to warn
//! before that, and the timers that make the store act on them. Intake starts them for
//! the first owner; escalation starts them again for each new one.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use time::OffsetDateTime;

use crate::FieldError;
use crate::calendar::{CalendarError, CalendarYear, WorkingCalendar};
use crate::category::{Category, DEFAULT_CALENDAR, DeadlineKind};
use crate::clock::truncate_to_micros;
use crate::emergency::ClockRate;
use crate::ticket::Ticket;
use crate::timer::{Timer, TimerKind};

/// Share of the accept time after which a warning goes out, unless configured otherwise.
pub const DEFAULT_WARN_SHARE: f64 = 0.8;

/// The working calendars by code. A category naming a calendar that is not there runs on
/// the default one ("cn"), so a typo in a category never stops intake.
#[derive(Debug, Clone)]
pub struct Calendars {
    by_code: HashMap<String, WorkingCalendar>,
}

impl Default for Calendars {
    /// Only the default calendar, with China's holidays as shipped.
    fn default() -> Self {
        Self::new([WorkingCalendar::cn()])
    }
}

impl Calendars {
    /// These calendars; the default one is added if missing.
    pub fn new(calendars: impl IntoIterator<Item = WorkingCalendar>) -> Self {
        let mut by_code: HashMap<String, WorkingCalendar> = calendars
            .into_iter()
            .map(|c| (c.code().to_owned(), c))
            .collect();
        by_code
            .entry(DEFAULT_CALENDAR.to_owned())
            .or_insert_with(WorkingCalendar::cn);
        Self { by_code }
    }

    /// The calendar of `code`, or the default one.
    pub fn get(&self, code: &str) -> &WorkingCalendar {
        self.by_code
            .get(code)
            .or_else(|| self.by_code.get(DEFAULT_CALENDAR))
            .expect("the default calendar is always present")
    }

    /// Whether `code` names a calendar here (else [`get`](Self::get) falls back).
    pub fn contains(&self, code: &str) -> bool {
        self.by_code.contains_key(code)
    }

    /// The calendar of `code`, without falling back.
    pub fn calendar(&self, code: &str) -> Option<&WorkingCalendar> {
        self.by_code.get(code)
    }

    /// The shipped calendars with `years` (as the administrator set them) laid over them:
    /// a year replaces the shipped one of the same code and year; a new code starts a
    /// calendar in the zone of its first year.
    pub fn with_years(years: impl IntoIterator<Item = CalendarYear>) -> Result<Self, FieldError> {
        let mut c = Self::default();
        for y in years {
            let cal = match c.by_code.get_mut(&y.code) {
                Some(cal) => cal,
                None => {
                    let cal = WorkingCalendar::new(y.code.clone(), y.time_zone.clone())?;
                    c.by_code.entry(y.code.clone()).or_insert(cal)
                }
            };
            cal.set_year(y)?;
        }
        Ok(c)
    }
}

/// The calendars in force, replaced whole when the administrator changes one; readers
/// take a snapshot ([`current`](Self::current)) and never see a half-changed set.
#[derive(Debug)]
pub struct CalendarBook {
    current: RwLock<Arc<Calendars>>,
}

impl CalendarBook {
    pub fn new(calendars: Calendars) -> Self {
        Self {
            current: RwLock::new(Arc::new(calendars)),
        }
    }

    pub fn current(&self) -> Arc<Calendars> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn replace(&self, calendars: Calendars) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(calendars);
    }
}

impl Default for CalendarBook {
    fn default() -> Self {
        Self::new(Calendars::default())
    }
}

/// When an owner must act, counted on the category's calendar from the assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clocks {
    pub accept_due: OffsetDateTime,
    pub resolve_due: OffsetDateTime,
    /// The warning before the accept deadline.
    pub warn_at: OffsetDateTime,
}

impl Clocks {
    /// Starts both clocks at `now` for a ticket of `category` whose clocks run at `rate`:
    /// the category's clocks as in peacetime, each then shortened by the rate as a switch
    /// would shorten it at its start (so a clock of working days shrinks in working time,
    /// not into hours counted as working hours).
    pub fn start(
        category: &Category,
        calendars: &Calendars,
        now: OffsetDateTime,
        warn_share: f64,
        rate: ClockRate,
    ) -> Result<Self, CalendarError> {
        let calendar = calendars.get(&category.calendar_code);
        let kind_for = |within| kind_for(category, within);
        let accept_kind = kind_for(category.accept_within);
        let resolve_kind = kind_for(category.resolve_within);
        let rates = (ClockRate::PEACETIME, rate);
        let accept_due = calendar.due_at(now, category.accept_within, accept_kind)?;
        let accept_due = rescale_due(calendar, now, accept_due, accept_kind, rates);
        let resolve_due = calendar.due_at(now, category.resolve_within, resolve_kind)?;
        let resolve_due = rescale_due(calendar, now, resolve_due, resolve_kind, rates);
        let warn_at = calendar.share_point(now, accept_due, warn_share, accept_kind);
        Ok(Self {
            accept_due,
            resolve_due,
            warn_at,
        })
    }

    /// Sets the ticket's due times and returns the timers to store with it, at the level
    /// that owns it now (a timer for another level is stale when it fires).
    pub fn apply(&self, ticket: &mut Ticket) -> Vec<Timer> {
        ticket.accept_due_at = Some(self.accept_due);
        ticket.resolve_due_at = Some(self.resolve_due);
        let Some(level) = ticket.level() else {
            return Vec::new();
        };
        let timer = |kind, due_at| Timer::for_ticket(ticket, level, kind, due_at);
        vec![
            timer(TimerKind::Warning, self.warn_at),
            timer(TimerKind::Accept, self.accept_due),
            timer(TimerKind::Resolve, self.resolve_due),
        ]
    }
}

/// "Accept within 2 hours, resolve within 3 working days" is one category: under working
/// days, a duration short of whole days counts in working hours.
fn kind_for(category: &Category, within: time::Duration) -> DeadlineKind {
    match category.deadline_kind {
        DeadlineKind::WorkingDays if within.whole_seconds() % 86_400 != 0 => {
            DeadlineKind::WorkingHours
        }
        k => k,
    }
}

/// The timers once the owner has accepted: the resolve deadline stands, and its warning
/// comes at `warn_share` of the time left to it, counted on the category's calendar (so
/// under working time it falls in working time, not in a night or a holiday).
pub(crate) fn after_accept(
    ticket: &Ticket,
    category: &Category,
    calendars: &Calendars,
    now: OffsetDateTime,
    warn_share: f64,
) -> Vec<Timer> {
    let (Some(level), Some(due)) = (ticket.level(), ticket.resolve_due_at) else {
        return Vec::new();
    };
    let timer = |kind, due_at| Timer::for_ticket(ticket, level, kind, due_at);
    let mut out = vec![timer(TimerKind::Resolve, due)];
    if due > now {
        let calendar = calendars.get(&category.calendar_code);
        let kind = kind_for(category, category.resolve_within);
        let warn = calendar.share_point(now, due, warn_share, kind);
        out.push(timer(
            TimerKind::Warning,
            crate::clock::truncate_to_micros(warn),
        ));
    }
    out
}

/// The timers a pause decision leaves: approved, the pause's end (the clocks stop);
/// refused, everything but it (the clocks run on). A supervision order's deadline stays
/// either way: it is the command center's own, and a pause it approves does not move it.
pub(crate) fn after_pause_decision(timers: &[Timer], approve: bool) -> Vec<Timer> {
    timers
        .iter()
        .filter(|t| t.kind == TimerKind::Supervision || (t.kind == TimerKind::Resume) == approve)
        .cloned()
        .collect()
}

/// Clocks running again after a pause that began at `paused_at`: each due time moves on
/// by the time the clocks stood still, and the ticket's timers are made anew.
pub(crate) fn resume(
    ticket: &mut Ticket,
    paused_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Vec<Timer> {
    let stood = (now - paused_at).max(time::Duration::ZERO);
    ticket.accept_due_at = ticket.accept_due_at.map(|d| d + stood);
    ticket.resolve_due_at = ticket.resolve_due_at.map(|d| d + stood);
    let Some(level) = ticket.level() else {
        return Vec::new();
    };
    let timer = |kind, due_at| Timer::for_ticket(ticket, level, kind, due_at);
    let mut out = Vec::new();
    if ticket.state == crate::ticket::TicketState::Assigned
        && let Some(d) = ticket.accept_due_at
    {
        out.push(timer(TimerKind::Accept, d));
    }
    if let Some(d) = ticket.resolve_due_at {
        out.push(timer(TimerKind::Resolve, d));
    }
    // A supervision order still due keeps its deadline (a pause does not move it).
    if let Some(o) = ticket.supervision.as_ref().filter(|o| o.deadline > now) {
        out.push(timer(TimerKind::Supervision, o.deadline));
    }
    out
}

/// `due` as moved when the clock's rate changes from `rates.0` to `rates.1` at `now`: the
/// time left multiplied by `from / to`, counted as the clock counts (working time for the
/// working kinds, where any lies ahead). A due already passed, or no change of rate,
/// leaves it as it is.
pub(crate) fn rescale_due(
    calendar: &WorkingCalendar,
    now: OffsetDateTime,
    due: OffsetDateTime,
    kind: DeadlineKind,
    (from, to): (ClockRate, ClockRate),
) -> OffsetDateTime {
    if from == to || due <= now {
        return due;
    }
    let wall = || truncate_to_micros(now + from.rescale_left(to, due - now));
    let moved = match kind {
        DeadlineKind::Natural | DeadlineKind::UrgentHours => wall(),
        DeadlineKind::WorkingHours | DeadlineKind::WorkingDays => {
            let left = calendar.working_time_between(now, due);
            if left.is_zero() {
                wall()
            } else {
                calendar
                    .due_at(now, from.rescale_left(to, left), DeadlineKind::WorkingHours)
                    .unwrap_or_else(|_| wall())
            }
        }
    };
    moved.checked_to_offset(due.offset()).unwrap_or(moved)
}

/// The timers after a change of clock rate ([`crate::clocks::ClockEffect::Rescaled`]):
/// each running owner clock (warning, accept, resolve) and the ticket's due times moved by
/// [`rescale_due`]; the other timers (a supervision deadline, a pause's end) stand.
pub(crate) fn rescale(
    ticket: &mut Ticket,
    category: &Category,
    calendars: &Calendars,
    standing: &[Timer],
    now: OffsetDateTime,
    rates: (ClockRate, ClockRate),
) -> Vec<Timer> {
    let calendar = calendars.get(&category.calendar_code);
    let accept_kind = kind_for(category, category.accept_within);
    let resolve_kind = kind_for(category, category.resolve_within);
    let accepted = ticket.state == crate::ticket::TicketState::Accepted;
    let warning_kind = if accepted { resolve_kind } else { accept_kind };
    let moved = |due, kind| rescale_due(calendar, now, due, kind, rates);
    ticket.accept_due_at = ticket.accept_due_at.map(|d| moved(d, accept_kind));
    ticket.resolve_due_at = ticket.resolve_due_at.map(|d| moved(d, resolve_kind));
    standing
        .iter()
        .map(|t| {
            let due_at = match t.kind {
                TimerKind::Accept => moved(t.due_at, accept_kind),
                TimerKind::Resolve => moved(t.due_at, resolve_kind),
                TimerKind::Warning => moved(t.due_at, warning_kind),
                TimerKind::Supervision | TimerKind::Resume => t.due_at,
            };
            Timer {
                due_at,
                ..t.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use time::Duration;
    use time::macros::datetime;

    use super::*;
    use crate::chief::ChiefLevel;

    fn category(kind: DeadlineKind) -> Category {
        crate::testing::category(kind, "nowhere")
    }

    #[test]
    fn clocks_run_on_the_category_calendar_with_a_warning_before_accept() {
        let calendars = Calendars::default();
        assert!(!calendars.contains("nowhere"));
        // 2026-09-30 10:00 Beijing, the day before the National Day holiday.
        let now = datetime!(2026-09-30 02:00 UTC);
        let natural = Clocks::start(
            &category(DeadlineKind::Natural),
            &calendars,
            now,
            0.8,
            ClockRate::PEACETIME,
        )
        .unwrap();
        assert_eq!(natural.accept_due, now + Duration::hours(2));
        assert_eq!(natural.resolve_due, now + Duration::days(3));
        assert_eq!(natural.warn_at, now + Duration::minutes(96));
        let working = Clocks::start(
            &category(DeadlineKind::WorkingDays),
            &calendars,
            now,
            0.8,
            ClockRate::PEACETIME,
        )
        .unwrap();
        // Three working days: 8 and 9 October, and Saturday 10 October (调休).
        assert_eq!(working.resolve_due, datetime!(2026-10-10 02:00 UTC));
        // Accepting within two hours counts working hours: 10:00 + 2 h = 12:00.
        assert_eq!(working.accept_due, datetime!(2026-09-30 04:00 UTC));
        assert!(working.warn_at < working.accept_due);
    }

    #[test]
    fn emergency_clocks_are_the_peacetime_ones_shortened_as_they_count() {
        let calendars = Calendars::default();
        let two = ClockRate::from_hundredths("rate", 200).unwrap();
        // Wednesday 2026-09-16 10:00 Beijing, an ordinary working week.
        let now = datetime!(2026-09-16 02:00 UTC);
        let natural =
            Clocks::start(&category(DeadlineKind::Natural), &calendars, now, 0.8, two).unwrap();
        assert_eq!(natural.accept_due, now + Duration::hours(1));
        assert_eq!(natural.resolve_due, now + Duration::hours(36));
        assert_eq!(natural.warn_at, now + Duration::minutes(48));
        // Three working days (to Monday 21st 10:00) hold 24 working hours; half of them,
        // 12, from Wednesday 10:00 end on Thursday 14:00 (working 9–12, 13–18... as the
        // calendar says): never 36 h counted as working hours, which would be longer.
        let peace = Clocks::start(
            &category(DeadlineKind::WorkingDays),
            &calendars,
            now,
            0.8,
            ClockRate::PEACETIME,
        )
        .unwrap();
        let working = Clocks::start(
            &category(DeadlineKind::WorkingDays),
            &calendars,
            now,
            0.8,
            two,
        )
        .unwrap();
        let cal = calendars.get("cn");
        assert_eq!(
            cal.working_time_between(now, working.resolve_due) * 2,
            cal.working_time_between(now, peace.resolve_due)
        );
        assert!(working.resolve_due < peace.resolve_due);
        // Back to peacetime at once gives the peacetime deadline again.
        let back = rescale_due(
            cal,
            now,
            working.resolve_due,
            DeadlineKind::WorkingDays,
            (two, ClockRate::PEACETIME),
        );
        assert_eq!(back, peace.resolve_due);
        // A deadline already passed does not move.
        let passed = now - Duration::minutes(5);
        let moved = rescale_due(
            cal,
            now,
            passed,
            DeadlineKind::Natural,
            (ClockRate::PEACETIME, two),
        );
        assert_eq!(moved, passed);
    }

    use crate::testing::grid_ticket;

    #[test]
    fn the_resolve_warning_after_acceptance_falls_in_working_time() {
        let calendars = Calendars::default();
        let cat = category(DeadlineKind::WorkingDays);
        // Resolve due Friday 9 October 2026, 17:00 Beijing; accepted Thursday 17:00.
        let due = datetime!(2026-10-09 09:00 UTC);
        let now = datetime!(2026-10-08 09:00 UTC);
        let mut ticket = grid_ticket(now);
        ticket.resolve_due_at = Some(due);
        let timers = after_accept(&ticket, &cat, &calendars, now, 0.5);
        let warn = timers
            .iter()
            .find(|t| t.kind == TimerKind::Warning)
            .unwrap()
            .due_at;
        // Half the working time left (one working day) is Friday around noon, not
        // Thursday night as half of the wall-clock time would be.
        let wall_clock_half = now + (due - now) / 2;
        assert_eq!(wall_clock_half, datetime!(2026-10-08 21:00 UTC));
        assert!(warn > datetime!(2026-10-09 00:00 UTC), "{warn}");
        assert!(warn < due);
        let resolve = timers
            .iter()
            .find(|t| t.kind == TimerKind::Resolve)
            .unwrap();
        assert_eq!((resolve.due_at, resolve.level), (due, ChiefLevel::Grid));
    }
}
