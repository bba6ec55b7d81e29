//! The rollups kept incrementally equal a recomputation from the log: a randomised history
//! of tickets written through the store (every command the chain and the command center
//! use, in random order and at random times over several days), folded in many small
//! catch-ups between the writes, then rebuilt from scratch; every evaluation row, state
//! count and daily event count must be the same. On SQLite always, on Postgres when
//! `WUZHANG_TEST_PG_URL` is set.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};
use wuzhang_app::rollups::Rollups;
use wuzhang_domain::area::{Area, AreaCode, AreaLevel};
use wuzhang_domain::category::CategoryCode;
use wuzhang_domain::chief::{ChiefLevel, PersonId};
use wuzhang_domain::emergency::{ClockRate, EmergencyMode};
use wuzhang_domain::evaluation::Scope;
use wuzhang_domain::event::{EventKind, NewEvent};
use wuzhang_domain::organization::OrganizationCode;
use wuzhang_domain::point::{Crs, GeoPoint};
use wuzhang_domain::ticket::{
    Assignment, Command, Rating, Report, Severity, SupervisionOrder, Ticket, TicketId,
};
use wuzhang_store::{AreaRecord, EvaluationQuery, NewTicket, SqliteStore, Store, TicketChange};

const SUB: &str = "220102001";
const T0: OffsetDateTime = datetime!(2026-03-02 08:00 +8);

fn code(s: &str) -> AreaCode {
    AreaCode::new(s).unwrap()
}

fn area(c: &str, level: AreaLevel, parent: Option<&str>) -> AreaRecord {
    AreaRecord {
        area: Area {
            code: code(c),
            name: c.into(),
            level,
            parent_code: parent.map(code),
            community: None,
            bbox: None,
        },
        geometry_wkb: None,
    }
}

fn holder(level: ChiefLevel, grid: usize) -> Assignment {
    let (area, person) = match level {
        ChiefLevel::Grid => (format!("{SUB}-g{grid}"), format!("p-grid-{grid}")),
        ChiefLevel::Lane => (format!("{SUB}-l1"), "p-lane".to_owned()),
        ChiefLevel::Street => (format!("{SUB}-s1"), "p-street".to_owned()),
        _ => (SUB.to_owned(), "p-center".to_owned()),
    };
    Assignment {
        level,
        area_code: code(&area),
        person_id: Some(PersonId::new(&person).unwrap()),
        organization: None,
    }
}

/// A ticket reported in grid `grid` at `at` and assigned to its grid chief, with its two
/// events (no deadlines yet).
fn assigned_ticket(grid: usize, reporter: &str, at: OffsetDateTime) -> (Ticket, Vec<NewEvent>) {
    let p = GeoPoint::new(43.805, 125.305, Crs::Wgs84).unwrap();
    let (mut ticket, submitted) = Ticket::submit(
        TicketId::new(at),
        Report {
            category_code: CategoryCode::new("C0102").unwrap(),
            description: "路灯不亮".into(),
            location: p,
            original_location: p,
            address: String::new(),
            building_code: None,
            unit_code: None,
            media_urls: vec![],
            contact_phone: None,
            reporter_id: reporter.into(),
            urgent: false,
        },
        code(&format!("{SUB}-g{grid}")),
        code(SUB),
        at,
    );
    let assigned = ticket
        .apply(
            Command::Assign(holder(ChiefLevel::Grid, grid)),
            "system",
            "",
            at,
        )
        .unwrap();
    (ticket, vec![submitted, assigned.event])
}

fn next_level(l: ChiefLevel) -> ChiefLevel {
    match l {
        ChiefLevel::Grid => ChiefLevel::Lane,
        ChiefLevel::Lane => ChiefLevel::Street,
        _ => ChiefLevel::CommandCenter,
    }
}

