//! Each rule of `docs/evaluation.md` on a scripted history, figures computed by hand.

use std::collections::BTreeMap;

use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};

use super::*;
use crate::event::{EventFacts, NewEvent};
use crate::ticket::{TicketId, TicketState};

const T0: OffsetDateTime = datetime!(2026-11-02 09:00 +8);

struct Script {
    ledger: Ledger,
    /// The subdistrict's switches of emergency mode.
    modes: crate::emergency::ModeLog,
    seq: i64,
    /// Every addition, summed per (person or "-", local day).
    sums: BTreeMap<(String, time::Date), Figures>,
    /// The deadlines the next event records.
    due: (Option<OffsetDateTime>, Option<OffsetDateTime>),
    /// The organization holding the ticket after the next events.
    org: Option<&'static str>,
}

impl Script {
    fn new() -> Self {
        Self {
            ledger: Ledger::default(),
            modes: Default::default(),
            seq: 0,
            sums: BTreeMap::new(),
            due: (None, None),
            org: None,
        }
    }

    /// Sets the deadlines the following events record (as the ticket's clocks would).
    fn due(&mut self, accept: Option<Duration>, resolve: Option<Duration>, from: OffsetDateTime) {
        self.due = (accept.map(|d| from + d), resolve.map(|d| from + d));
    }

    fn event(
        &mut self,
        kind: EventKind,
        at: OffsetDateTime,
        holder: Option<(&str, ChiefLevel)>,
        rating: Option<(u8, bool)>,
    ) -> Vec<bool> {
        self.seq += 1;
        let e = TicketEvent {
            ticket_id: TicketId::from_uuid(uuid::Uuid::nil()),
            subdistrict_code: AreaCode::new("220102001").unwrap(),
            seq: self.seq,
            event: NewEvent {
                kind,
                actor: "t".into(),
                from_state: None,
                to_state: TicketState::Assigned,
                level: holder.map(|h| h.1),
                assignee_person_id: holder.map(|h| PersonId::new(h.0).unwrap()),
                assignee_org_code: self.org.map(|o| OrganizationCode::new(o).unwrap()),
                note: String::new(),
                at,
            },
            facts: EventFacts {
                accept_due_at: self.due.0,
                resolve_due_at: self.due.1,
                rating_stars: rating.map(|r| r.0),
                rating_not_solved: rating.map(|r| r.1),
            },
        };
        let mut periods = Vec::new();
        for (account, f) in self.ledger.apply_in(&e, &self.modes) {
            let who = match (&account.person, &account.organization) {
                (Some(p), _) => p.as_str().to_owned(),
                (None, Some(o)) => format!("org:{o}"),
                (None, None) => "-".to_owned(),
            };
            self.sums.entry((who, account.day)).or_default().add(&f);
            periods.push(account.emergency);
        }
        // Which period each addition counted on (emergency mode or not).
        periods
    }

    fn of(&self, who: &str, day: time::Date) -> Figures {
        self.sums
            .get(&(who.to_owned(), day))
            .copied()
            .unwrap_or_default()
    }
}

const GRID: (&str, ChiefLevel) = ("p-grid", ChiefLevel::Grid);
const LANE: (&str, ChiefLevel) = ("p-lane", ChiefLevel::Lane);
const DAY: time::Date = date!(2026 - 11 - 02);

#[test]
fn a_ticket_handled_on_time_counts_everything_once_on_its_holder() {
    let mut s = Script::new();
    s.event(EventKind::Submitted, T0, None, None);
    s.due(Some(Duration::hours(2)), Some(Duration::days(3)), T0);
    s.event(EventKind::Assigned, T0, Some(GRID), None);
    s.due(None, Some(Duration::days(3)), T0);
    s.event(
        EventKind::Accepted,
        T0 + Duration::hours(1),
        Some(GRID),
        None,
    );
    s.event(
        EventKind::Resolved,
        T0 + Duration::hours(5),
        Some(GRID),
        None,
    );
    s.due(None, None, T0);
    s.event(
        EventKind::Verified,
        T0 + Duration::hours(6),
        Some(GRID),
        None,
    );
    s.event(
        EventKind::Rated,
        T0 + Duration::hours(7),
        Some(GRID),
        Some((5, false)),
    );
    assert_eq!(
        s.of("p-grid", DAY),
        Figures {
            received: 1,
            accepted: 1,
            accepted_on_time: 1,
            resolved: 1,
            resolved_on_time: 1,
            closed: 1,
            closed_on_time: 1,
            rated: 1,
            satisfied: 1,
            response_seconds: 3600,
            handling_seconds: 5 * 3600,
            ..Figures::default()
        }
    );
    assert_eq!(
        s.of("-", DAY),
        Figures {
            reported: 1,
            ..Figures::default()
        }
    );
    // The scores: every indicator 100 → 100.
    let i = Indicators::of(&s.of("p-grid", DAY), &Weights::default());
    assert_eq!(i.score, 100.0);
    assert_eq!(i.mean_handling_seconds, 18000.0);
}

