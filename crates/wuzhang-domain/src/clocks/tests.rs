//! Every command × every clock: the effect it decides and the timers that come of it,
//! from one standing set of timers, checked by hand.

use time::Duration;
use time::macros::datetime;

use super::*;
use crate::category::DeadlineKind;
use crate::chief::ChiefLevel;
use crate::testing::post;
use crate::ticket::{Command, Pause, Rating, Severity, SupervisionOrder, TicketId, TicketState};
use crate::timer::TimerKind as K;

/// A Thursday morning in Beijing, far from holidays.
const NOW: OffsetDateTime = datetime!(2026-10-15 02:00 UTC);
/// When the ticket was assigned: its clocks ran from here.
const ASSIGNED_AT: OffsetDateTime = datetime!(2026-10-15 01:00 UTC);

fn category() -> Category {
    crate::testing::category(DeadlineKind::Natural, "cn")
}

const ORDER_DUE: OffsetDateTime = datetime!(2026-10-16 02:00 UTC);
const PAUSE_END: OffsetDateTime = datetime!(2026-10-15 06:00 UTC);

fn order(deadline: OffsetDateTime) -> SupervisionOrder {
    SupervisionOrder {
        severity: Severity::Serious,
        deadline,
        note: String::new(),
        issued_by: "cc".into(),
        issued_at: ASSIGNED_AT,
    }
}

/// A grid ticket in `state` with `pause`, carrying a supervision order, its clocks as
/// started an hour ago.
fn ticket(state: TicketState, pause: Pause) -> Ticket {
    let mut t = crate::testing::grid_ticket(ASSIGNED_AT);
    t.assignment = None;
    if state != TicketState::Submitted {
        t.state = state;
        t.assignment = Some(crate::testing::grid_post());
        t.supervision = Some(order(ORDER_DUE));
        t.supervision_count = 1;
    }
    if state.is_open() && state != TicketState::Submitted {
        t.accept_due_at =
            (state == TicketState::Assigned).then_some(ASSIGNED_AT + Duration::hours(2));
        t.resolve_due_at = Some(ASSIGNED_AT + Duration::days(3));
    }
    t.pause = pause;
    t.check_invariants().unwrap();
    t
}

/// One timer of each kind, at the grid level, as a working ticket would have them.
fn standing(t: &Ticket) -> Vec<Timer> {
    let at = |kind, due| Timer::for_ticket(t, ChiefLevel::Grid, kind, due);
    vec![
        at(K::Warning, ASSIGNED_AT + Duration::minutes(96)),
        at(K::Accept, ASSIGNED_AT + Duration::hours(2)),
        at(K::Resolve, ASSIGNED_AT + Duration::days(3)),
        at(K::Supervision, ORDER_DUE),
        at(K::Resume, PAUSE_END),
    ]
}

/// What a row expects of the timers: kept as they stand, or exactly these (kind, level,
/// due), in any order.
enum Expect {
    Kept,
    Timers(Vec<(TimerKind, ChiefLevel, OffsetDateTime)>),
}

