//! The timer worker against a real store with an injected clock: no sleeps, every deadline
//! exact. The small test tree: unit U1 (孙单元长) in building B01 (赵楼长 on leave, 钱副楼长
//! acting), grid 1 (张网格), lane L01 (李路长), street S01 (vacant), subdistrict 220102001.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::category::{Category, CategoryCode, CategoryKind, DeadlineKind};
use wuzhang_domain::chief::{ChiefLevel, Person, PersonId};
use wuzhang_domain::clock::{Clock, ManualClock};
use wuzhang_domain::deadline::{CalendarBook, Calendars, Clocks};
use wuzhang_domain::emergency::ClockRate;
use wuzhang_domain::event::EventKind;
use wuzhang_domain::organization::OrganizationCode;
use wuzhang_domain::point::{Crs, GeoPoint};
use wuzhang_domain::ticket::{Assignment, Command, Report, Ticket, TicketId, TicketState};
use wuzhang_escalation::worker::{Escalator, WorkerConfig};
use wuzhang_store::{NewTicket, SqliteStore, Store, TicketChange, TicketQuery};

const T0: OffsetDateTime = datetime!(2026-11-30 02:00 UTC); // a Monday, 10:00 in Beijing

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures")
            .join(name),
    )
    .unwrap()
}

fn code(s: &str) -> AreaCode {
    AreaCode::new(s).unwrap()
}

async fn seeded() -> Arc<dyn Store> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().await.unwrap());
    seed(store).await
}

/// A migrated Postgres store in a fresh schema of `WUZHANG_TEST_PG_URL`, or a skip.
async fn postgres() -> Option<Arc<dyn Store>> {
    Some(postgres_pair().await?.0)
}

/// As [`postgres`], with a second store on the same schema: another process's view.
#[allow(clippy::print_stderr)] // the skip note is for whoever runs the tests
async fn postgres_pair() -> Option<(Arc<dyn Store>, Arc<dyn Store>)> {
    let Ok(base) = std::env::var("WUZHANG_TEST_PG_URL") else {
        assert!(
            std::env::var("WUZHANG_REQUIRE_PG").as_deref() != Ok("1"),
            "WUZHANG_REQUIRE_PG=1 but WUZHANG_TEST_PG_URL is not set"
        );
        eprintln!("skipping: WUZHANG_TEST_PG_URL is not set");
        return None;
    };
    let schema = format!("t_worker_{:016x}", rand::random::<u64>());
    let pool = sqlx::PgPool::connect(&base).await.unwrap();
    // The name is ours: a fixed prefix and hex digits.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&pool)
        .await
        .unwrap();
    let options: sqlx::postgres::PgConnectOptions = base.parse().unwrap();
    let options = options.options([("search_path", format!("{schema},public"))]);
    let store = wuzhang_store::PostgresStore::connect_with(options.clone(), 16)
        .await
        .unwrap();
    let other = wuzhang_store::PostgresStore::connect_with(options, 4)
        .await
        .unwrap();
    Some((seed(Arc::new(store)).await, Arc::new(other)))
}

async fn seed(store: Arc<dyn Store>) -> Arc<dyn Store> {
    store.migrate().await.unwrap();
    let areas = wuzhang_import::areas::import_areas(
        &fixture("small-tree.geojson"),
        &Default::default(),
        &|_| None,
    )
    .unwrap();
    assert!(areas.issues.is_empty());
    store.upsert_areas(&areas.records).await.unwrap();
    let levels: HashMap<AreaCode, _> = areas
        .records
        .iter()
        .map(|r| (r.area.code.clone(), r.area.level))
        .collect();
    let roster = wuzhang_import::roster::import_roster(&fixture("small-roster.csv"), &|c| {
        levels.get(c).copied()
    })
    .unwrap();
    assert!(roster.issues.is_empty());
    store
        .upsert_roster(&roster.persons, &roster.posts)
        .await
        .unwrap();
    store.upsert_category(&category()).await.unwrap();
    store
}