#[test]
fn late_acceptance_and_resolution_are_measured_against_the_deadline_in_force() {
    let mut s = Script::new();
    s.due(Some(Duration::hours(2)), Some(Duration::hours(10)), T0);
    s.event(EventKind::Assigned, T0, Some(GRID), None);
    s.due(None, Some(Duration::hours(10)), T0);
    // 3 h: past the 2 h accept deadline → late, overdue.
    s.event(
        EventKind::Accepted,
        T0 + Duration::hours(3),
        Some(GRID),
        None,
    );
    // 11 h: past the 10 h resolve deadline → late; overdue counts once per holding.
    s.event(
        EventKind::Resolved,
        T0 + Duration::hours(11),
        Some(GRID),
        None,
    );
    let f = s.of("p-grid", DAY);
    assert_eq!((f.accepted, f.accepted_on_time), (1, 0));
    assert_eq!((f.resolved, f.resolved_on_time), (1, 0));
    assert_eq!(f.overdue, 1);
    // Response 0 %, on time 0 %, resolution 100 %, no ratings, no rework (100):
    // (0·0.2 + 0·0.3 + 100·0.2 + 100·0.1) / 0.8 = 37.5.
    let i = Indicators::of(&f, &Weights::default());
    assert!((i.score - 37.5).abs() < 1e-9, "{}", i.score);
}

#[test]
fn an_escalated_ticket_counts_on_each_holder_for_what_they_did() {
    let mut s = Script::new();
    s.due(Some(Duration::hours(2)), Some(Duration::days(1)), T0);
    s.event(EventKind::Assigned, T0, Some(GRID), None);
    // The accept timer fires: escalation and a missed deadline on the grid chief.
    let t1 = T0 + Duration::hours(2);
    s.due(Some(Duration::hours(4)), Some(Duration::days(2)), t1);
    s.event(EventKind::AutoEscalated, t1, Some(LANE), None);
    s.due(None, Some(Duration::days(2)), t1);
    s.event(
        EventKind::Accepted,
        t1 + Duration::hours(1),
        Some(LANE),
        None,
    );
    s.event(
        EventKind::Supervised,
        t1 + Duration::hours(2),
        Some(LANE),
        None,
    );
    s.event(
        EventKind::Resolved,
        t1 + Duration::hours(3),
        Some(LANE),
        None,
    );
    assert_eq!(
        s.of("p-grid", DAY),
        Figures {
            received: 1,
            escalations: 1,
            overdue: 1,
            ..Figures::default()
        }
    );
    assert_eq!(
        s.of("p-lane", DAY),
        Figures {
            received: 1,
            accepted: 1,
            accepted_on_time: 1,
            resolved: 1,
            resolved_on_time: 1,
            supervision_orders: 1,
            response_seconds: 3600,
            handling_seconds: 3 * 3600,
            ..Figures::default()
        }
    );
}

#[test]
fn a_manual_escalation_is_not_a_missed_deadline() {
    let mut s = Script::new();
    s.due(Some(Duration::hours(2)), Some(Duration::days(1)), T0);
    s.event(EventKind::Assigned, T0, Some(GRID), None);
    s.event(
        EventKind::Escalated,
        T0 + Duration::minutes(10),
        Some(LANE),
        None,
    );
    let f = s.of("p-grid", DAY);
    assert_eq!((f.received, f.escalations, f.overdue), (1, 1, 0));
}

