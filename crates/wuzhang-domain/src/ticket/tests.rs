use super::*;
use proptest::prelude::*;
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2026-09-30 9:00 +8);

fn code(s: &str) -> AreaCode {
    AreaCode::new(s).unwrap()
}

fn at(level: ChiefLevel) -> Assignment {
    let (area, person) = match level {
        ChiefLevel::Unit => ("u1", Some("p-unit")),
        ChiefLevel::Building => ("b1", Some("p-building")),
        ChiefLevel::Grid => ("g1", Some("p-grid")),
        ChiefLevel::Lane => ("l1", Some("p-lane")),
        ChiefLevel::Street => ("s1", Some("p-street")),
        ChiefLevel::CommandCenter => ("220102001", None),
    };
    Assignment {
        level,
        area_code: code(area),
        person_id: person.map(|p| PersonId::new(p).unwrap()),
        organization: None,
    }
}

fn new_ticket() -> Ticket {
    let report = crate::testing::report();
    let id = TicketId::new(T0);
    let (t, ev) = Ticket::submit(id, report, code("g1"), code("220102001"), T0);
    assert_eq!(ev.kind, EventKind::Submitted);
    assert_eq!(ev.from_state, None);
    t.check_invariants().unwrap();
    t
}

/// A ticket brought to `state` along the ordinary path.
fn ticket_in(state: TicketState) -> Ticket {
    use TicketState as S;
    let mut t = new_ticket();
    let path: Vec<Command> = match state {
        S::Submitted => vec![],
        S::Assigned => vec![Command::Assign(at(ChiefLevel::Grid))],
        S::Accepted => vec![Command::Assign(at(ChiefLevel::Grid)), Command::Accept],
        S::Resolved => {
            vec![
                Command::Assign(at(ChiefLevel::Grid)),
                Command::Accept,
                Command::Resolve,
            ]
        }
        S::Closed => vec![
            Command::Assign(at(ChiefLevel::Grid)),
            Command::Accept,
            Command::Resolve,
            Command::Verify { pass: true },
        ],
        S::Rejected => vec![Command::Reject],
        S::Cancelled => vec![Command::Cancel],
        S::Merged => vec![Command::Merge {
            into: TicketId::new(T0 + time::Duration::SECOND),
        }],
    };
    for c in path {
        let _ = t.apply(c, "test", "", T0).unwrap();
    }
    assert_eq!(t.state, state);
    t
}

fn order() -> SupervisionOrder {
    SupervisionOrder {
        severity: Severity::Serious,
        deadline: T0 + time::Duration::DAY,
        note: "三日内办结".into(),
        issued_by: "cc-1".into(),
        issued_at: T0,
    }
}

fn rating() -> Rating {
    Rating::new(2, true, "还是有垃圾".into()).unwrap()
}

/// Every command, each with a name for the table below.
fn every_command() -> Vec<(&'static str, Command)> {
    vec![
        ("assign", Command::Assign(at(ChiefLevel::Grid))),
        ("accept", Command::Accept),
        ("resolve", Command::Resolve),
        (
            "escalate",
            Command::Escalate {
                to: at(ChiefLevel::Lane),
                auto: false,
            },
        ),
        (
            "auto_escalate",
            Command::Escalate {
                to: at(ChiefLevel::Lane),
                auto: true,
            },
        ),
        ("reassign", Command::Reassign(at(ChiefLevel::Street))),
        ("verify_pass", Command::Verify { pass: true }),
        ("verify_fail", Command::Verify { pass: false }),
        ("close", Command::Close),
        ("reopen", Command::Reopen),
        ("reject", Command::Reject),
        ("cancel", Command::Cancel),
        (
            "merge",
            Command::Merge {
                into: TicketId::new(T0 + time::Duration::SECOND),
            },
        ),
        ("rate", Command::Rate(rating())),
        ("note", Command::Note),
        ("supervise", Command::Supervise(order())),
        ("warn", Command::Warn),
        (
            "request_pause",
            Command::RequestPause {
                until: T0 + time::Duration::days(1),
            },
        ),
        ("approve_pause", Command::DecidePause { approve: true }),
        ("refuse_pause", Command::DecidePause { approve: false }),
        ("resume", Command::Resume),
        ("join_reporter", Command::JoinReporter),
        (
            "dispatch",
            Command::Dispatch {
                to: org_holding(),
                deadline: T0 + time::Duration::days(1),
            },
        ),
        // Refused on every ticket of the table: none is held by an organization.
        (
            "return",
            Command::Return {
                to: at(ChiefLevel::CommandCenter),
            },
        ),
    ]
}