/// One random step on one ticket, if the ticket is in a state that allows it.
fn random_command(rng: &mut StdRng, t: &Ticket, grid: usize, at: OffsetDateTime) -> Command {
    let level = t.level().unwrap_or(ChiefLevel::Grid);
    let choices: Vec<Command> = vec![
        // Twice each: work gets done often enough for every figure to show up.
        Command::Accept,
        Command::Accept,
        Command::Resolve,
        Command::Resolve,
        Command::Escalate {
            to: holder(next_level(level), grid),
            auto: rng.random_bool(0.5),
        },
        Command::Verify {
            pass: rng.random_bool(0.7),
        },
        Command::Close,
        Command::Reopen,
        Command::Rate(
            Rating::new(rng.random_range(1..=5), rng.random_bool(0.2), String::new()).unwrap(),
        ),
        Command::Supervise(SupervisionOrder {
            severity: Severity::Normal,
            deadline: at + Duration::hours(4),
            note: String::new(),
            issued_by: "cc".into(),
            issued_at: at,
        }),
        Command::RequestPause {
            until: at + Duration::hours(3),
        },
        Command::DecidePause {
            approve: rng.random_bool(0.6),
        },
        Command::Resume,
        Command::Reassign(holder(ChiefLevel::Grid, grid)),
        Command::Note,
        // 派遣 to one of two organizations, and 退回 to the command center.
        Command::Dispatch {
            to: Assignment::organization(
                OrganizationCode::new(format!("org-{}", rng.random_range(1..=2))).unwrap(),
                code(&format!("{SUB}-g{grid}")),
                holder(ChiefLevel::Grid, grid).person_id,
            ),
            deadline: at + Duration::hours(rng.random_range(1..24)),
        },
        Command::Return {
            to: holder(ChiefLevel::CommandCenter, grid),
        },
    ];
    choices[rng.random_range(0..choices.len())].clone()
}

async fn history_then_rebuild(store: Arc<dyn Store>, seed: u64) {
    store
        .upsert_areas(&[
            area(SUB, AreaLevel::Subdistrict, None),
            area(&format!("{SUB}-s1"), AreaLevel::Street, Some(SUB)),
            area(
                &format!("{SUB}-l1"),
                AreaLevel::Lane,
                Some(&format!("{SUB}-s1")),
            ),
            area(
                &format!("{SUB}-g1"),
                AreaLevel::Grid,
                Some(&format!("{SUB}-l1")),
            ),
            area(
                &format!("{SUB}-g2"),
                AreaLevel::Grid,
                Some(&format!("{SUB}-l1")),
            ),
        ])
        .await
        .unwrap();
    let rollups = Rollups::new(Arc::clone(&store));
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tickets: Vec<(Ticket, usize)> = Vec::new();
    let mut at = T0;
    for step in 0..400 {
        at += Duration::minutes(rng.random_range(1..90));
        // Emergency mode for a while in the middle: holdings received then count apart.
        if step == 130 || step == 260 {
            let rate = if step == 130 {
                ClockRate::from_hundredths("rate", 300).unwrap()
            } else {
                ClockRate::PEACETIME
            };
            let mode = EmergencyMode {
                rate,
                since: at,
                switched_by: "cc".into(),
                reason: "test".into(),
            };
            store
                .switch_emergency_mode(&code(SUB), &mode)
                .await
                .unwrap();
        }
        if tickets.is_empty() || rng.random_bool(0.25) {
            let grid = rng.random_range(1..=2);
            let (mut ticket, events) = assigned_ticket(grid, &format!("r{step}"), at);
            // Deadlines as the clocks would set them, so on-time and late both happen.
            ticket.accept_due_at = Some(at + Duration::hours(2));
            ticket.resolve_due_at = Some(at + Duration::hours(rng.random_range(1..12)));
            let stored = store
                .create_ticket(&NewTicket {
                    ticket,
                    events,
                    timers: vec![],
                    idempotency: None,
                    followed: None,
                })
                .await
                .unwrap();
            tickets.push((stored, grid));
        } else {
            let i = rng.random_range(0..tickets.len());
            let (t, grid) = &tickets[i];
            let command = random_command(&mut rng, t, *grid, at);
            let mut next = t.clone();
            let Ok(applied) = next.apply(command, "tester", "", at) else {
                continue;
            };
            if next.state.is_open() && next.resolve_due_at.is_none() {
                next.resolve_due_at = Some(at + Duration::hours(rng.random_range(1..12)));
            }
            let stored = store
                .update_ticket(&TicketChange {
                    ticket: next,
                    events: vec![applied.event],
                    timers: None,
                    idempotency: None,
                    add_follower: None,
                    task_result: None,
                })
                .await
                .unwrap();
            tickets[i].0 = stored;
        }
        // Fold now and then, as the background task and the readers do.
        if rng.random_bool(0.1) {
            rollups.catch_up().await.unwrap();
        }
    }
    rollups.catch_up().await.unwrap();

    let days = (date!(2026 - 03 - 01), date!(2026 - 04 - 01));
    let snapshot = |store: Arc<dyn Store>| async move {
        let mut rows = Vec::new();
        for scope in Scope::ALL {
            for emergency in [Some(false), Some(true)] {
                rows.push(
                    store
                        .evaluation_totals(&EvaluationQuery {
                            subdistrict_codes: vec![code(SUB)],
                            scope,
                            from: days.0,
                            until: days.1,
                            emergency,
                        })
                        .await
                        .unwrap(),
                );
            }
        }
        let states = store.state_counts(&code(SUB)).await.unwrap();
        let grids = store.open_by_grid(&code(SUB)).await.unwrap();
        let mut per_day = Vec::new();
        let mut d = days.0;
        while d < days.1 {
            per_day.push(
                store
                    .event_day_count(&code(SUB), d, &EventKind::ALL)
                    .await
                    .unwrap(),
            );
            d = d.next_day().unwrap();
        }
        (rows, states, per_day, grids)
    };
    let kept = snapshot(Arc::clone(&store)).await;
    // The history is not trivial: every scope has rows in both periods, escalations and
    // resolutions happened (rows: each scope's peacetime, then its emergency mode).
    assert!(kept.0.iter().all(|rows| !rows.is_empty()), "{:?}", kept.0);
    let subdistrict = &kept.0[8][0].figures;
    assert!(
        subdistrict.resolved > 0 && subdistrict.escalations > 0,
        "{subdistrict:?}"
    );
    // The states add up to the tickets written.
    let total: u64 = kept.1.iter().map(|(_, n)| n).sum();
    assert_eq!(total, tickets.len() as u64);
    // Open per grid is what the tickets say.
    let mut open: std::collections::BTreeMap<AreaCode, u64> = Default::default();
    for (t, _) in &tickets {
        let t = store.get_ticket(&t.id).await.unwrap();
        if t.state.is_open() {
            *open.entry(t.grid_code).or_default() += 1;
        }
    }
    assert_eq!(kept.3, open.into_iter().collect::<Vec<_>>());

    let folded = rollups.rebuild().await.unwrap();
    let logged = store
        .count_events(&[], &[], T0 - Duration::days(1))
        .await
        .unwrap();
    assert_eq!(folded, logged, "the rebuild read the whole log");
    let rebuilt = snapshot(Arc::clone(&store)).await;
    assert_eq!(kept, rebuilt);
}