#[test]
fn a_reopen_counts_on_the_resolution_it_undoes_and_starts_a_new_holding() {
    let mut s = Script::new();
    s.due(Some(Duration::hours(2)), Some(Duration::days(1)), T0);
    s.event(EventKind::Assigned, T0, Some(GRID), None);
    s.event(
        EventKind::Accepted,
        T0 + Duration::hours(1),
        Some(GRID),
        None,
    );
    s.event(
        EventKind::Resolved,
        T0 + Duration::hours(2),
        Some(GRID),
        None,
    );
    s.event(
        EventKind::Rated,
        T0 + Duration::hours(3),
        Some(GRID),
        Some((5, true)),
    );
    // The next day the command center reopens it (返工) to the same chief.
    let next = T0 + Duration::days(1);
    s.due(Some(Duration::hours(2)), Some(Duration::days(1)), next);
    s.event(EventKind::Reopened, next, Some(GRID), None);
    s.event(
        EventKind::Resolved,
        next + Duration::hours(1),
        Some(GRID),
        None,
    );
    let first = s.of("p-grid", DAY);
    // not_solved is never satisfied, whatever the stars.
    assert_eq!((first.rated, first.satisfied), (1, 0));
    assert_eq!((first.resolved, first.reopened, first.received), (1, 1, 1));
    let second = s.of("p-grid", date!(2026 - 11 - 03));
    assert_eq!(
        second,
        Figures {
            received: 1,
            resolved: 1,
            resolved_on_time: 1,
            handling_seconds: 3600,
            ..Figures::default()
        }
    );
    let i = Indicators::of(&first, &Weights::default());
    assert_eq!(i.reopen_rate, 100.0);
}

#[test]
fn a_pause_stops_the_clock_for_the_deadline_in_force() {
    let mut s = Script::new();
    s.due(None, Some(Duration::hours(4)), T0);
    s.event(EventKind::Assigned, T0, Some(GRID), None);
    s.event(
        EventKind::PauseRequested,
        T0 + Duration::hours(1),
        Some(GRID),
        None,
    );
    s.event(
        EventKind::PauseApproved,
        T0 + Duration::hours(2),
        Some(GRID),
        None,
    );
    // Resolved during the pause, long after the 4 h deadline: on time, the clock stopped
    // at 2 h.
    s.event(
        EventKind::Resolved,
        T0 + Duration::hours(30),
        Some(GRID),
        None,
    );
    let f = s.of("p-grid", DAY);
    assert_eq!((f.resolved, f.resolved_on_time, f.overdue), (1, 1, 0));
}

#[test]
fn after_a_resume_the_moved_deadline_applies() {
    let mut s = Script::new();
    s.due(None, Some(Duration::hours(4)), T0);
    s.event(EventKind::Assigned, T0, Some(GRID), None);
    s.event(
        EventKind::PauseApproved,
        T0 + Duration::hours(2),
        Some(GRID),
        None,
    );
    // Resumed after 10 h: the clock moved the deadline by the pause, to 14 h.
    s.due(None, Some(Duration::hours(14)), T0);
    s.event(
        EventKind::Resumed,
        T0 + Duration::hours(12),
        Some(GRID),
        None,
    );
    s.event(
        EventKind::Resolved,
        T0 + Duration::hours(15),
        Some(GRID),
        None,
    );
    let f = s.of("p-grid", DAY);
    assert_eq!((f.resolved, f.resolved_on_time, f.overdue), (1, 0, 1));
}

#[test]
fn a_second_rating_replaces_the_first() {
    let mut s = Script::new();
    s.event(EventKind::Assigned, T0, Some(GRID), None);
    s.event(
        EventKind::Resolved,
        T0 + Duration::hours(1),
        Some(GRID),
        None,
    );
    s.event(
        EventKind::Rated,
        T0 + Duration::hours(2),
        Some(GRID),
        Some((2, false)),
    );
    s.event(
        EventKind::Rated,
        T0 + Duration::hours(3),
        Some(GRID),
        Some((4, false)),
    );
    let f = s.of("p-grid", DAY);
    assert_eq!((f.rated, f.satisfied), (1, 1));
}