/// One hour to accept, two to resolve, on the wall clock.
fn category() -> Category {
    Category {
        code: CategoryCode::new("T01").unwrap(),
        name: "测试".into(),
        parent_code: None,
        kind: CategoryKind::Event,
        start_level: ChiefLevel::Unit,
        accept_within: Duration::hours(1),
        resolve_within: Duration::hours(2),
        deadline_kind: DeadlineKind::Natural,
        urgent: false,
        calendar_code: "cn".into(),
        duplicate_radius_m: 0.0,
        duplicate_window: Duration::ZERO,
        active: true,
        reopen_on_not_solved: false,
        organization_type: None,
    }
}

/// A ticket at the unit chief, with its clocks, as intake writes it.
async fn new_ticket(store: &dyn Store, at: OffsetDateTime) -> Ticket {
    let to = Assignment {
        level: ChiefLevel::Unit,
        area_code: code("220102001001001B01U1"),
        person_id: Some(PersonId::new("P006").unwrap()),
        organization: None,
    };
    ticket_held_by(store, at, to).await
}

/// A ticket of the test unit assigned to `to`, with its clocks, as intake writes it.
async fn ticket_held_by(store: &dyn Store, at: OffsetDateTime, to: Assignment) -> Ticket {
    let report = Report {
        category_code: category().code,
        description: "单元门坏了".into(),
        location: GeoPoint::new(43.8025, 125.3025, Crs::Wgs84).unwrap(),
        original_location: GeoPoint::new(43.8025, 125.3025, Crs::Wgs84).unwrap(),
        address: String::new(),
        building_code: Some(code("220102001001001B01")),
        unit_code: Some(code("220102001001001B01U1")),
        media_urls: vec![],
        contact_phone: None,
        reporter_id: "r1".into(),
        urgent: false,
    };
    let (mut t, e1) = Ticket::submit(
        TicketId::new(at),
        report,
        code("220102001001001"),
        code("220102001"),
        at,
    );
    let e2 = t
        .apply(Command::Assign(to), "system:intake", "", at)
        .unwrap();
    let timers = Clocks::start(
        &category(),
        &Calendars::default(),
        at,
        0.8,
        ClockRate::PEACETIME,
    )
    .unwrap()
    .apply(&mut t);
    store
        .create_ticket(&NewTicket {
            ticket: t,
            events: vec![e1, e2.event],
            timers,
            idempotency: None,
            followed: None,
        })
        .await
        .unwrap()
}

fn worker(store: &Arc<dyn Store>, clock: &Arc<ManualClock>) -> Escalator {
    Escalator::new(
        Arc::clone(store),
        Arc::clone(clock) as Arc<dyn Clock>,
        Arc::new(CalendarBook::default()),
        WorkerConfig::default(),
    )
}

fn owner(t: &Ticket) -> (ChiefLevel, Option<&str>) {
    let a = t.assignment.as_ref().unwrap();
    (a.level, a.person_id.as_ref().map(|p| p.as_str()))
}