#[test]
fn every_command_decides_its_clocks() {
    use ChiefLevel::{Grid, Lane};
    use Expect::{Kept, Timers};
    use TicketState as S;
    let fresh = |level| {
        vec![
            (K::Warning, level, NOW + Duration::minutes(96)),
            (K::Accept, level, NOW + Duration::hours(2)),
            (K::Resolve, level, NOW + Duration::days(3)),
        ]
    };
    let resolve_due = ASSIGNED_AT + Duration::days(3);
    let later_order = datetime!(2026-10-17 02:00 UTC);
    let until = datetime!(2026-10-20 02:00 UTC);
    let rating = Rating::new(5, false, String::new()).unwrap();
    #[rustfmt::skip]
    let rows: Vec<(&str, S, Pause, Command, ClockEffect, Expect)> = vec![
        ("assign", S::Submitted, Pause::None, Command::Assign(post(Grid, "220102001001001")),
            ClockEffect::Start, Timers(fresh(Grid))),
        ("accept keeps resolve and the order", S::Assigned, Pause::None, Command::Accept,
            ClockEffect::Accepted, Timers(vec![
                (K::Resolve, Grid, resolve_due),
                // 80% of the 71 hours left.
                (K::Warning, Grid, NOW + Duration::minutes(71 * 60 * 8 / 10)),
                (K::Supervision, Grid, ORDER_DUE),
            ])),
        ("resolve", S::Accepted, Pause::None, Command::Resolve, ClockEffect::Clear, Timers(vec![])),
        ("escalate", S::Assigned, Pause::None,
            Command::Escalate { to: post(Lane, "220102001001"), auto: false },
            ClockEffect::Start, Timers(fresh(Lane))),
        ("auto escalate", S::Accepted, Pause::None,
            Command::Escalate { to: post(Lane, "220102001001"), auto: true },
            ClockEffect::Start, Timers(fresh(Lane))),
        ("reassign", S::Accepted, Pause::Paused, Command::Reassign(post(Lane, "220102001001")),
            ClockEffect::Start, Timers(fresh(Lane))),
        ("dispatch: the command center's deadline ends the resolve clock", S::Accepted,
            Pause::Paused,
            Command::Dispatch { to: org_post(), deadline: NOW + Duration::days(1) },
            ClockEffect::Dispatched { deadline: NOW + Duration::days(1) }, Timers(vec![
                (K::Warning, Grid, NOW + Duration::minutes(96)),
                (K::Accept, Grid, NOW + Duration::hours(2)),
                (K::Resolve, Grid, NOW + Duration::days(1)),
            ])),
        ("dispatch: a deadline sooner than the accept clock ends both", S::Assigned,
            Pause::None,
            Command::Dispatch { to: org_post(), deadline: NOW + Duration::hours(1) },
            ClockEffect::Dispatched { deadline: NOW + Duration::hours(1) }, Timers(vec![
                (K::Warning, Grid, NOW + Duration::hours(1)),
                (K::Accept, Grid, NOW + Duration::hours(1)),
                (K::Resolve, Grid, NOW + Duration::hours(1)),
            ])),
        // (The table's ticket is the organization's for this row: see below.)
        ("return (退回) to the command center", S::Assigned, Pause::None,
            Command::Return { to: post(ChiefLevel::CommandCenter, "220102001") },
            ClockEffect::Start, Timers(fresh(ChiefLevel::CommandCenter))),
        ("verify pass", S::Resolved, Pause::None, Command::Verify { pass: true },
            ClockEffect::Clear, Timers(vec![])),
        ("verify fail (返工)", S::Resolved, Pause::None, Command::Verify { pass: false },
            ClockEffect::Start, Timers(fresh(Grid))),
        ("close", S::Resolved, Pause::None, Command::Close, ClockEffect::Clear, Timers(vec![])),
        ("reopen", S::Closed, Pause::None, Command::Reopen, ClockEffect::Start, Timers(fresh(Grid))),
        ("reject", S::Assigned, Pause::None, Command::Reject, ClockEffect::Clear, Timers(vec![])),
        ("cancel", S::Accepted, Pause::None, Command::Cancel, ClockEffect::Clear, Timers(vec![])),
        ("merge", S::Assigned, Pause::None, Command::Merge { into: TicketId::new(NOW) },
            ClockEffect::Clear, Timers(vec![])),
        ("rate", S::Resolved, Pause::None, Command::Rate(rating), ClockEffect::Keep, Kept),
        ("note", S::Accepted, Pause::None, Command::Note, ClockEffect::Keep, Kept),
        ("warn", S::Assigned, Pause::None, Command::Warn, ClockEffect::Keep, Kept),
        ("join reporter", S::Resolved, Pause::None, Command::JoinReporter, ClockEffect::Keep, Kept),
        ("supervise replaces the order's deadline", S::Accepted, Pause::None,
            Command::Supervise(order(later_order)),
            ClockEffect::Supervise { deadline: later_order }, Timers(vec![
                (K::Warning, Grid, ASSIGNED_AT + Duration::minutes(96)),
                (K::Accept, Grid, ASSIGNED_AT + Duration::hours(2)),
                (K::Resolve, Grid, resolve_due),
                (K::Resume, Grid, PAUSE_END),
                (K::Supervision, Grid, later_order),
            ])),
        ("request pause replaces its end", S::Assigned, Pause::None,
            Command::RequestPause { until },
            ClockEffect::PauseRequested { until }, Timers(vec![
                (K::Warning, Grid, ASSIGNED_AT + Duration::minutes(96)),
                (K::Accept, Grid, ASSIGNED_AT + Duration::hours(2)),
                (K::Resolve, Grid, resolve_due),
                (K::Supervision, Grid, ORDER_DUE),
                (K::Resume, Grid, until),
            ])),
        ("approve pause: the clocks stop, the order stands", S::Assigned, Pause::Requested,
            Command::DecidePause { approve: true },
            ClockEffect::PauseDecided { approve: true }, Timers(vec![
                (K::Supervision, Grid, ORDER_DUE),
                (K::Resume, Grid, PAUSE_END),
            ])),
        ("refuse pause: the clocks run on", S::Assigned, Pause::Requested,
            Command::DecidePause { approve: false },
            ClockEffect::PauseDecided { approve: false }, Timers(vec![
                (K::Warning, Grid, ASSIGNED_AT + Duration::minutes(96)),
                (K::Accept, Grid, ASSIGNED_AT + Duration::hours(2)),
                (K::Resolve, Grid, resolve_due),
                (K::Supervision, Grid, ORDER_DUE),
            ])),
        // Paused half an hour ago (see `paused_at` below): the owner's clocks move on by
        // half an hour, the order's deadline does not.
        ("resume moves the clocks, not the order", S::Assigned, Pause::Paused, Command::Resume,
            ClockEffect::Resumed, Timers(vec![
                (K::Accept, Grid, ASSIGNED_AT + Duration::minutes(150)),
                (K::Resolve, Grid, resolve_due + Duration::minutes(30)),
                (K::Supervision, Grid, ORDER_DUE),
            ])),
        // Emergency mode at twice the rate, an hour after the assignment: what is left of
        // each owner clock halves (warning 36 min left, accept 1 h, resolve 71 h); the
        // order's deadline and the pause's end are dates, and stand.
        ("emergency: the owner's clocks run twice as fast", S::Assigned, Pause::None,
            Command::SetClockRate { from: ClockRate::PEACETIME, to: twice() },
            ClockEffect::Rescaled { from: ClockRate::PEACETIME, to: twice() }, Timers(vec![
                (K::Warning, Grid, NOW + Duration::minutes(18)),
                (K::Accept, Grid, NOW + Duration::minutes(30)),
                (K::Resolve, Grid, NOW + Duration::minutes(71 * 30)),
                (K::Supervision, Grid, ORDER_DUE),
                (K::Resume, Grid, PAUSE_END),
            ])),
        ("emergency: a paused ticket's clocks stand still", S::Accepted, Pause::Paused,
            Command::SetClockRate { from: ClockRate::PEACETIME, to: twice() },
            ClockEffect::Rescaled { from: ClockRate::PEACETIME, to: twice() }, Kept),
    ];
    let calendars = Calendars::default();
    let category = category();
    let mut seen = std::collections::HashSet::new();
    for (name, state, pause, command, effect, expect) in rows {
        seen.insert(command.verb());
        let mut t = ticket(state, pause);
        if matches!(command, Command::Return { .. }) {
            t.assignment = Some(org_post());
        }
        let timers = standing(&t);
        let applied = t
            .apply(command, "someone", "", NOW)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(applied.clocks, effect, "{name}");
        let inputs = ClockInputs::new(&calendars, 0.8)
            .category(&category)
            .standing(&timers)
            .paused_at(NOW - Duration::minutes(30));
        let got = effect.timers(&mut t, &inputs, NOW).unwrap();
        // The ticket's due times agree with its timers.
        let due = |kind| {
            got.as_ref()
                .and_then(|ts| ts.iter().find(|x| x.kind == kind).map(|x| x.due_at))
        };
        if matches!(
            effect,
            ClockEffect::Start
                | ClockEffect::Dispatched { .. }
                | ClockEffect::Resumed
                | ClockEffect::Rescaled { .. }
        ) && got.is_some()
        {
            assert_eq!(t.accept_due_at, due(K::Accept), "{name}: accept due");
            assert_eq!(t.resolve_due_at, due(K::Resolve), "{name}: resolve due");
        }
        match expect {
            Kept => assert_eq!(got, None, "{name}"),
            Timers(want) => {
                let mut got: Vec<_> = got
                    .unwrap_or_else(|| panic!("{name}: timers kept"))
                    .into_iter()
                    .map(|t| (t.kind, t.level, t.due_at))
                    .collect();
                let mut want = want;
                got.sort();
                want.sort();
                assert_eq!(got, want, "{name}");
            }
        }
        if effect == ClockEffect::Accepted {
            assert_eq!(t.accept_due_at, None, "{name}");
            assert_eq!(t.resolve_due_at, Some(resolve_due), "{name}");
        }
        if !t.state.is_open() {
            assert_eq!((t.accept_due_at, t.resolve_due_at), (None, None), "{name}");
        }
        t.check_invariants()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    // Every command has a row.
    assert_eq!(seen.len(), 22, "{seen:?}");
}

fn twice() -> ClockRate {
    ClockRate::from_hundredths("rate", 200).unwrap()
}

#[test]
fn new_clocks_start_at_the_tickets_rate() {
    let calendars = Calendars::default();
    let category = category();
    let mut t = ticket(TicketState::Assigned, Pause::None);
    t.clock_rate = twice();
    let to = post(ChiefLevel::Lane, "220102001001");
    let applied = t
        .apply(Command::Escalate { to, auto: true }, "timer", "", NOW)
        .unwrap();
    let inputs = ClockInputs::new(&calendars, 0.8).category(&category);
    let timers = applied
        .clocks
        .timers(&mut t, &inputs, NOW)
        .unwrap()
        .unwrap();
    let due = |kind| timers.iter().find(|x| x.kind == kind).unwrap().due_at;
    assert_eq!(due(K::Accept), NOW + Duration::hours(1));
    assert_eq!(due(K::Resolve), NOW + Duration::hours(36));
    assert_eq!(due(K::Warning), NOW + Duration::minutes(48));
    assert_eq!(t.accept_due_at, Some(NOW + Duration::hours(1)));
    assert_eq!(t.clock_rate, twice(), "the rate stays with the ticket");
}

#[test]
fn a_resumed_order_past_its_deadline_does_not_come_back() {
    let mut t = ticket(TicketState::Accepted, Pause::Paused);
    t.supervision = Some(order(NOW - Duration::minutes(1)));
    let applied = t.apply(Command::Resume, "p", "", NOW).unwrap();
    let calendars = Calendars::default();
    let inputs = ClockInputs::new(&calendars, 0.8).paused_at(NOW - Duration::hours(1));
    let timers = applied
        .clocks
        .timers(&mut t, &inputs, NOW)
        .unwrap()
        .unwrap();
    let kinds: Vec<_> = timers.iter().map(|t| t.kind).collect();
    assert_eq!(kinds, [K::Resolve]);
}

#[test]
fn an_effect_reads_only_what_it_says_it_needs() {
    let calendars = Calendars::default();
    let category = category();
    let until = NOW + Duration::hours(5);
    let effects = [
        ClockEffect::Keep,
        ClockEffect::Clear,
        ClockEffect::Start,
        ClockEffect::Accepted,
        ClockEffect::Supervise { deadline: until },
        ClockEffect::PauseRequested { until },
        ClockEffect::PauseDecided { approve: true },
        ClockEffect::Resumed,
    ];
    for effect in effects {
        let needs = effect.needs();
        let mut t = ticket(TicketState::Accepted, Pause::None);
        let timers = standing(&t);
        let mut inputs = ClockInputs::new(&calendars, 0.8);
        if needs.category {
            inputs = inputs.category(&category);
        }
        if needs.standing {
            inputs = inputs.standing(&timers);
        }
        if needs.paused_at {
            inputs = inputs.paused_at(NOW);
        }
        assert!(effect.timers(&mut t, &inputs, NOW).is_ok(), "{effect:?}");
        // And what it needs, it cannot do without.
        if needs != ClockNeeds::default() {
            let bare = ClockInputs::new(&calendars, 0.8);
            let err = effect.timers(&mut t, &bare, NOW).unwrap_err();
            assert!(matches!(err, ClockError::Missing { .. }), "{effect:?}");
        }
    }
}

/// Every timer kind against the tickets it may find: what the worker is asked to do.
#[test]
fn a_due_timer_asks_what_its_clock_rule_says() {
    use ChiefLevel::{CommandCenter, Grid, Lane};
    use TicketState as S;
    enum Want {
        Drop,
        Escalate(&'static str),
        Warn(&'static str),
        Resume,
        Lapse,
    }
    #[rustfmt::skip]
    let rows: Vec<(&str, TimerKind, ChiefLevel, S, Pause, Want)> = vec![
        ("warning before accept", K::Warning, Grid, S::Assigned, Pause::None, Want::Warn("accept deadline at")),
        ("warning before resolve", K::Warning, Grid, S::Accepted, Pause::None, Want::Warn("resolve deadline at")),
        ("accept passed", K::Accept, Grid, S::Assigned, Pause::None, Want::Escalate("accept deadline passed")),
        ("accept passed, but accepted", K::Accept, Grid, S::Accepted, Pause::None, Want::Drop),
        ("resolve passed", K::Resolve, Grid, S::Accepted, Pause::None, Want::Escalate("resolve deadline passed")),
        ("resolve passed, still unaccepted", K::Resolve, Grid, S::Assigned, Pause::None, Want::Escalate("resolve deadline passed")),
        ("another level's timer", K::Accept, Lane, S::Assigned, Pause::None, Want::Drop),
        ("a paused clock", K::Resolve, Grid, S::Accepted, Pause::Paused, Want::Drop),
        ("asked to pause, clocks run on", K::Resolve, Grid, S::Accepted, Pause::Requested, Want::Escalate("resolve deadline passed")),
        ("resolved already", K::Resolve, Grid, S::Resolved, Pause::None, Want::Drop),
        ("closed", K::Warning, Grid, S::Closed, Pause::None, Want::Drop),
        ("order's deadline", K::Supervision, Grid, S::Accepted, Pause::None, Want::Warn("supervision deadline at")),
        ("order's deadline in a pause", K::Supervision, Grid, S::Assigned, Pause::Paused, Want::Drop),
        ("pause ends", K::Resume, Lane, S::Accepted, Pause::Paused, Want::Resume),
        ("pause never decided", K::Resume, Grid, S::Assigned, Pause::Requested, Want::Lapse),
        ("pause already over", K::Resume, Grid, S::Assigned, Pause::None, Want::Drop),
        ("pause end of a closed ticket", K::Resume, Grid, S::Resolved, Pause::None, Want::Drop),
    ];
    for (name, kind, level, state, pause, want) in rows {
        let t = ticket(state, pause);
        let timer = Timer::for_ticket(&t, level, kind, NOW);
        let got = due(&timer, &t);
        match (want, got) {
            (Want::Drop, Due::Drop) => {}
            (Want::Escalate(why), Due::Escalate { why: got }) => assert_eq!(got, why, "{name}"),
            (
                Want::Warn(start),
                Due::Apply {
                    command: Command::Warn,
                    note,
                },
            ) => {
                assert!(note.starts_with(start), "{name}: {note}");
            }
            (
                Want::Resume,
                Due::Apply {
                    command: Command::Resume,
                    ..
                },
            ) => {}
            (
                Want::Lapse,
                Due::Apply {
                    command: Command::DecidePause { approve: false },
                    ..
                },
            ) => {}
            (_, got) => panic!("{name}: got {got:?}"),
        }
    }
    // At the top of the chain a passed deadline leaves the ticket where it is, overdue.
    let mut top = ticket(S::Assigned, Pause::None);
    top.assignment = Some(post(CommandCenter, "220102001"));
    let timer = Timer::for_ticket(&top, CommandCenter, K::Accept, NOW);
    assert_eq!(due(&timer, &top), Due::Drop);
}

/// A property company holding the test grid's ticket, its chief following.
fn org_post() -> crate::ticket::Assignment {
    crate::ticket::Assignment::organization(
        crate::organization::OrganizationCode::new("wy-1").unwrap(),
        crate::area::AreaCode::new("220102001001001").unwrap(),
        None,
    )
}