#[test]
fn receipt_day_is_the_local_day_and_later_work_counts_on_it() {
    let mut s = Script::new();
    // 23:30 local on 2 November is 15:30 UTC: the local day is the 2nd.
    let late = datetime!(2026-11-02 15:30 UTC);
    s.event(EventKind::Assigned, late, Some(GRID), None);
    s.event(
        EventKind::Resolved,
        late + Duration::days(2),
        Some(GRID),
        None,
    );
    assert_eq!(s.of("p-grid", DAY).received, 1);
    assert_eq!(s.of("p-grid", DAY).resolved, 1);
    assert_eq!(
        local_day(datetime!(2026-11-02 16:00 UTC)),
        date!(2026 - 11 - 03)
    );
    assert_eq!(day_start(DAY), datetime!(2026-11-01 16:00 UTC));
}

#[test]
fn a_rejected_or_merged_ticket_stops_counting_and_a_replay_adds_nothing() {
    let mut s = Script::new();
    s.event(EventKind::Assigned, T0, Some(GRID), None);
    s.event(EventKind::Merged, T0 + Duration::hours(1), Some(GRID), None);
    s.event(
        EventKind::Supervised,
        T0 + Duration::hours(2),
        Some(GRID),
        None,
    );
    assert_eq!(s.of("p-grid", DAY).supervision_orders, 0);
    // Folding an event already folded is a no-op.
    let mut l = s.ledger.clone();
    let old = TicketEvent {
        seq: 1,
        ..sample_event()
    };
    assert!(l.apply(&old).is_empty());
}

fn sample_event() -> TicketEvent {
    TicketEvent {
        ticket_id: TicketId::from_uuid(uuid::Uuid::nil()),
        subdistrict_code: AreaCode::new("220102001").unwrap(),
        seq: 1,
        event: NewEvent {
            kind: EventKind::Assigned,
            actor: "t".into(),
            from_state: None,
            to_state: TicketState::Assigned,
            level: Some(ChiefLevel::Grid),
            assignee_person_id: Some(PersonId::new("p-grid").unwrap()),
            assignee_org_code: None,
            note: String::new(),
            at: T0,
        },
        facts: EventFacts::default(),
    }
}

#[test]
fn rows_go_to_the_holder_and_every_area_of_the_place() {
    let place = Place {
        grid: Some(AreaCode::new("g1").unwrap()),
        lane: Some(AreaCode::new("l1").unwrap()),
        street: None,
        subdistrict: Some(AreaCode::new("s1").unwrap()),
    };
    let account = Account {
        day: DAY,
        person: Some(PersonId::new("p").unwrap()),
        level: Some(ChiefLevel::Grid),
        organization: None,
        emergency: false,
    };
    let keys: Vec<(Scope, String)> = row_keys(&account, &place)
        .into_iter()
        .map(|k| (k.scope, k.key))
        .collect();
    assert_eq!(
        keys,
        vec![
            (Scope::Chief, "p".into()),
            (Scope::Grid, "g1".into()),
            (Scope::Lane, "l1".into()),
            (Scope::Subdistrict, "s1".into()),
        ]
    );
}

#[test]
fn weights_are_checked_and_rates_without_denominator_are_left_out() {
    assert!(Weights::default().check().is_ok());
    let zero = Weights {
        response: 0.0,
        on_time: 0.0,
        resolution: 0.0,
        satisfaction: 0.0,
        rework: 0.0,
    };
    assert!(zero.check().is_err());
    assert!(
        Weights {
            response: f64::NAN,
            ..Weights::default()
        }
        .check()
        .is_err()
    );
    // Nothing received: every rate 0, score 0.
    assert_eq!(
        Indicators::of(&Figures::default(), &Weights::default()).score,
        0.0
    );
}