#[tokio::test]
async fn incremental_rollups_equal_a_rebuild_on_sqlite() {
    for seed in [1, 2, 3] {
        let store = SqliteStore::in_memory().await.unwrap();
        store.migrate().await.unwrap();
        history_then_rebuild(Arc::new(store), seed).await;
    }
}

#[tokio::test]
async fn incremental_rollups_equal_a_rebuild_on_postgres() {
    use sqlx::Connection;
    let url = match std::env::var("WUZHANG_TEST_PG_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => {
            assert!(
                std::env::var("WUZHANG_REQUIRE_PG").as_deref() != Ok("1"),
                "WUZHANG_REQUIRE_PG=1 but WUZHANG_TEST_PG_URL is not set"
            );
            return;
        }
    };
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    // The schema name is ours: a fixed prefix and hex digits.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let options = <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(&url)
        .unwrap()
        .options([("search_path", format!("{schema},public"))]);
    let store = wuzhang_store::PostgresStore::connect_with(options, 4)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    history_then_rebuild(Arc::new(store), 1).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut admin)
        .await
        .unwrap();
}

/// A reader folds a bounded number of steps and says how far behind the rollups are; the
/// next catch-ups (the background task's, other readers') fold the rest.
#[tokio::test]
async fn a_reader_never_folds_a_whole_backlog() {
    let store = SqliteStore::in_memory().await.unwrap();
    store.migrate().await.unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    // 30 tickets, 60 events: 6 steps of 10.
    for i in 0..30 {
        let at = T0 + Duration::minutes(i);
        let (ticket, events) = assigned_ticket(1, &format!("r{i}"), at);
        store
            .create_ticket(&NewTicket {
                ticket,
                events,
                timers: vec![],
                idempotency: None,
                followed: None,
            })
            .await
            .unwrap();
    }
    let rollups = Rollups::new(Arc::clone(&store)).with_steps(10, 2);
    let head = store.event_cursor_head().await.unwrap();
    assert_eq!(
        rollups.catch_up().await.unwrap(),
        wuzhang_app::rollups::CaughtUp::Behind {
            cursor: store.rollup_cursor().await.unwrap(),
            head,
        }
    );
    // Two steps of ten: twenty events folded, forty to go.
    let states = store.state_counts(&code(SUB)).await.unwrap();
    let counted: u64 = states.iter().map(|(_, n)| n).sum();
    assert_eq!(counted, 10, "ten tickets' two events each: {states:?}");
    rollups.catch_up().await.unwrap();
    assert_eq!(
        rollups.catch_up().await.unwrap(),
        wuzhang_app::rollups::CaughtUp::Yes
    );
    let states = store.state_counts(&code(SUB)).await.unwrap();
    assert_eq!(states.iter().map(|(_, n)| n).sum::<u64>(), 30);
}