/// A property company holding a ticket of the test grid, its chief following.
fn org_holding() -> Assignment {
    Assignment::organization(
        OrganizationCode::new("wy-1").unwrap(),
        code("g1"),
        Some(PersonId::new("p-grid").unwrap()),
    )
}

/// The specification: which commands each state accepts (with no pause pending), and the
/// state it leads to. Anything not listed must be refused.
fn allowed(state: TicketState) -> Vec<(&'static str, TicketState)> {
    use TicketState as S;
    match state {
        S::Submitted => vec![
            ("assign", S::Assigned),
            ("reassign", S::Assigned),
            ("reject", S::Rejected),
            ("cancel", S::Cancelled),
            ("merge", S::Merged),
            ("note", S::Submitted),
            ("supervise", S::Submitted),
            ("join_reporter", S::Submitted),
            ("dispatch", S::Assigned),
        ],
        S::Assigned | S::Accepted => {
            let mut v = vec![
                ("escalate", S::Assigned),
                ("auto_escalate", S::Assigned),
                ("reassign", S::Assigned),
                ("reject", S::Rejected),
                ("cancel", S::Cancelled),
                ("merge", S::Merged),
                ("note", state),
                ("supervise", state),
                ("warn", state),
                ("request_pause", state),
                ("join_reporter", state),
                ("dispatch", S::Assigned),
            ];
            v.push(if state == S::Assigned {
                ("accept", S::Accepted)
            } else {
                ("resolve", S::Resolved)
            });
            v
        }
        S::Resolved => vec![
            ("verify_pass", S::Closed),
            ("verify_fail", S::Assigned),
            ("close", S::Closed),
            ("reopen", S::Assigned),
            ("rate", S::Resolved),
            ("note", S::Resolved),
            ("join_reporter", S::Resolved),
        ],
        S::Closed => vec![
            ("reopen", S::Assigned),
            ("rate", S::Closed),
            ("note", S::Closed),
        ],
        S::Rejected | S::Cancelled | S::Merged => vec![],
    }
}

#[test]
fn every_state_accepts_exactly_its_commands() {
    for state in TicketState::ALL {
        let spec = allowed(state);
        for (name, command) in every_command() {
            let mut t = ticket_in(state);
            let before = t.clone();
            let later = T0 + time::Duration::minutes(5);
            let result = t.apply(command.clone(), "actor-1", "why", later);
            match spec.iter().find(|(n, _)| *n == name) {
                Some((_, to)) => {
                    let ev = result
                        .unwrap_or_else(|e| panic!("{state} should {name}: {e}"))
                        .event;
                    assert_eq!(t.state, *to, "{state} --{name}-->");
                    assert_eq!(ev.from_state, Some(state));
                    assert_eq!(ev.to_state, *to);
                    assert_eq!(ev.actor, "actor-1");
                    assert_eq!(ev.note, "why");
                    assert_eq!(ev.at, later);
                    assert_eq!(ev.level, t.level());
                    assert_eq!(t.version, before.version + 1);
                    assert_eq!(t.updated_at, later);
                    t.check_invariants()
                        .unwrap_or_else(|e| panic!("{state} --{name}--> {e}"));
                }
                None => {
                    let err = result.expect_err(&format!("{state} must refuse {name}"));
                    assert_eq!(t, before, "a refused {name} must change nothing");
                    let msg = err.to_string();
                    assert!(!msg.is_empty());
                }
            }
        }
    }
}

#[test]
fn event_kinds_name_what_happened() {
    let mut t = ticket_in(TicketState::Assigned);
    let ev = t
        .apply(
            Command::Escalate {
                to: at(ChiefLevel::Lane),
                auto: true,
            },
            "system:timer",
            "",
            T0,
        )
        .unwrap()
        .event;
    assert_eq!(ev.kind, EventKind::AutoEscalated);
    assert_eq!(ev.level, Some(ChiefLevel::Lane));
    assert_eq!(
        ev.assignee_person_id.as_ref().map(PersonId::as_str),
        Some("p-lane")
    );
    let ev = t
        .apply(
            Command::Escalate {
                to: at(ChiefLevel::Street),
                auto: false,
            },
            "p-lane",
            "",
            T0,
        )
        .unwrap()
        .event;
    assert_eq!(ev.kind, EventKind::Escalated);

    let mut t = ticket_in(TicketState::Resolved);
    assert_eq!(
        t.apply(Command::Verify { pass: true }, "cc", "", T0)
            .unwrap()
            .event
            .kind,
        EventKind::Verified
    );
    let mut t2 = ticket_in(TicketState::Resolved);
    assert_eq!(
        t2.apply(Command::Verify { pass: false }, "cc", "", T0)
            .unwrap()
            .event
            .kind,
        EventKind::Reopened
    );
    assert_eq!(
        t.apply(Command::Reopen, "cc", "", T0).unwrap().event.kind,
        EventKind::Reopened
    );
}