#[tokio::test]
async fn deadlines_walk_a_ticket_up_all_five_levels_to_the_command_center() {
    let store = seeded().await;
    let clock = Arc::new(ManualClock::new(T0));
    let w = worker(&store, &clock);
    let t = new_ticket(store.as_ref(), T0).await;
    assert_eq!(owner(&t), (ChiefLevel::Unit, Some("P006")));

    // Nothing is due yet.
    let r = w.run_once().await.unwrap();
    assert_eq!((r.fired, r.dropped), (0, 0));

    // 80 % of the accept hour: a warning, nothing moves.
    clock.set(T0 + Duration::minutes(48));
    let r = w.run_once().await.unwrap();
    assert_eq!(r.fired, 1);
    let now = store.get_ticket(&t.id).await.unwrap();
    assert_eq!(owner(&now), (ChiefLevel::Unit, Some("P006")));
    let events = store.list_events(&t.id, 0, 100).await.unwrap();
    assert_eq!(
        events.last().unwrap().event.kind,
        EventKind::DeadlineWarning
    );

    // Each accept deadline passing moves it one staffed level up, with new clocks.
    let expected = [
        (ChiefLevel::Building, Some("P005")), // the holder is on leave: the deputy
        (ChiefLevel::Grid, Some("P003")),
        (ChiefLevel::Lane, Some("P002")),
        (ChiefLevel::CommandCenter, None), // the street post is vacant: passed over
    ];
    let mut at = T0;
    for want in expected {
        at += Duration::hours(1);
        clock.set(at);
        // The warning (48 min into the level) fired on an earlier round or fires now.
        let r = w.run_once().await.unwrap();
        assert!(r.fired >= 1, "{r:?}");
        let now = store.get_ticket(&t.id).await.unwrap();
        assert_eq!(owner(&now), want, "at {at}");
        assert_eq!(now.state, TicketState::Assigned);
        assert_eq!(now.accept_due_at, Some(at + Duration::hours(1)));
        let timers = store.list_timers(&t.id).await.unwrap();
        assert!(timers.iter().all(|tm| tm.level == want.0));
        // Warnings of the new level.
        clock.set(at + Duration::minutes(48));
        w.run_once().await.unwrap();
    }
    let events = store.list_events(&t.id, 0, 100).await.unwrap();
    let autos: Vec<_> = events
        .iter()
        .filter(|e| e.event.kind == EventKind::AutoEscalated)
        .collect();
    assert_eq!(autos.len(), 4);
    assert!(
        autos[3].event.note.contains("street"),
        "{}",
        autos[3].event.note
    );

    // At the command center it stays, and counts as overdue.
    clock.set(at + Duration::hours(3));
    w.run_once().await.unwrap();
    let now = store.get_ticket(&t.id).await.unwrap();
    assert_eq!(owner(&now), (ChiefLevel::CommandCenter, None));
    assert!(store.list_timers(&t.id).await.unwrap().is_empty());
    let overdue = TicketQuery {
        overdue_at: Some(clock.now()),
        ..Default::default()
    };
    assert_eq!(store.count_tickets(&overdue).await.unwrap(), 1);
    // And nothing fires twice.
    let r = w.run_once().await.unwrap();
    assert_eq!((r.fired, r.dropped, r.failed), (0, 0, 0));
}

#[tokio::test]
async fn an_accepted_ticket_escalates_only_when_the_resolve_deadline_passes() {
    let store = seeded().await;
    let clock = Arc::new(ManualClock::new(T0));
    let w = worker(&store, &clock);
    let t = new_ticket(store.as_ref(), T0).await;
    // 签收 after ten minutes: the accept clock no longer matters.
    let mut accepted = t.clone();
    let e = accepted
        .apply(Command::Accept, "P006", "", T0 + Duration::minutes(10))
        .unwrap();
    store
        .update_ticket(&TicketChange {
            ticket: accepted,
            events: vec![e.event],
            timers: None,
            idempotency: None,
            add_follower: None,
            task_result: None,
        })
        .await
        .unwrap();
    clock.set(T0 + Duration::minutes(90));
    w.run_once().await.unwrap();
    let now = store.get_ticket(&t.id).await.unwrap();
    assert_eq!(
        (now.state, owner(&now).0),
        (TicketState::Accepted, ChiefLevel::Unit)
    );
    // Two hours: the resolve deadline passes, up it goes, to be accepted anew.
    clock.set(T0 + Duration::hours(2));
    w.run_once().await.unwrap();
    let now = store.get_ticket(&t.id).await.unwrap();
    assert_eq!(
        (now.state, owner(&now)),
        (TicketState::Assigned, (ChiefLevel::Building, Some("P005")))
    );
}