/// Emergency mode: a report and a holding count on the period in force when they began,
/// and a holding keeps it to its end.
#[test]
fn holdings_count_on_the_period_they_began_in() {
    use crate::emergency::{ClockRate, ModeLog};
    let two = ClockRate::from_hundredths("rate", 200).unwrap();
    // On at T0 + 1 h, off at T0 + 3 h.
    let modes = ModeLog::new([
        (T0 + Duration::hours(1), two),
        (T0 + Duration::hours(3), ClockRate::PEACETIME),
    ]);
    let mut s = Script::new();
    s.modes = modes;
    let mut event = |kind, at, holder| s.event(kind, at, holder, None);
    let at = |h| T0 + Duration::minutes(h);
    // Reported and received in peacetime, escalated in emergency mode: the grid chief's
    // holding stays peacetime; the lane chief's is an emergency one, resolved after the
    // switch back and still counted on it.
    assert_eq!(event(EventKind::Submitted, at(30), None), [false]);
    assert_eq!(event(EventKind::Assigned, at(30), Some(GRID)), [false]);
    assert_eq!(
        event(EventKind::Escalated, at(90), Some(LANE)),
        [false, true],
        "the escalation on the grid chief's peacetime account, the receipt on the lane's emergency one"
    );
    assert_eq!(event(EventKind::Accepted, at(100), Some(LANE)), [true]);
    assert_eq!(event(EventKind::Resolved, at(200), Some(LANE)), [true]);
    let keys = row_keys(
        &Account {
            day: DAY,
            person: None,
            level: None,
            organization: None,
            emergency: true,
        },
        &Place {
            grid: Some(AreaCode::new("220102001001001").unwrap()),
            ..Place::default()
        },
    );
    assert!(keys[0].emergency, "rows keep the period");
}

#[test]
fn an_organization_holding_counts_on_the_organization_not_the_following_chief() {
    let mut s = Script::new();
    s.event(EventKind::Submitted, T0, None, None);
    s.due(Some(Duration::hours(2)), Some(Duration::days(3)), T0);
    s.event(EventKind::Assigned, T0, Some(GRID), None);
    // 派遣 an hour later: the property company must resolve within the day; the grid chief
    // follows (the event still names them).
    let sent = T0 + Duration::hours(1);
    s.org = Some("wy-1");
    s.due(Some(Duration::hours(2)), Some(Duration::hours(24)), sent);
    s.event(EventKind::Dispatched, sent, Some(GRID), None);
    s.due(None, Some(Duration::hours(24)), sent);
    s.event(
        EventKind::Accepted,
        sent + Duration::hours(1),
        Some(GRID),
        None,
    );
    // Six hours past its deadline.
    s.event(
        EventKind::Resolved,
        sent + Duration::hours(30),
        Some(GRID),
        None,
    );
    s.due(None, None, T0);
    s.event(
        EventKind::Verified,
        sent + Duration::hours(31),
        Some(GRID),
        None,
    );
    assert_eq!(
        s.of("org:wy-1", DAY),
        Figures {
            received: 1,
            accepted: 1,
            accepted_on_time: 1,
            response_seconds: 3600,
            resolved: 1,
            resolved_on_time: 0,
            overdue: 1,
            handling_seconds: 30 * 3600,
            closed: 1,
            closed_on_time: 0,
            ..Figures::default()
        }
    );
    // The grid chief: the receipt before the dispatch, and nothing of the organization's
    // work (a dispatch is not an escalation of theirs).
    assert_eq!(
        s.of("p-grid", DAY),
        Figures {
            received: 1,
            ..Figures::default()
        }
    );
}

#[test]
fn a_return_ends_the_organization_holding_and_the_command_center_receives_it() {
    let mut s = Script::new();
    s.event(EventKind::Submitted, T0, None, None);
    s.org = Some("gr-1");
    s.due(Some(Duration::hours(2)), Some(Duration::days(1)), T0);
    s.event(EventKind::Assigned, T0, Some(GRID), None);
    s.org = None;
    s.due(
        Some(Duration::hours(2)),
        Some(Duration::days(1)),
        T0 + Duration::minutes(30),
    );
    s.event(EventKind::Returned, T0 + Duration::minutes(30), None, None);
    assert_eq!(
        s.of("org:gr-1", DAY),
        Figures {
            received: 1,
            ..Figures::default()
        }
    );
    // The command center's desk (no person) received it, beside the report.
    assert_eq!(
        s.of("-", DAY),
        Figures {
            reported: 1,
            received: 1,
            ..Figures::default()
        }
    );
    let keys: Vec<Scope> = row_keys(
        &Account {
            day: DAY,
            person: None,
            level: None,
            organization: Some(OrganizationCode::new("gr-1").unwrap()),
            emergency: false,
        },
        &Place::default(),
    )
    .into_iter()
    .map(|k| k.scope)
    .collect();
    assert_eq!(keys, [Scope::Organization]);
}