#[test]
fn escalation_only_goes_up_and_stops_at_the_command_center() {
    let mut t = ticket_in(TicketState::Assigned);
    let err = t
        .apply(
            Command::Escalate {
                to: at(ChiefLevel::Building),
                auto: false,
            },
            "p",
            "",
            T0,
        )
        .unwrap_err();
    assert_eq!(
        err,
        TransitionError::NotUpward {
            from: ChiefLevel::Grid,
            to: ChiefLevel::Building
        }
    );
    let err = t
        .apply(
            Command::Escalate {
                to: at(ChiefLevel::Grid),
                auto: false,
            },
            "p",
            "",
            T0,
        )
        .unwrap_err();
    assert!(matches!(err, TransitionError::NotUpward { .. }));
    let mut level = ChiefLevel::Grid;
    while let Some(up) = level.up() {
        let _ = t
            .apply(
                Command::Escalate {
                    to: at(up),
                    auto: true,
                },
                "system:timer",
                "",
                T0,
            )
            .unwrap();
        level = up;
    }
    assert_eq!(t.level(), Some(ChiefLevel::CommandCenter));
    let err = t
        .apply(
            Command::Escalate {
                to: at(ChiefLevel::CommandCenter),
                auto: true,
            },
            "t",
            "",
            T0,
        )
        .unwrap_err();
    assert_eq!(err, TransitionError::AtTop);
    assert_eq!(t.state, TicketState::Assigned);
}

#[test]
fn escalation_restarts_clocks_but_accepting_keeps_them() {
    let mut t = ticket_in(TicketState::Assigned);
    t.accept_due_at = Some(T0 + time::Duration::hours(1));
    t.resolve_due_at = Some(T0 + time::Duration::hours(24));
    let _ = t.apply(Command::Accept, "p-grid", "", T0).unwrap();
    assert!(
        t.resolve_due_at.is_some(),
        "accepting keeps the resolve clock"
    );
    let _ = t
        .apply(
            Command::Escalate {
                to: at(ChiefLevel::Lane),
                auto: false,
            },
            "p-grid",
            "",
            T0,
        )
        .unwrap();
    assert_eq!((t.accept_due_at, t.resolve_due_at), (None, None));
}

#[test]
fn pause_must_be_requested_then_decided_then_resumed() {
    let mut t = ticket_in(TicketState::Accepted);
    assert!(matches!(
        t.apply(Command::Resume, "p", "", T0),
        Err(TransitionError::PauseState {
            pause: Pause::None,
            ..
        })
    ));
    assert!(matches!(
        t.apply(Command::DecidePause { approve: true }, "cc", "", T0),
        Err(TransitionError::PauseState { .. })
    ));
    let _ = t
        .apply(
            Command::RequestPause {
                until: T0 + time::Duration::days(1),
            },
            "p-grid",
            "waiting for parts",
            T0,
        )
        .unwrap();
    assert_eq!(t.pause, Pause::Requested);
    assert!(
        t.apply(
            Command::RequestPause {
                until: T0 + time::Duration::days(1)
            },
            "p-grid",
            "",
            T0
        )
        .is_err()
    );
    let ev = t
        .apply(Command::DecidePause { approve: false }, "cc", "", T0)
        .unwrap()
        .event;
    assert_eq!((ev.kind, t.pause), (EventKind::PauseRefused, Pause::None));
    let _ = t
        .apply(
            Command::RequestPause {
                until: T0 + time::Duration::days(1),
            },
            "p-grid",
            "",
            T0,
        )
        .unwrap();
    let ev = t
        .apply(Command::DecidePause { approve: true }, "cc", "", T0)
        .unwrap()
        .event;
    assert_eq!(
        (ev.kind, t.pause),
        (EventKind::PauseApproved, Pause::Paused)
    );
    let ev = t.apply(Command::Resume, "cc", "", T0).unwrap().event;
    assert_eq!((ev.kind, t.pause), (EventKind::Resumed, Pause::None));
    // In emergency mode a pause is refused, and the ticket stays as it was.
    let mut urgent = t.clone();
    let twice = crate::emergency::ClockRate::from_hundredths("rate", 200).unwrap();
    let ev = urgent
        .apply(
            Command::SetClockRate {
                from: crate::emergency::ClockRate::PEACETIME,
                to: twice,
            },
            "cc",
            "",
            T0,
        )
        .unwrap()
        .event;
    assert_eq!(
        (ev.kind, urgent.clock_rate),
        (EventKind::ClockRateChanged, twice)
    );
    let before = urgent.clone();
    assert_eq!(
        urgent.apply(
            Command::RequestPause {
                until: T0 + time::Duration::days(1),
            },
            "p-grid",
            "",
            T0,
        ),
        Err(TransitionError::Emergency { rate: twice })
    );
    assert_eq!(urgent, before);
    // Resolving while paused ends the pause.
    let _ = t
        .apply(
            Command::RequestPause {
                until: T0 + time::Duration::days(1),
            },
            "p-grid",
            "",
            T0,
        )
        .unwrap();
    let _ = t
        .apply(Command::DecidePause { approve: true }, "cc", "", T0)
        .unwrap();
    let _ = t.apply(Command::Resolve, "p-grid", "", T0).unwrap();
    assert_eq!(t.pause, Pause::None);
}