#[tokio::test]
async fn a_paused_clock_does_not_escalate() {
    let store = seeded().await;
    let clock = Arc::new(ManualClock::new(T0));
    let w = worker(&store, &clock);
    let t = new_ticket(store.as_ref(), T0).await;
    let mut p = t.clone();
    let asked = p
        .apply(
            Command::RequestPause {
                until: T0 + Duration::hours(4),
            },
            "P006",
            "等配件",
            T0 + Duration::minutes(5),
        )
        .unwrap();
    let p = store
        .update_ticket(&TicketChange {
            ticket: p,
            events: vec![asked.event],
            timers: None,
            idempotency: None,
            add_follower: None,
            task_result: None,
        })
        .await
        .unwrap();
    let mut q = p.clone();
    let approved = q
        .apply(
            Command::DecidePause { approve: true },
            "command_center:220102001",
            "",
            T0 + Duration::minutes(6),
        )
        .unwrap();
    store
        .update_ticket(&TicketChange {
            ticket: q,
            events: vec![approved.event],
            timers: None,
            idempotency: None,
            add_follower: None,
            task_result: None,
        })
        .await
        .unwrap();
    clock.set(T0 + Duration::hours(5));
    let r = w.run_once().await.unwrap();
    assert_eq!(r.fired, 0);
    let now = store.get_ticket(&t.id).await.unwrap();
    assert_eq!(owner(&now).0, ChiefLevel::Unit);
    assert!(
        store.list_timers(&t.id).await.unwrap().is_empty(),
        "timers of a paused ticket are dropped; resuming starts new clocks"
    );
}

/// The worker keeps posts and the grids' chains between rounds; a roster change made
/// between two rounds (here by `other`, another handle on the same store) decides the
/// next round's escalations.
async fn roster_change_between_rounds_is_seen(store: Arc<dyn Store>, other: Arc<dyn Store>) {
    let clock = Arc::new(ManualClock::new(T0));
    let w = worker(&store, &clock);
    let first = new_ticket(store.as_ref(), T0).await;
    let second = new_ticket(store.as_ref(), T0 + Duration::minutes(30)).await;

    clock.set(T0 + Duration::minutes(61));
    w.run_once().await.unwrap();
    let now = store.get_ticket(&first.id).await.unwrap();
    assert_eq!(owner(&now), (ChiefLevel::Building, Some("P005")));

    // The building's deputy changes (its holder is still on leave).
    let building = code("220102001001001B01");
    let mut post = store
        .posts_for_areas(std::slice::from_ref(&building))
        .await
        .unwrap()
        .pop()
        .unwrap();
    let p007 = PersonId::new("P007").unwrap();
    post.deputy = Some(p007.clone());
    let person = Person {
        id: p007,
        name: "周副楼长".into(),
        phone: None,
    };
    other.upsert_roster(&[person], &[post]).await.unwrap();

    clock.set(T0 + Duration::minutes(91));
    w.run_once().await.unwrap();
    let now = store.get_ticket(&second.id).await.unwrap();
    assert_eq!(owner(&now), (ChiefLevel::Building, Some("P007")));
}

#[tokio::test]
async fn roster_change_between_rounds_is_seen_sqlite() {
    let store = seeded().await;
    roster_change_between_rounds_is_seen(Arc::clone(&store), store).await;
}

#[tokio::test]
async fn roster_change_between_rounds_is_seen_postgres() {
    let Some((store, other)) = postgres_pair().await else {
        return;
    };
    roster_change_between_rounds_is_seen(store, other).await;
}