#[test]
fn merge_and_rating_details() {
    let mut t = ticket_in(TicketState::Submitted);
    let own = t.id;
    assert_eq!(
        t.apply(Command::Merge { into: own }, "sys", "", T0),
        Err(TransitionError::SelfMerge)
    );
    let mut t = ticket_in(TicketState::Resolved);
    let _ = t
        .apply(Command::Rate(rating()), "resident-1", "", T0)
        .unwrap();
    assert_eq!(t.rating.as_ref().map(|r| r.stars), Some(2));
    assert!(!t.rating.as_ref().unwrap().is_satisfied());
    let _ = t.apply(Command::Reopen, "cc", "", T0).unwrap();
    assert_eq!(t.rating, None, "a reopened ticket waits for a new verdict");
    assert_eq!(
        t.level(),
        Some(ChiefLevel::Grid),
        "返工 goes back to the owner"
    );
    assert!(Rating::new(0, false, String::new()).is_err());
    assert!(Rating::new(6, false, String::new()).is_err());
    assert!(Rating::new(5, false, "好".into()).unwrap().is_satisfied());
}

#[test]
fn text_checks_name_the_field() {
    assert!(check_text("description", "ok", 10, true).is_ok());
    assert_eq!(
        check_text("description", "  ", 10, true).unwrap_err().field,
        "description"
    );
    assert!(check_text("note", &"字".repeat(11), 10, false).is_err());
    assert!(check_text("note", &"字".repeat(10), 10, false).is_ok());
    assert!(check_text("note", "a\u{0}b", 10, false).is_err());
    assert!(check_text("note", "line\nline", 10, false).is_ok());
}

#[test]
fn ids_sort_by_time_and_parse() {
    let a = TicketId::new(T0);
    let b = TicketId::new(T0 + time::Duration::SECOND);
    assert!(a < b);
    assert_eq!(a.to_string().parse::<TicketId>().unwrap(), a);
    assert_eq!("nope".parse::<TicketId>().unwrap_err().field, "ticket_id");
}

fn any_level() -> impl Strategy<Value = ChiefLevel> {
    prop::sample::select(ChiefLevel::ALL.to_vec())
}

fn any_command() -> impl Strategy<Value = Command> {
    prop_oneof![
        any_level().prop_map(|l| Command::Assign(at(l))),
        Just(Command::Accept),
        Just(Command::Resolve),
        (any_level(), any::<bool>()).prop_map(|(l, auto)| Command::Escalate { to: at(l), auto }),
        any_level().prop_map(|l| Command::Reassign(at(l))),
        any::<bool>().prop_map(|pass| Command::Verify { pass }),
        Just(Command::Close),
        Just(Command::Reopen),
        Just(Command::Reject),
        Just(Command::Cancel),
        Just(Command::Merge {
            into: TicketId::new(T0 + time::Duration::SECOND)
        }),
        (1u8..=5, any::<bool>())
            .prop_map(|(s, n)| Command::Rate(Rating::new(s, n, String::new()).unwrap())),
        Just(Command::Note),
        Just(Command::Supervise(order())),
        Just(Command::Warn),
        Just(Command::RequestPause {
            until: T0 + time::Duration::days(1)
        }),
        any::<bool>().prop_map(|approve| Command::DecidePause { approve }),
        Just(Command::Resume),
        Just(Command::JoinReporter),
        Just(Command::Dispatch {
            to: org_holding(),
            deadline: T0 + time::Duration::days(30),
        }),
        Just(Command::Return {
            to: at(ChiefLevel::CommandCenter)
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Random sequences of commands never reach an invalid state, refused commands change
    /// nothing, every accepted command bumps the version by one and records from/to, final
    /// states stay final, and escalation never moves a ticket down.
    #[test]
    fn random_commands_never_reach_an_invalid_state(commands in prop::collection::vec(any_command(), 0..60)) {
        let mut t = new_ticket();
        let mut now = T0;
        for c in commands {
            now += time::Duration::minutes(1);
            let before = t.clone();
            match t.apply(c.clone(), "actor", "", now) {
                Ok(applied) => {
                    let ev = applied.event;
                    prop_assert_eq!(applied.clocks, c.clock_effect());
                    prop_assert!(!before.state.is_final(), "final state {} changed", before.state);
                    prop_assert_eq!(ev.from_state, Some(before.state));
                    prop_assert_eq!(ev.to_state, t.state);
                    prop_assert_eq!(t.version, before.version + 1);
                    if let Command::Escalate { .. } = c {
                        prop_assert!(t.level() > before.level());
                    }
                    if matches!(ev.kind, EventKind::Reopened) {
                        prop_assert_eq!(&t.assignment, &before.assignment);
                    }
                }
                Err(_) => prop_assert_eq!(&t, &before),
            }
            if let Err(e) = t.check_invariants() {
                return Err(TestCaseError::fail(format!("after {c:?}: {e}")));
            }
        }
    }
}

#[test]
fn a_supervision_order_is_kept_and_counted_while_open() {
    let mut t = ticket_in(TicketState::Assigned);
    let e = t
        .apply(Command::Supervise(order()), "cc-1", "督办", T0)
        .unwrap()
        .event;
    assert_eq!(e.kind, EventKind::Supervised);
    assert_eq!(
        (t.supervision.as_ref(), t.supervision_count),
        (Some(&order()), 1)
    );
    let mut second = order();
    second.severity = Severity::Critical;
    let _ = t
        .apply(Command::Supervise(second.clone()), "cc-1", "再督办", T0)
        .unwrap();
    assert_eq!((t.supervision, t.supervision_count), (Some(second), 2));
}

#[test]
fn an_organization_returns_a_ticket_only_before_accepting_and_its_accept_deadline() {
    let mut t = ticket_in(TicketState::Accepted);
    let later = T0 + time::Duration::hours(1);
    // A dispatch names an organization and a deadline still to come.
    let refused = t.apply(
        Command::Dispatch {
            to: at(ChiefLevel::Grid),
            deadline: later + time::Duration::days(1),
        },
        "cc",
        "",
        later,
    );
    assert_eq!(refused.unwrap_err(), TransitionError::NoOrganization);
    let refused = t.apply(
        Command::Dispatch {
            to: org_holding(),
            deadline: later,
        },
        "cc",
        "",
        later,
    );
    assert!(matches!(
        refused,
        Err(TransitionError::DeadlinePassed { .. })
    ));

    let applied = t
        .apply(
            Command::Dispatch {
                to: org_holding(),
                deadline: later + time::Duration::days(1),
            },
            "cc",
            "派遣",
            later,
        )
        .unwrap();
    assert_eq!(t.state, TicketState::Assigned);
    assert_eq!(applied.event.kind, EventKind::Dispatched);
    assert_eq!(
        applied.event.assignee_org_code.as_ref().unwrap().as_str(),
        "wy-1"
    );
    assert_eq!(
        applied.clocks,
        ClockEffect::Dispatched {
            deadline: later + time::Duration::days(1)
        }
    );
    // Its accept window: the clock the caller sets (two hours here).
    t.accept_due_at = Some(later + time::Duration::hours(2));
    let back = Command::Return {
        to: at(ChiefLevel::CommandCenter),
    };
    let mut late = t.clone();
    let refused = late.apply(back.clone(), "s1", "", later + time::Duration::hours(3));
    assert!(matches!(
        refused,
        Err(TransitionError::ReturnWindowClosed { .. })
    ));
    let mut accepted = t.clone();
    let _ = accepted.apply(Command::Accept, "s1", "", later).unwrap();
    assert_eq!(
        accepted.apply(back.clone(), "s1", "", later).unwrap_err(),
        TransitionError::NotReturnable
    );
    let returned = t
        .apply(back, "s1", "不属于物业", later + time::Duration::hours(1))
        .unwrap();
    assert_eq!(returned.event.kind, EventKind::Returned);
    assert_eq!(returned.clocks, ClockEffect::Start);
    assert_eq!(t.level(), Some(ChiefLevel::CommandCenter));
    assert!(t.assignment.as_ref().unwrap().organization.is_none());
}