/// Three workers on Postgres share 10,000 due deadlines: each escalates exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_fire_ten_thousand_timers_exactly_once() {
    const N: usize = 10_000;
    let Some(store) = postgres().await else {
        return;
    };
    // Written concurrently, as intake would (group commit makes this quick).
    let mut ids = Vec::with_capacity(N);
    for chunk in 0..(N / 500) {
        let mut tasks = Vec::new();
        for i in 0..500 {
            let store = Arc::clone(&store);
            let at = T0 + Duration::milliseconds((chunk * 500 + i) as i64);
            tasks.push(tokio::spawn(async move {
                new_ticket(store.as_ref(), at).await.id
            }));
        }
        for t in tasks {
            ids.push(t.await.unwrap());
        }
    }
    // 70 minutes on: every warning and accept deadline is due; nothing else.
    let clock = Arc::new(ManualClock::new(T0 + Duration::minutes(70)));
    let mut workers = Vec::new();
    // As `serve` runs them: clones of one worker, sharing the areas and posts it keeps.
    let shared = worker(&store, &clock);
    for _ in 0..3 {
        let w = shared.clone();
        workers.push(tokio::spawn(async move {
            let mut fired = 0;
            loop {
                let r = w.run_once().await.unwrap();
                assert_eq!(r.failed, 0);
                if r.fired + r.dropped == 0 {
                    return fired;
                }
                fired += r.fired;
            }
        }));
    }
    let mut per_worker = Vec::new();
    for w in workers {
        per_worker.push(w.await.unwrap());
    }
    // A worker may stop while others still hold the last batches; finish them.
    let w = worker(&store, &clock);
    let mut rest = 0;
    loop {
        let r = w.run_once().await.unwrap();
        if r.fired + r.dropped == 0 {
            break;
        }
        rest += r.fired;
    }
    assert!(
        store
            .subdistricts_with_due_timers(clock.now())
            .await
            .unwrap()
            .is_empty()
    );
    // Every ticket: one warning, one automatic escalation, nothing twice.
    let mut autos: HashMap<TicketId, usize> = HashMap::new();
    let mut warnings: HashMap<TicketId, usize> = HashMap::new();
    let mut cursor = 0;
    loop {
        let page = store.events_since(&[], cursor, 5000).await.unwrap();
        let Some(last) = page.last() else { break };
        cursor = last.cursor;
        for e in page {
            match e.event.event.kind {
                EventKind::AutoEscalated => *autos.entry(e.event.ticket_id).or_default() += 1,
                EventKind::DeadlineWarning => *warnings.entry(e.event.ticket_id).or_default() += 1,
                _ => {}
            }
        }
    }
    assert_eq!(autos.len(), N);
    assert!(autos.values().all(|n| *n == 1), "an escalation fired twice");
    assert_eq!(warnings.len(), N);
    assert!(warnings.values().all(|n| *n == 1), "a warning fired twice");
    assert_eq!(
        per_worker.iter().sum::<usize>() + rest,
        2 * N,
        "{per_worker:?} + {rest}"
    );
    for id in ids.iter().step_by(997) {
        let t = store.get_ticket(id).await.unwrap();
        assert_eq!(owner(&t), (ChiefLevel::Building, Some("P005")));
    }
}

#[tokio::test]
async fn an_organization_that_misses_its_deadline_hands_the_ticket_to_the_command_center() {
    let store = seeded().await;
    let clock = Arc::new(ManualClock::new(T0));
    let w = worker(&store, &clock);
    // A ticket a property company holds, the grid chief following.
    let held = Assignment::organization(
        OrganizationCode::new("wy-1").unwrap(),
        code("220102001001001"),
        Some(PersonId::new("P003").unwrap()),
    );
    let t = ticket_held_by(store.as_ref(), T0, held).await;

    // The accept hour passes: not the lane chief above the grid, the command center.
    clock.set(T0 + Duration::minutes(48));
    w.run_once().await.unwrap();
    clock.set(T0 + Duration::hours(1));
    w.run_once().await.unwrap();
    let now = store.get_ticket(&t.id).await.unwrap();
    assert_eq!(owner(&now), (ChiefLevel::CommandCenter, None));
    assert_eq!(now.assignment.as_ref().unwrap().organization, None);
    assert_eq!(now.accept_due_at, Some(T0 + Duration::hours(2)));
    let events = store.list_events(&t.id, 0, 100).await.unwrap();
    let last = &events.last().unwrap().event;
    assert_eq!(last.kind, EventKind::AutoEscalated);
    assert!(
        last.note.contains("organization wy-1 → command center"),
        "{}",
        last.note
    );
}
