//! The conformance suite: every case runs against every backend, so a service never has
//! to ask which store it has. `conformance_suite!(name, fresh_store)` expands into one
//! `#[tokio::test]` per case in `mod name` (after Quickwit's `metastore_test_suite!`), so
//! `cargo test` lists `sqlite::update_ticket_conflicts` and `postgres::update_ticket_conflicts`.
//!
//! Postgres cases run when `WUZHANG_TEST_PG_URL` names a database with PostGIS installed
//! (e.g. `postgres://postgres@127.0.0.1:5432/wuzhang_test`); each case gets a fresh schema.
//! Without it they are skipped with a note, unless `WUZHANG_REQUIRE_PG=1`, which makes a
//! missing database a failure (after IOx's `maybe_skip_integration!`).

use std::sync::Arc;

macro_rules! conformance_suite {
    ($backend:ident, $fresh:expr) => {
        conformance_suite!(@cases $backend, $fresh, [
            migrate_is_idempotent,
            areas_round_trip_with_lineage,
            area_geometry_round_trips,
            invalid_geometry_writes_nothing,
            areas_list_by_parent_level_and_bbox,
            areas_page_to_the_end,
            bad_page_tokens_are_invalid,
            missing_parent_writes_nothing,
            parents_may_come_later_in_the_batch,
            area_change_counter_increases,
            make_valid_repairs_or_declines,
            load_area_records_by_level,
            load_areas_without_geometry,
            roster_round_trip,
            invalid_roster_writes_nothing,
            categories_round_trip,
            invalid_categories_are_refused,
            reference_counters_follow_roster_and_categories,
            create_ticket_numbers_events,
            create_ticket_keeps_every_field,
            duplicate_idempotency_key_writes_nothing,
            duplicate_ticket_id_is_refused,
            invalid_tickets_are_refused,
            list_tickets_by_each_filter,
            tickets_and_events_are_counted,
            assignee_filters_follow_each_reassignment,
            list_tickets_orders_and_pages,
            update_ticket_writes_change_events_timers,
            update_ticket_conflicts,
            update_tickets_writes_all_or_nothing,
            update_ticket_not_found,
            concurrent_updates_one_wins,
            list_events_after_seq,
            events_since_across_subdistricts,
            events_since_misses_nothing_under_concurrent_writers,
            timers_are_listed_and_replaced,
            subdistricts_with_due_timers,
            fire_writes_change_and_deletes_timer,
            fire_prepares_the_batch_before_deciding,
            fire_writes_whatever_the_handler_changed,
            fire_with_new_timers_replaces_them,
            fire_two_timers_of_one_ticket_in_one_batch,
            fire_drop_deletes_timer,
            fire_handler_error_reschedules,
            fire_conflict_reschedules,
            fire_replacement_retires_old_claimed_timers,
            fire_ticket_changed_since_claim_is_retried,
            fire_respects_due_time_subdistrict_and_limit,
            concurrent_workers_fire_each_timer_once,
            idempotency_records,
            merge_writes_both_tickets_or_neither,
            list_tickets_within_a_box,
            concurrent_creates_each_succeed_or_fail_alone,
            cancelled_creates_leave_whole_tickets_or_none,
            count_tickets_and_event_cursor_head,
            calendar_years_round_trip,
        ]);
    };
    (@cases $backend:ident, $fresh:expr, [$($case:ident),* $(,)?]) => {
        mod $backend {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(harness) = $fresh.await else { return };
                    cases::$case(Arc::clone(&harness.store)).await;
                    harness.finish().await;
                }
            )*
        }
    };
}

conformance_suite!(sqlite, harness::sqlite());
conformance_suite!(postgres, harness::postgres());

mod harness {
    use std::str::FromStr;
    use std::sync::Arc;

    use sqlx::postgres::PgConnectOptions;
    use sqlx::{AssertSqlSafe, Connection, PgConnection};
    use wuzhang_store::{PostgresStore, SqliteStore, Store};

    /// A fresh, migrated store and what to clean up after a passing case.
    pub(crate) struct Harness {
        pub(crate) store: Arc<dyn Store>,
        /// (database URL, schema) of a Postgres case.
        schema: Option<(String, String)>,
    }

    impl Harness {
        /// Drops the case's schema (left behind when a case fails, for a look; `.ci/run`
        /// drops leftovers).
        pub(crate) async fn finish(self) {
            let Some((url, schema)) = self.schema else {
                return;
            };
            drop(self.store);
            let mut conn = PgConnection::connect(&url)
                .await
                .expect("connect to drop schema");
            sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&mut conn)
                .await
                .expect("drop schema");
            conn.close().await.ok();
        }
    }

    impl Harness {
        /// A Postgres case's schema, which is also its store's `application_name`.
        pub(crate) fn pg_schema(&self) -> Option<&str> {
            self.schema.as_ref().map(|(_, schema)| schema.as_str())
        }

        /// A connection of its own to a Postgres case's schema, for doing what the trait
        /// does not let a case do (hold a writer's transaction open halfway).
        pub(crate) async fn pg_connection(&self) -> Option<PgConnection> {
            let (url, schema) = self.schema.as_ref()?;
            let options = PgConnectOptions::from_str(url)
                .expect("WUZHANG_TEST_PG_URL")
                .options([("search_path", format!("{schema},public"))]);
            Some(
                PgConnection::connect_with(&options)
                    .await
                    .expect("connect postgres"),
            )
        }
    }

    pub(crate) async fn sqlite() -> Option<Harness> {
        let store = SqliteStore::in_memory().await.expect("open sqlite");
        store.migrate().await.expect("migrate sqlite");
        Some(Harness {
            store: Arc::new(store),
            schema: None,
        })
    }

    /// A store in a new schema `t_<random>` of `WUZHANG_TEST_PG_URL`, its connections'
    /// `search_path` set to that schema and `public` (where PostGIS lives).
    #[allow(clippy::print_stderr)] // the skip note is for whoever runs the tests
    pub(crate) async fn postgres() -> Option<Harness> {
        let url = match std::env::var("WUZHANG_TEST_PG_URL") {
            Ok(url) if !url.trim().is_empty() => url,
            _ => {
                if std::env::var("WUZHANG_REQUIRE_PG").is_ok_and(|v| v == "1") {
                    panic!("WUZHANG_REQUIRE_PG=1 but WUZHANG_TEST_PG_URL is not set");
                }
                eprintln!("skipping postgres case: WUZHANG_TEST_PG_URL is not set");
                return None;
            }
        };
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("WUZHANG_TEST_PG_URL: cannot connect: {e}"));
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut admin)
            .await
            .expect("create schema");
        admin.close().await.ok();
        // Named after the schema, so a case can find its own store's backends.
        let options = PgConnectOptions::from_str(&url)
            .expect("WUZHANG_TEST_PG_URL")
            .application_name(&schema)
            .options([("search_path", format!("{schema},public"))]);
        let store = PostgresStore::connect_with(options, 8)
            .await
            .expect("connect postgres");
        store.migrate().await.expect("migrate postgres");
        Some(Harness {
            store: Arc::new(store),
            schema: Some((url, schema)),
        })
    }
}

/// Values the cases build with the domain API.
mod fixtures {
    use time::macros::datetime;
    use time::{Duration, OffsetDateTime};
    use wuzhang_domain::area::{Area, AreaCode, AreaLevel, BBox};
    use wuzhang_domain::category::{
        Category, CategoryCode, CategoryKind, DEFAULT_CALENDAR, DeadlineKind,
    };
    use wuzhang_domain::chief::{ChiefLevel, PersonId};
    use wuzhang_domain::point::{Crs, GeoPoint};
    use wuzhang_domain::ticket::{Assignment, Command, Report, Ticket, TicketId};
    use wuzhang_domain::timer::{Timer, TimerKind};
    use wuzhang_store::{AreaRecord, IdempotencyRecord, NewTicket, TicketChange};

    pub(crate) const SUB1: &str = "220102001";
    pub(crate) const SUB2: &str = "220102002";
    pub(crate) const ST1: &str = "220102001-s1";
    pub(crate) const LN1: &str = "220102001-l1";
    pub(crate) const G1: &str = "220102001-g1";
    pub(crate) const G2: &str = "220102001-g2";
    pub(crate) const B1: &str = "220102001-b1";
    pub(crate) const U1: &str = "220102001-u1";
    pub(crate) const ST2: &str = "220102002-s1";
    pub(crate) const LN2: &str = "220102002-l1";
    pub(crate) const G3: &str = "220102002-g1";

    /// Not on a whole second, and not in UTC: both must survive the store.
    pub(crate) const T0: OffsetDateTime = datetime!(2026-03-02 09:00:00.123_456 +8);

    pub(crate) fn code(s: &str) -> AreaCode {
        AreaCode::new(s).unwrap()
    }

    pub(crate) fn pid(s: &str) -> PersonId {
        PersonId::new(s).unwrap()
    }

    pub(crate) fn area(code_: &str, level: AreaLevel, parent: Option<&str>) -> Area {
        Area {
            code: code(code_),
            name: format!("区域 {code_}"),
            level,
            parent_code: parent.map(code),
            community: None,
            bbox: None,
        }
    }

    pub(crate) fn record(area: Area, geometry_wkb: Option<Vec<u8>>) -> AreaRecord {
        AreaRecord { area, geometry_wkb }
    }

    /// A canonical little-endian WKB MultiPolygon of one axis-aligned rectangle, which
    /// PostGIS' `ST_AsBinary` gives back byte for byte.
    pub(crate) fn rect_wkb(min_lng: f64, min_lat: f64, max_lng: f64, max_lat: f64) -> Vec<u8> {
        let mut out = vec![1u8];
        out.extend_from_slice(&6u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        out.push(1);
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&5u32.to_le_bytes());
        for (x, y) in [
            (min_lng, min_lat),
            (max_lng, min_lat),
            (max_lng, max_lat),
            (min_lng, max_lat),
            (min_lng, min_lat),
        ] {
            out.extend_from_slice(&x.to_le_bytes());
            out.extend_from_slice(&y.to_le_bytes());
        }
        out
    }

    /// A little-endian WKB Polygon with one ring as given (closed by the caller).
    pub(crate) fn wkb_polygon(ring: &[(f64, f64)]) -> Vec<u8> {
        let mut out = vec![1u8];
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&(ring.len() as u32).to_le_bytes());
        for (x, y) in ring {
            out.extend_from_slice(&x.to_le_bytes());
            out.extend_from_slice(&y.to_le_bytes());
        }
        out
    }

    /// A big-endian WKB Polygon (not Multi) of a rectangle.
    pub(crate) fn rect_polygon_wkb_be(
        min_lng: f64,
        min_lat: f64,
        max_lng: f64,
        max_lat: f64,
    ) -> Vec<u8> {
        let mut out = vec![0u8];
        out.extend_from_slice(&3u32.to_be_bytes());
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(&5u32.to_be_bytes());
        for (x, y) in [
            (min_lng, min_lat),
            (min_lng, max_lat),
            (max_lng, max_lat),
            (max_lng, min_lat),
            (min_lng, min_lat),
        ] {
            out.extend_from_slice(&x.to_be_bytes());
            out.extend_from_slice(&y.to_be_bytes());
        }
        out
    }

    /// (geometry type, every point) of a WKB Polygon or MultiPolygon, either byte order.
    pub(crate) fn decode_wkb(wkb: &[u8]) -> (u32, Vec<(f64, f64)>) {
        struct R<'a>(&'a [u8], usize, bool);
        impl R<'_> {
            fn order(&mut self) {
                self.2 = self.0[self.1] == 1;
                self.1 += 1;
            }
            fn u32(&mut self) -> u32 {
                let b: [u8; 4] = self.0[self.1..self.1 + 4].try_into().unwrap();
                self.1 += 4;
                if self.2 {
                    u32::from_le_bytes(b)
                } else {
                    u32::from_be_bytes(b)
                }
            }
            fn f64(&mut self) -> f64 {
                let b: [u8; 8] = self.0[self.1..self.1 + 8].try_into().unwrap();
                self.1 += 8;
                if self.2 {
                    f64::from_le_bytes(b)
                } else {
                    f64::from_be_bytes(b)
                }
            }
            fn polygon(&mut self, points: &mut Vec<(f64, f64)>) {
                for _ in 0..self.u32() {
                    for _ in 0..self.u32() {
                        points.push((self.f64(), self.f64()));
                    }
                }
            }
        }
        let mut r = R(wkb, 0, true);
        r.order();
        let kind = r.u32();
        let mut points = Vec::new();
        if kind == 6 {
            for _ in 0..r.u32() {
                r.order();
                assert_eq!(r.u32(), 3);
                r.polygon(&mut points);
            }
        } else {
            r.polygon(&mut points);
        }
        assert_eq!(r.1, wkb.len(), "no trailing bytes");
        (kind, points)
    }

    pub(crate) fn bbox(min_lng: f64, min_lat: f64, max_lng: f64, max_lat: f64) -> BBox {
        BBox {
            min_lng,
            min_lat,
            max_lng,
            max_lat,
        }
    }

    /// Two subdistricts, one with a full chain down to a unit. Grids have footprints;
    /// their bboxes are left for the store to fill in.
    pub(crate) fn tree() -> Vec<AreaRecord> {
        use AreaLevel as L;
        vec![
            record(area(SUB1, L::Subdistrict, None), None),
            record(area(ST1, L::Street, Some(SUB1)), None),
            record(area(LN1, L::Lane, Some(ST1)), None),
            record(
                Area {
                    community: Some("南湖社区".into()),
                    ..area(G1, L::Grid, Some(LN1))
                },
                Some(rect_wkb(125.30, 43.80, 125.31, 43.81)),
            ),
            record(
                area(G2, L::Grid, Some(LN1)),
                Some(rect_wkb(125.31, 43.80, 125.32, 43.81)),
            ),
            record(area(B1, L::Building, Some(G1)), None),
            record(area(U1, L::Unit, Some(B1)), None),
            record(area(SUB2, L::Subdistrict, None), None),
            record(area(ST2, L::Street, Some(SUB2)), None),
            record(area(LN2, L::Lane, Some(ST2)), None),
            record(
                area(G3, L::Grid, Some(LN2)),
                Some(rect_wkb(125.40, 43.90, 125.41, 43.91)),
            ),
        ]
    }

    pub(crate) fn category(code_: &str) -> Category {
        Category {
            code: CategoryCode::new(code_).unwrap(),
            name: format!("类别 {code_}"),
            parent_code: Some(CategoryCode::new("01").unwrap()),
            kind: CategoryKind::Event,
            start_level: ChiefLevel::Grid,
            accept_within: Duration::hours(2),
            resolve_within: Duration::hours(24),
            deadline_kind: DeadlineKind::WorkingHours,
            urgent: false,
            calendar_code: DEFAULT_CALENDAR.into(),
            duplicate_radius_m: 50.5,
            duplicate_window: Duration::minutes(90),
            active: true,
        }
    }

    pub(crate) fn report(reporter: &str, category: &str) -> Report {
        let p = GeoPoint::new(43.805, 125.305, Crs::Wgs84).unwrap();
        Report {
            category_code: CategoryCode::new(category).unwrap(),
            description: "垃圾满溢".into(),
            location: p,
            original_location: p,
            address: String::new(),
            building_code: None,
            unit_code: None,
            media_urls: vec![],
            contact_phone: None,
            reporter_id: reporter.into(),
            urgent: false,
        }
    }

    pub(crate) fn assignment(level: ChiefLevel, area: &str, person: Option<&str>) -> Assignment {
        Assignment {
            level,
            area_code: code(area),
            person_id: person.map(pid),
        }
    }

    pub(crate) fn grid_chief(grid: &str) -> Assignment {
        assignment(ChiefLevel::Grid, grid, Some("p-grid"))
    }

    /// A ticket just submitted: one event, no timers.
    pub(crate) fn submitted(
        sub: &str,
        grid: &str,
        reporter: &str,
        at: OffsetDateTime,
    ) -> NewTicket {
        submitted_in(sub, grid, reporter, "0101", at)
    }

    pub(crate) fn submitted_in(
        sub: &str,
        grid: &str,
        reporter: &str,
        category: &str,
        at: OffsetDateTime,
    ) -> NewTicket {
        let (ticket, event) = Ticket::submit(
            TicketId::new(at),
            report(reporter, category),
            code(grid),
            code(sub),
            at,
        );
        NewTicket {
            ticket,
            events: vec![event],
            timers: vec![],
            idempotency: None,
            followed: None,
        }
    }

    /// A ticket submitted and assigned at `at`: two events, accept (2 h) and resolve (24 h)
    /// deadlines with their timers.
    pub(crate) fn assigned(
        sub: &str,
        grid: &str,
        reporter: &str,
        at: OffsetDateTime,
        to: Assignment,
    ) -> NewTicket {
        let mut new = submitted(sub, grid, reporter, at);
        let level = to.level;
        let e = new
            .ticket
            .apply(Command::Assign(to), "system:routing", "", at)
            .unwrap();
        new.events.push(e.event);
        new.ticket.accept_due_at = Some(at + Duration::hours(2));
        new.ticket.resolve_due_at = Some(at + Duration::hours(24));
        new.timers = vec![
            timer(
                &new.ticket,
                TimerKind::Accept,
                at + Duration::hours(2),
                level,
            ),
            timer(
                &new.ticket,
                TimerKind::Resolve,
                at + Duration::hours(24),
                level,
            ),
        ];
        new
    }

    pub(crate) fn timer(
        t: &Ticket,
        kind: TimerKind,
        due_at: OffsetDateTime,
        level: ChiefLevel,
    ) -> Timer {
        Timer {
            ticket_id: t.id,
            subdistrict_code: t.subdistrict_code.clone(),
            kind,
            due_at,
            level,
        }
    }

    /// `command` applied to (a copy of) `t`, as a change that keeps the timers.
    pub(crate) fn change(t: &Ticket, command: Command, at: OffsetDateTime) -> TicketChange {
        let mut next = t.clone();
        let event = next.apply(command, "tester", "备注", at).unwrap();
        TicketChange {
            ticket: next,
            events: vec![event.event],
            timers: None,
            idempotency: None,
            add_follower: None,
        }
    }

    pub(crate) fn idempotency(
        scope: &str,
        request_id: &str,
        at: OffsetDateTime,
    ) -> IdempotencyRecord {
        IdempotencyRecord {
            scope: scope.into(),
            request_id: request_id.into(),
            request_hash: vec![1, 2, 3, 0, 255],
            response: format!("response to {request_id}").into_bytes(),
            created_at: at,
        }
    }
}

mod cases {
    use std::collections::{BTreeSet, HashMap, HashSet};
    use std::sync::{Arc, Mutex};

    use futures::{FutureExt, StreamExt};
    use time::{Duration, OffsetDateTime};
    use wuzhang_domain::area::{Area, AreaLevel};
    use wuzhang_domain::category::CategoryCode;
    use wuzhang_domain::chief::{ChiefLevel, LeavePeriod, Person, Post};
    use wuzhang_domain::clock::truncate_to_micros;
    use wuzhang_domain::event::{EventKind, SYSTEM_TIMER_ACTOR};
    use wuzhang_domain::point::{Crs, GeoPoint};
    use wuzhang_domain::ticket::{
        Command, Pause, Rating, Severity, SupervisionOrder, Ticket, TicketId, TicketState,
    };
    use wuzhang_domain::timer::{Timer, TimerKind};
    use wuzhang_store::{
        AreaQuery, Backend, FireReport, FnHandler, NewTicket, PageRequest, Store, StoreError,
        TicketChange, TicketGrouping, TicketOrder, TicketQuery, TimerHandler, TimerOutcome,
    };

    use super::fixtures::*;

    type S = Arc<dyn Store>;

    macro_rules! assert_err {
        ($result:expr, $pattern:pat $(if $guard:expr)?) => {
            match $result {
                Err(e) => assert!(matches!(e, $pattern $(if $guard)?), "unexpected error: {e:?}"),
                Ok(v) => panic!("expected an error, got {v:?}"),
            }
        };
    }

    fn invalid_field(e: &StoreError) -> &str {
        match e {
            StoreError::Invalid { field, .. } => field,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    async fn seed_tree(store: &S) {
        store.upsert_areas(&tree()).await.unwrap();
    }

    fn codes(areas: &[Area]) -> Vec<&str> {
        areas.iter().map(|a| a.code.as_str()).collect()
    }

    async fn all_areas(store: &S, query: &AreaQuery) -> Vec<Area> {
        store
            .list_areas(query, &PageRequest::first(1000))
            .await
            .unwrap()
            .items
    }

    // -------------------------------------------------------------------- areas

    pub(crate) async fn migrate_is_idempotent(store: S) {
        store.migrate().await.unwrap();
        store.migrate().await.unwrap();
        store.ping().await.unwrap();
        assert_eq!(store.area_change_counter().await.unwrap(), 0);
    }

    pub(crate) async fn make_valid_repairs_or_declines(store: S) {
        // A bow-tie: one ring crossing itself at (1, 1).
        let bowtie = wkb_polygon(&[(0.0, 0.0), (2.0, 2.0), (2.0, 0.0), (0.0, 2.0), (0.0, 0.0)]);
        match store.backend() {
            Backend::Sqlite => assert_eq!(store.make_valid(&[bowtie]).await.unwrap(), None),
            Backend::Postgres => {
                let fixed = store
                    .make_valid(&[bowtie.clone(), bowtie])
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(fixed.len(), 2);
                // A MultiPolygon (type 6) of the two triangles.
                assert_eq!(fixed[0][0], 1, "little endian");
                assert_eq!(u32::from_le_bytes(fixed[0][1..5].try_into().unwrap()), 6);
                assert_eq!(u32::from_le_bytes(fixed[0][5..9].try_into().unwrap()), 2);
                assert!(store.make_valid(&[]).await.unwrap().unwrap().is_empty());
            }
        }
    }

    pub(crate) async fn areas_round_trip_with_lineage(store: S) {
        assert_eq!(store.upsert_areas(&tree()).await.unwrap(), 1);
        for r in tree() {
            let got = store.get_area(&r.area.code).await.unwrap();
            let mut want = r.area.clone();
            if r.geometry_wkb.is_some() {
                assert!(got.bbox.is_some(), "bbox filled from the geometry");
                want.bbox = got.bbox;
            }
            assert_eq!(got, want);
        }
        let g1 = store.get_area(&code(G1)).await.unwrap();
        assert_eq!(g1.bbox, Some(bbox(125.30, 43.80, 125.31, 43.81)));
        assert_eq!(g1.community.as_deref(), Some("南湖社区"));

        // In one round trip, ordered by code, unknown codes left out.
        let some = store
            .get_areas(&[code(G1), code("nowhere"), code(SUB1), code(G1)])
            .await
            .unwrap();
        assert_eq!(codes(&some), [SUB1, G1]);
        assert!(store.get_areas(&[]).await.unwrap().is_empty());

        let chain = store.lineage(&code(U1)).await.unwrap();
        assert_eq!(codes(&chain), [U1, B1, G1, LN1, ST1, SUB1]);
        assert_eq!(chain[2], g1);
        assert_eq!(codes(&store.lineage(&code(SUB2)).await.unwrap()), [SUB2]);

        let missing = code("nowhere");
        assert_err!(
            store.get_area(&missing).await,
            StoreError::NotFound { entity: "area", .. }
        );
        assert_err!(
            store.get_area_record(&missing).await,
            StoreError::NotFound { .. }
        );
        assert_err!(store.lineage(&missing).await, StoreError::NotFound { .. });
    }

    pub(crate) async fn area_geometry_round_trips(store: S) {
        seed_tree(&store).await;
        // Canonical little-endian MultiPolygon: identical bytes on both backends.
        let g1 = store.get_area_record(&code(G1)).await.unwrap();
        assert_eq!(
            g1.geometry_wkb,
            Some(rect_wkb(125.30, 43.80, 125.31, 43.81))
        );
        let sub = store.get_area_record(&code(SUB1)).await.unwrap();
        assert_eq!(sub.geometry_wkb, None);

        // A big-endian Polygon comes back as a MultiPolygon with the same points and a
        // bbox computed from it; an explicit bbox is kept as given.
        let poly = rect_polygon_wkb_be(125.5, 43.5, 125.75, 43.625);
        let given = bbox(125.0, 43.0, 126.0, 44.0);
        store
            .upsert_areas(&[
                record(
                    area("g-poly", AreaLevel::Grid, Some(LN1)),
                    Some(poly.clone()),
                ),
                record(
                    Area {
                        bbox: Some(given),
                        ..area("g-boxed", AreaLevel::Grid, Some(LN1))
                    },
                    Some(rect_wkb(125.5, 43.5, 125.75, 43.625)),
                ),
            ])
            .await
            .unwrap();
        let got = store.get_area_record(&code("g-poly")).await.unwrap();
        let (kind, points) = decode_wkb(got.geometry_wkb.as_deref().unwrap());
        assert_eq!(kind, 6, "stored as a MultiPolygon");
        assert_eq!(points, decode_wkb(&poly).1);
        assert_eq!(got.area.bbox, Some(bbox(125.5, 43.5, 125.75, 43.625)));
        let boxed = store.get_area(&code("g-boxed")).await.unwrap();
        assert_eq!(boxed.bbox, Some(given));
    }

    pub(crate) async fn invalid_geometry_writes_nothing(store: S) {
        seed_tree(&store).await;
        let counter = store.area_change_counter().await.unwrap();
        let mut truncated = rect_wkb(0.0, 0.0, 1.0, 1.0);
        truncated.pop();
        let mut point = vec![1u8];
        point.extend_from_slice(&1u32.to_le_bytes());
        point.extend_from_slice(&1f64.to_le_bytes());
        point.extend_from_slice(&1f64.to_le_bytes());
        for bad in [truncated, point, vec![], b"not wkb at all".to_vec()] {
            let err = store
                .upsert_areas(&[
                    record(area("g-ok", AreaLevel::Grid, Some(LN1)), None),
                    record(area("g-bad", AreaLevel::Grid, Some(LN1)), Some(bad)),
                ])
                .await
                .unwrap_err();
            assert_eq!(invalid_field(&err), "geometry_wkb");
        }
        assert_err!(
            store.get_area(&code("g-ok")).await,
            StoreError::NotFound { .. }
        );
        assert_eq!(store.area_change_counter().await.unwrap(), counter);
    }

    pub(crate) async fn areas_list_by_parent_level_and_bbox(store: S) {
        seed_tree(&store).await;
        let by_parent = AreaQuery {
            parent_code: Some(code(LN1)),
            ..Default::default()
        };
        assert_eq!(codes(&all_areas(&store, &by_parent).await), [G1, G2]);
        let grids = AreaQuery {
            level: Some(AreaLevel::Grid),
            ..Default::default()
        };
        assert_eq!(codes(&all_areas(&store, &grids).await), [G1, G2, G3]);
        let subs = AreaQuery {
            level: Some(AreaLevel::Subdistrict),
            ..Default::default()
        };
        assert_eq!(codes(&all_areas(&store, &subs).await), [SUB1, SUB2]);
        let both = AreaQuery {
            parent_code: Some(code(LN2)),
            level: Some(AreaLevel::Grid),
            ..Default::default()
        };
        assert_eq!(codes(&all_areas(&store, &both).await), [G3]);
        let none = AreaQuery {
            parent_code: Some(code(U1)),
            ..Default::default()
        };
        assert!(all_areas(&store, &none).await.is_empty());

        let in_box = |b| AreaQuery {
            bbox: Some(b),
            ..Default::default()
        };
        // Inside G1 only.
        let q = in_box(bbox(125.301, 43.801, 125.302, 43.802));
        assert_eq!(codes(&all_areas(&store, &q).await), [G1]);
        // The shared edge of G1 and G2 touches both (bounds are inclusive).
        let q = in_box(bbox(125.31, 43.805, 125.31, 43.805));
        assert_eq!(codes(&all_areas(&store, &q).await), [G1, G2]);
        // Covering everything: areas without a bbox are not in any box.
        let q = in_box(bbox(120.0, 40.0, 130.0, 50.0));
        assert_eq!(codes(&all_areas(&store, &q).await), [G1, G2, G3]);
        let q = AreaQuery {
            level: Some(AreaLevel::Grid),
            ..in_box(bbox(125.35, 43.85, 125.45, 43.95))
        };
        assert_eq!(codes(&all_areas(&store, &q).await), [G3]);
        assert!(
            all_areas(&store, &in_box(bbox(0.0, 0.0, 1.0, 1.0)))
                .await
                .is_empty()
        );

        let err = store
            .list_areas(
                &in_box(bbox(126.0, 43.0, 125.0, 44.0)),
                &PageRequest::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(invalid_field(&err), "bbox");
    }

    pub(crate) async fn areas_page_to_the_end(store: S) {
        seed_tree(&store).await;
        let extra: Vec<_> = (0..25)
            .map(|i| {
                record(
                    area(&format!("220102001-gp{i:02}"), AreaLevel::Grid, Some(LN1)),
                    None,
                )
            })
            .collect();
        store.upsert_areas(&extra).await.unwrap();
        let query = AreaQuery {
            level: Some(AreaLevel::Grid),
            ..Default::default()
        };
        let mut seen = Vec::new();
        let mut page = PageRequest::first(7);
        let mut pages = 0;
        loop {
            let got = store.list_areas(&query, &page).await.unwrap();
            pages += 1;
            assert!(got.items.len() <= 7);
            seen.extend(got.items.into_iter().map(|a| a.code.as_str().to_owned()));
            match got.next_token {
                Some(t) => page.token = Some(t),
                None => break,
            }
        }
        assert_eq!(seen.len(), 28);
        assert_eq!(pages, 4, "28 grids in pages of 7: no empty page at the end");
        let unique: BTreeSet<_> = seen.iter().cloned().collect();
        assert_eq!(unique.len(), seen.len(), "no duplicates");
        assert_eq!(
            seen,
            unique.into_iter().collect::<Vec<_>>(),
            "ordered by code"
        );

        // Size 0 is the default page size (50): everything, no token.
        let all = store
            .list_areas(&query, &PageRequest::default())
            .await
            .unwrap();
        assert_eq!(all.items.len(), 28);
        assert_eq!(all.next_token, None);
    }

    pub(crate) async fn bad_page_tokens_are_invalid(store: S) {
        seed_tree(&store).await;
        store.upsert_category(&category("0101")).await.unwrap();
        store.upsert_category(&category("0102")).await.unwrap();
        let cat_token = store
            .list_categories(&PageRequest::first(1))
            .await
            .unwrap()
            .next_token
            .expect("a second page");
        let area_token = store
            .list_areas(&AreaQuery::default(), &PageRequest::first(1))
            .await
            .unwrap()
            .next_token
            .expect("a second page");
        let bad = |t: &str| PageRequest {
            size: 10,
            token: Some(t.to_owned()),
        };
        for token in ["garbage!", "e30", "bm90IGpzb24", cat_token.as_str()] {
            let err = store
                .list_areas(&AreaQuery::default(), &bad(token))
                .await
                .unwrap_err();
            assert_eq!(invalid_field(&err), "page_token", "{token}");
        }
        let err = store.list_categories(&bad(&area_token)).await.unwrap_err();
        assert_eq!(invalid_field(&err), "page_token");
        let err = store
            .list_tickets(&TicketQuery::default(), &bad(&area_token))
            .await
            .unwrap_err();
        assert_eq!(invalid_field(&err), "page_token");
    }

    pub(crate) async fn missing_parent_writes_nothing(store: S) {
        let err = store
            .upsert_areas(&[
                record(area(SUB1, AreaLevel::Subdistrict, None), None),
                record(area(G1, AreaLevel::Grid, Some("lane-nowhere")), None),
            ])
            .await
            .unwrap_err();
        assert_eq!(invalid_field(&err), "parent_code");
        assert_err!(
            store.get_area(&code(SUB1)).await,
            StoreError::NotFound { .. }
        );
        assert_eq!(store.area_change_counter().await.unwrap(), 0);

        // A parent of the wrong level, stored or in the batch, is refused as well.
        seed_tree(&store).await;
        let err = store
            .upsert_areas(&[record(area("g-x", AreaLevel::Grid, Some(ST1)), None)])
            .await
            .unwrap_err();
        assert_eq!(invalid_field(&err), "parent_code");
        let err = store
            .upsert_areas(&[
                record(area("s-x", AreaLevel::Street, Some(SUB1)), None),
                record(area("g-y", AreaLevel::Grid, Some("s-x")), None),
            ])
            .await
            .unwrap_err();
        assert_eq!(invalid_field(&err), "parent_code");
        assert_err!(
            store.get_area(&code("s-x")).await,
            StoreError::NotFound { .. }
        );
        // A non-root level without a parent, and a duplicate code.
        let err = store
            .upsert_areas(&[record(area("g-z", AreaLevel::Grid, None), None)])
            .await
            .unwrap_err();
        assert_eq!(invalid_field(&err), "parent_code");
        let err = store
            .upsert_areas(&[
                record(area("d-1", AreaLevel::District, None), None),
                record(area("d-1", AreaLevel::District, None), None),
            ])
            .await
            .unwrap_err();
        assert_eq!(invalid_field(&err), "code");
        assert_eq!(store.area_change_counter().await.unwrap(), 1);
    }

    pub(crate) async fn parents_may_come_later_in_the_batch(store: S) {
        let mut reversed = tree();
        reversed.reverse();
        store.upsert_areas(&reversed).await.unwrap();
        assert_eq!(codes(&store.lineage(&code(U1)).await.unwrap()).len(), 6);
        // A later batch may hang areas under stored parents.
        store
            .upsert_areas(&[
                record(area("220102001-u2", AreaLevel::Unit, Some(B1)), None),
                record(area("220102001-b2", AreaLevel::Building, Some(G2)), None),
                record(
                    area("220102001-u3", AreaLevel::Unit, Some("220102001-b2")),
                    None,
                ),
            ])
            .await
            .unwrap();
        let chain = store.lineage(&code("220102001-u3")).await.unwrap();
        assert_eq!(
            codes(&chain),
            ["220102001-u3", "220102001-b2", G2, LN1, ST1, SUB1]
        );
    }

    pub(crate) async fn area_change_counter_increases(store: S) {
        assert_eq!(store.area_change_counter().await.unwrap(), 0);
        assert_eq!(store.upsert_areas(&tree()).await.unwrap(), 1);
        let renamed = record(
            Area {
                name: "新名字".into(),
                ..area(SUB1, AreaLevel::Subdistrict, None)
            },
            None,
        );
        assert_eq!(store.upsert_areas(&[renamed]).await.unwrap(), 2);
        assert_eq!(store.area_change_counter().await.unwrap(), 2);
        assert_eq!(store.get_area(&code(SUB1)).await.unwrap().name, "新名字");
        // Replacing drops the old geometry and bbox too.
        store
            .upsert_areas(&[record(area(G2, AreaLevel::Grid, Some(LN1)), None)])
            .await
            .unwrap();
        let g2 = store.get_area_record(&code(G2)).await.unwrap();
        assert_eq!((g2.area.bbox, g2.geometry_wkb), (None, None));
        assert_eq!(store.area_change_counter().await.unwrap(), 3);
    }

    pub(crate) async fn load_area_records_by_level(store: S) {
        seed_tree(&store).await;
        let grids = store.load_area_records(&[AreaLevel::Grid]).await.unwrap();
        assert_eq!(
            grids
                .iter()
                .map(|r| r.area.code.as_str())
                .collect::<Vec<_>>(),
            [G1, G2, G3]
        );
        assert!(
            grids
                .iter()
                .all(|r| r.geometry_wkb.is_some() && r.area.bbox.is_some())
        );
        assert_eq!(
            grids[2].geometry_wkb,
            Some(rect_wkb(125.40, 43.90, 125.41, 43.91))
        );
        let some = store
            .load_area_records(&[AreaLevel::Unit, AreaLevel::Subdistrict])
            .await
            .unwrap();
        assert_eq!(
            some.iter()
                .map(|r| r.area.code.as_str())
                .collect::<Vec<_>>(),
            [SUB1, U1, SUB2]
        );
        assert_eq!(
            store.load_area_records(&[]).await.unwrap().len(),
            tree().len()
        );
        assert!(
            store
                .load_area_records(&[AreaLevel::District])
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub(crate) async fn load_areas_without_geometry(store: S) {
        seed_tree(&store).await;
        let all = store.load_areas(&[]).await.unwrap();
        let records = store.load_area_records(&[]).await.unwrap();
        assert_eq!(
            all,
            records.into_iter().map(|r| r.area).collect::<Vec<_>>(),
            "the same areas, in code order"
        );
        assert_eq!(all.len(), tree().len());
        let grids = store.load_areas(&[AreaLevel::Grid]).await.unwrap();
        assert_eq!(
            grids.iter().map(|a| a.code.as_str()).collect::<Vec<_>>(),
            [G1, G2, G3]
        );
        assert!(grids.iter().all(|a| a.bbox.is_some()));
        assert!(
            store
                .load_areas(&[AreaLevel::District])
                .await
                .unwrap()
                .is_empty()
        );
    }

    // -------------------------------------------------------------------- roster

    fn person(id: &str, phone: Option<&str>) -> Person {
        Person {
            id: pid(id),
            name: format!("姓名 {id}"),
            phone: phone.map(str::to_owned),
        }
    }

    fn post(area: &str, level: ChiefLevel, holder: Option<&str>, deputy: Option<&str>) -> Post {
        Post {
            area_code: code(area),
            level,
            holder: holder.map(pid),
            deputy: deputy.map(pid),
            leave: vec![],
        }
    }

    pub(crate) async fn roster_round_trip(store: S) {
        seed_tree(&store).await;
        let persons = [person("p1", Some("13800000001")), person("p2", None)];
        let mut grid_post = post(G1, ChiefLevel::Grid, Some("p1"), Some("p2"));
        grid_post.leave = vec![LeavePeriod {
            from: T0,
            until: T0 + Duration::days(7),
        }];
        let posts = [
            grid_post.clone(),
            post(ST1, ChiefLevel::Street, Some("p2"), None),
            post(SUB1, ChiefLevel::CommandCenter, None, None),
        ];
        store.upsert_roster(&persons, &posts).await.unwrap();

        assert_eq!(store.get_person(&pid("p1")).await.unwrap(), persons[0]);
        assert_err!(
            store.get_person(&pid("p9")).await,
            StoreError::NotFound {
                entity: "person",
                ..
            }
        );
        let mut got = store
            .get_persons(&[pid("p2"), pid("p9"), pid("p1")])
            .await
            .unwrap();
        got.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(got, persons);
        assert!(store.get_persons(&[]).await.unwrap().is_empty());

        let mut got = store
            .posts_for_areas(&[code(G1), code(LN1), code(ST1)])
            .await
            .unwrap();
        got.sort_by(|a, b| a.area_code.cmp(&b.area_code));
        assert_eq!(got, [grid_post.clone(), posts[1].clone()]);
        assert_eq!(
            store.posts_of_person(&pid("p2")).await.unwrap(),
            [grid_post, posts[1].clone()]
        );
        assert!(store.posts_of_person(&pid("p9")).await.unwrap().is_empty());

        // Upserting replaces persons and posts by key; posts may name stored persons.
        let changed = person("p1", Some("13900000009"));
        let vacant = post(G1, ChiefLevel::Grid, None, Some("p1"));
        store
            .upsert_roster(
                std::slice::from_ref(&changed),
                std::slice::from_ref(&vacant),
            )
            .await
            .unwrap();
        assert_eq!(store.get_person(&pid("p1")).await.unwrap(), changed);
        assert_eq!(
            store.posts_for_areas(&[code(G1)]).await.unwrap(),
            std::slice::from_ref(&vacant)
        );
        assert_eq!(store.posts_of_person(&pid("p1")).await.unwrap(), [vacant]);
        store.upsert_roster(&[], &[]).await.unwrap();
    }

    pub(crate) async fn invalid_roster_writes_nothing(store: S) {
        seed_tree(&store).await;
        let newcomer = person("p-new", None);
        let cases = [
            (post(ST1, ChiefLevel::Grid, Some("p-new"), None), "level"),
            (post(U1, ChiefLevel::Street, None, None), "level"),
            (
                post("no-such-area", ChiefLevel::Grid, None, None),
                "area_code",
            ),
            (post(G1, ChiefLevel::Grid, Some("p-ghost"), None), "holder"),
            (
                post(G1, ChiefLevel::Grid, Some("p-new"), Some("p-ghost")),
                "deputy",
            ),
        ];
        for (bad, field) in cases {
            let good = post(G2, ChiefLevel::Grid, Some("p-new"), None);
            let err = store
                .upsert_roster(std::slice::from_ref(&newcomer), &[good, bad])
                .await
                .unwrap_err();
            assert_eq!(invalid_field(&err), field);
            assert_err!(
                store.get_person(&pid("p-new")).await,
                StoreError::NotFound { .. }
            );
            assert!(store.posts_for_areas(&[code(G2)]).await.unwrap().is_empty());
        }
        let mut on_leave = post(G1, ChiefLevel::Grid, None, None);
        on_leave.leave = vec![LeavePeriod {
            from: T0,
            until: T0,
        }];
        let err = store.upsert_roster(&[], &[on_leave]).await.unwrap_err();
        assert_eq!(invalid_field(&err), "leave");
    }

    // -------------------------------------------------------------------- categories

    pub(crate) async fn categories_round_trip(store: S) {
        let mut cats: Vec<_> = ["0103", "0101", "0201", "0102", "01"]
            .map(category)
            .to_vec();
        cats[4].parent_code = None;
        cats[2].urgent = true;
        cats[2].active = false;
        for c in &cats {
            store.upsert_category(c).await.unwrap();
        }
        cats.sort_by(|a, b| a.code.cmp(&b.code));
        for c in &cats {
            assert_eq!(&store.get_category(&c.code).await.unwrap(), c);
        }
        let mut listed = Vec::new();
        let mut page = PageRequest::first(2);
        loop {
            let got = store.list_categories(&page).await.unwrap();
            listed.extend(got.items);
            match got.next_token {
                Some(t) => page.token = Some(t),
                None => break,
            }
        }
        assert_eq!(listed, cats);
        let mut replaced = category("0101");
        replaced.name = "换了名字".into();
        replaced.accept_within = Duration::minutes(30);
        store.upsert_category(&replaced).await.unwrap();
        assert_eq!(store.get_category(&replaced.code).await.unwrap(), replaced);
        assert_err!(
            store
                .get_category(&CategoryCode::new("9999").unwrap())
                .await,
            StoreError::NotFound {
                entity: "category",
                ..
            }
        );
    }

    pub(crate) async fn reference_counters_follow_roster_and_categories(store: S) {
        seed_tree(&store).await;
        let start = store.reference_change_counters().await.unwrap();
        let here = store.reference_writes_here();
        let counters = async || store.reference_change_counters().await.unwrap();

        store
            .upsert_roster(
                &[person("p1", None)],
                &[post(G1, ChiefLevel::Grid, Some("p1"), None)],
            )
            .await
            .unwrap();
        let after_roster = counters().await;
        assert!(after_roster.roster > start.roster, "{after_roster:?}");
        assert_eq!(after_roster.categories, start.categories);
        assert_eq!(store.reference_writes_here(), here + 1);

        // Refused: nothing written, nothing bumped.
        let bad = post(G1, ChiefLevel::Street, Some("p1"), None);
        store.upsert_roster(&[], &[bad]).await.unwrap_err();
        assert_eq!(counters().await, after_roster);
        let mut c = category("0101");
        c.name = String::new();
        store.upsert_category(&c).await.unwrap_err();
        assert_eq!(counters().await, after_roster);
        assert_eq!(store.reference_writes_here(), here + 1);

        store.upsert_category(&category("0101")).await.unwrap();
        let after_category = counters().await;
        assert!(after_category.categories > after_roster.categories);
        assert_eq!(after_category.roster, after_roster.roster);
        assert_eq!(store.reference_writes_here(), here + 2);
        // Areas have their own counter.
        store.upsert_areas(&tree()).await.unwrap();
        assert_eq!(counters().await, after_category);
    }

    pub(crate) async fn invalid_categories_are_refused(store: S) {
        let mut c = category("0101");
        c.accept_within = Duration::milliseconds(1500);
        assert_eq!(
            invalid_field(&store.upsert_category(&c).await.unwrap_err()),
            "accept_within"
        );
        let mut c = category("0101");
        c.name = String::new();
        assert_eq!(
            invalid_field(&store.upsert_category(&c).await.unwrap_err()),
            "name"
        );
        assert!(
            store
                .list_categories(&PageRequest::default())
                .await
                .unwrap()
                .items
                .is_empty()
        );
    }

    // -------------------------------------------------------------------- tickets

    pub(crate) async fn create_ticket_numbers_events(store: S) {
        let new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
        let created = store.create_ticket(&new).await.unwrap();
        assert_eq!(created, new.ticket);
        assert_eq!(store.get_ticket(&new.ticket.id).await.unwrap(), new.ticket);
        let events = store.list_events(&new.ticket.id, 0, 100).await.unwrap();
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(
            events.iter().map(|e| e.event.clone()).collect::<Vec<_>>(),
            new.events
        );
        assert!(
            events
                .iter()
                .all(|e| e.ticket_id == new.ticket.id && e.subdistrict_code.as_str() == SUB1)
        );
        assert_eq!(store.list_timers(&new.ticket.id).await.unwrap(), new.timers);
        assert_err!(
            store.get_ticket(&TicketId::new(T0)).await,
            StoreError::NotFound {
                entity: "ticket",
                ..
            }
        );
    }

    pub(crate) async fn create_ticket_keeps_every_field(store: S) {
        // Every optional field set, a rating, sub-microsecond times (cut to µs), a
        // pre-WGS84 original location.
        let at = T0 + Duration::nanoseconds(789);
        let mut new = assigned(SUB1, G1, "r1", at, grid_chief(G1));
        let t = &mut new.ticket;
        t.report.original_location = GeoPoint::new(43.8061, 125.3112, Crs::Gcj02).unwrap();
        t.report.address = "人民大街 1 号".into();
        t.report.building_code = Some(code(B1));
        t.report.unit_code = Some(code(U1));
        t.report.media_urls = vec![
            "https://m.example/a.jpg".into(),
            "https://m.example/b.mp4".into(),
        ];
        t.report.contact_phone = Some("13800000000".into());
        t.report.urgent = true;
        for c in [Command::Accept, Command::Resolve] {
            let e = t.apply(c, "p-grid", "", at + Duration::minutes(5)).unwrap();
            new.events.push(e.event);
        }
        let rating = Rating::new(2, true, "还是脏".into()).unwrap();
        let e = t
            .apply(Command::Rate(rating), "r1", "", at + Duration::minutes(9))
            .unwrap();
        new.events.push(e.event);
        t.accept_due_at = None;
        new.timers.clear();
        let created = store.create_ticket(&new).await.unwrap();
        let mut want = new.ticket.clone();
        want.created_at = truncate_to_micros(want.created_at);
        want.updated_at = truncate_to_micros(want.updated_at);
        want.resolve_due_at = want.resolve_due_at.map(truncate_to_micros);
        assert_eq!(created, want);
        assert_eq!(store.get_ticket(&want.id).await.unwrap(), want);
        let events = store.list_events(&want.id, 0, 100).await.unwrap();
        assert_eq!(events.len(), 5);
        assert_eq!(events[0].event.at, truncate_to_micros(at));
        assert_eq!(events[4].event.kind, EventKind::Rated);
        assert_eq!(events[4].event.from_state, Some(TicketState::Resolved));

        // A merged duplicate keeps its link.
        let mut dup = submitted(SUB1, G1, "r2", T0);
        let e = dup
            .ticket
            .apply(Command::Merge { into: want.id }, "system", "", T0)
            .unwrap();
        dup.events.push(e.event);
        store.create_ticket(&dup).await.unwrap();
        assert_eq!(
            store.get_ticket(&dup.ticket.id).await.unwrap().duplicate_of,
            Some(want.id)
        );
    }

    pub(crate) async fn duplicate_idempotency_key_writes_nothing(store: S) {
        let mut first = submitted(SUB1, G1, "r1", T0);
        first.idempotency = Some(idempotency("resident-r1/SubmitIncident", "req-1", T0));
        store.create_ticket(&first).await.unwrap();
        let mut second = assigned(SUB1, G1, "r1", T0 + Duration::SECOND, grid_chief(G1));
        second.idempotency = Some(idempotency("resident-r1/SubmitIncident", "req-1", T0));
        assert_err!(
            store.create_ticket(&second).await,
            StoreError::AlreadyExists {
                entity: "idempotency",
                ..
            }
        );
        assert_err!(
            store.get_ticket(&second.ticket.id).await,
            StoreError::NotFound { .. }
        );
        assert!(
            store
                .list_events(&second.ticket.id, 0, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .list_timers(&second.ticket.id)
                .await
                .unwrap()
                .is_empty()
        );
        let mine = TicketQuery {
            reporter_id: Some("r1".into()),
            ..Default::default()
        };
        let listed = store
            .list_tickets(&mine, &PageRequest::default())
            .await
            .unwrap()
            .items;
        assert_eq!(listed, [first.ticket.clone()]);
        let record = store
            .get_idempotency("resident-r1/SubmitIncident", "req-1")
            .await
            .unwrap()
            .expect("the first request's record");
        assert_eq!(record, first.idempotency.clone().unwrap());
        // The same request id from another caller is another request.
        second.idempotency = Some(idempotency("resident-r2/SubmitIncident", "req-1", T0));
        store.create_ticket(&second).await.unwrap();
    }

    pub(crate) async fn duplicate_ticket_id_is_refused(store: S) {
        let new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
        store.create_ticket(&new).await.unwrap();
        let mut again = new.clone();
        again.idempotency = Some(idempotency("s", "r", T0));
        assert_err!(
            store.create_ticket(&again).await,
            StoreError::AlreadyExists {
                entity: "ticket",
                ..
            }
        );
        assert_eq!(store.get_idempotency("s", "r").await.unwrap(), None);
        // The id is unique across subdistricts too.
        let mut elsewhere = new.clone();
        elsewhere.ticket.subdistrict_code = code(SUB2);
        elsewhere.timers.clear();
        assert_err!(
            store.create_ticket(&elsewhere).await,
            StoreError::AlreadyExists {
                entity: "ticket",
                ..
            }
        );
        assert_eq!(
            store
                .list_events(&new.ticket.id, 0, 100)
                .await
                .unwrap()
                .len(),
            2
        );
    }

    pub(crate) async fn invalid_tickets_are_refused(store: S) {
        let mut broken = submitted(SUB1, G1, "r1", T0);
        broken.ticket.state = TicketState::Assigned; // with no owner
        assert_eq!(
            invalid_field(&store.create_ticket(&broken).await.unwrap_err()),
            "ticket"
        );

        let other = submitted(SUB1, G1, "r2", T0);
        let mut foreign = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
        foreign.timers.push(timer(
            &other.ticket,
            TimerKind::Warning,
            T0,
            ChiefLevel::Grid,
        ));
        assert_eq!(
            invalid_field(&store.create_ticket(&foreign).await.unwrap_err()),
            "timers"
        );
        let mut twice = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
        twice.timers.push(twice.timers[0].clone());
        assert_eq!(
            invalid_field(&store.create_ticket(&twice).await.unwrap_err()),
            "timers"
        );

        let listed = store
            .list_tickets(&TicketQuery::default(), &PageRequest::default())
            .await;
        assert!(listed.unwrap().items.is_empty());
    }

    /// Four tickets to filter: (A) SUB1/G1 by r1 at the grid chief, (B) SUB1/G2 by r2
    /// just submitted in another category under a supervision order, (C) SUB2/G3 by r1 at the lane chief, urgent,
    /// (D) SUB1/G1 by r1 assigned then cancelled. A's chief has asked for a pause.
    async fn four_tickets(store: &S) -> [Ticket; 4] {
        let mut a = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
        a.ticket.pause = Pause::Requested;
        let mut b = submitted_in(SUB1, G2, "r2", "0102", T0 + Duration::minutes(1));
        b.ticket.supervision = Some(SupervisionOrder {
            severity: Severity::Critical,
            deadline: T0 + Duration::days(1),
            note: "限期办结".into(),
            issued_by: "cc-1".into(),
            issued_at: T0 + Duration::minutes(1),
        });
        b.ticket.supervision_count = 1;
        let mut c = assigned(
            SUB2,
            G3,
            "r1",
            T0 + Duration::minutes(2),
            assignment(ChiefLevel::Lane, LN2, Some("p-lane")),
        );
        c.ticket.report.urgent = true;
        let mut d = assigned(SUB1, G1, "r1", T0 + Duration::minutes(3), grid_chief(G1));
        let e = d
            .ticket
            .apply(Command::Cancel, "r1", "", T0 + Duration::minutes(3))
            .unwrap();
        d.events.push(e.event);
        d.timers.clear();
        for t in [&a, &b, &c, &d] {
            store.create_ticket(t).await.unwrap();
        }
        [a.ticket, b.ticket, c.ticket, d.ticket]
    }

    async fn ids(store: &S, query: TicketQuery) -> Vec<TicketId> {
        let page = store
            .list_tickets(&query, &PageRequest::first(100))
            .await
            .unwrap();
        assert_eq!(page.next_token, None);
        page.items.into_iter().map(|t| t.id).collect()
    }

    /// Counts per state and per grid in one query each, and events by kind and time: what
    /// a command center's overview is made of.
    pub(crate) async fn tickets_and_events_are_counted(store: S) {
        let tickets = four_tickets(&store).await;
        let by = |q: TicketQuery, g| {
            let store = &store;
            async move { store.count_tickets_by(&q, g).await.unwrap() }
        };
        let owned = |pairs: &[(&str, u64)]| -> Vec<(String, u64)> {
            pairs.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
        };
        assert_eq!(
            by(TicketQuery::default(), TicketGrouping::State).await,
            owned(&[("assigned", 2), ("cancelled", 1), ("submitted", 1)])
        );
        let sub2 = TicketQuery {
            subdistrict_codes: vec![code(SUB2)],
            ..TicketQuery::default()
        };
        assert_eq!(
            by(sub2.clone(), TicketGrouping::State).await,
            owned(&[("assigned", 1)])
        );
        let mut grids = owned(&[(G1, 2), (G2, 1), (G3, 1)]);
        grids.sort();
        assert_eq!(
            by(TicketQuery::default(), TicketGrouping::Grid).await,
            grids
        );
        // Filters apply as in a listing: open tickets of SUB1 per grid.
        let open_sub1 = TicketQuery {
            subdistrict_codes: vec![code(SUB1)],
            states: vec![TicketState::Submitted, TicketState::Assigned],
            ..TicketQuery::default()
        };
        assert_eq!(
            by(open_sub1, TicketGrouping::Grid).await,
            owned(&[(G1, 1), (G2, 1)])
        );

        // Events, against what the log holds.
        let mut all = Vec::new();
        for t in &tickets {
            all.extend(store.list_events(&t.id, 0, 100).await.unwrap());
        }
        let early = T0 - Duration::hours(1);
        assert_eq!(
            store.count_events(&[], &[], early).await.unwrap(),
            all.len() as u64
        );
        let in_sub2 = all.iter().filter(|e| e.subdistrict_code.as_str() == SUB2);
        assert_eq!(
            store.count_events(&[code(SUB2)], &[], early).await.unwrap(),
            in_sub2.count() as u64
        );
        assert_eq!(
            store
                .count_events(&[], &[EventKind::Cancelled], early)
                .await
                .unwrap(),
            1
        );
        let late = T0 + Duration::minutes(3);
        let since_late = all.iter().filter(|e| e.event.at >= late).count();
        assert!(since_late > 0 && since_late < all.len());
        assert_eq!(
            store.count_events(&[], &[], late).await.unwrap(),
            since_late as u64
        );
        assert_eq!(
            store
                .count_events(&[code(SUB2)], &[EventKind::Cancelled], early)
                .await
                .unwrap(),
            0
        );
    }

    pub(crate) async fn list_tickets_by_each_filter(store: S) {
        let [a, b, c, d] = four_tickets(&store).await;
        let (a, b, c, d) = (a.id, b.id, c.id, d.id);
        let q = TicketQuery::default;
        assert_eq!(ids(&store, q()).await, [d, c, b, a], "newest first");
        let subs = |s: &[&str]| TicketQuery {
            subdistrict_codes: s.iter().map(|c| code(c)).collect(),
            ..q()
        };
        assert_eq!(ids(&store, subs(&[SUB1])).await, [d, b, a]);
        assert_eq!(ids(&store, subs(&[SUB2, SUB1])).await, [d, c, b, a]);
        assert_eq!(ids(&store, subs(&["220102999"])).await, []);
        assert_eq!(
            ids(
                &store,
                TicketQuery {
                    reporter_id: Some("r1".into()),
                    ..q()
                }
            )
            .await,
            [d, c, a]
        );
        assert_eq!(
            ids(
                &store,
                TicketQuery {
                    assignee_person_id: Some(pid("p-grid")),
                    ..q()
                }
            )
            .await,
            [d, a]
        );
        assert_eq!(
            ids(
                &store,
                TicketQuery {
                    assignee_area_codes: vec![code(LN2), code(G2)],
                    ..q()
                }
            )
            .await,
            [c]
        );
        assert_eq!(
            ids(
                &store,
                TicketQuery {
                    states: vec![TicketState::Submitted],
                    ..q()
                }
            )
            .await,
            [b]
        );
        assert_eq!(
            ids(
                &store,
                TicketQuery {
                    states: vec![TicketState::Assigned, TicketState::Cancelled],
                    ..q()
                }
            )
            .await,
            [d, c, a]
        );
        assert_eq!(
            ids(
                &store,
                TicketQuery {
                    level: Some(ChiefLevel::Grid),
                    ..q()
                }
            )
            .await,
            [d, a]
        );
        assert_eq!(
            ids(
                &store,
                TicketQuery {
                    grid_code: Some(code(G2)),
                    ..q()
                }
            )
            .await,
            [b]
        );
        let cat = Some(CategoryCode::new("0102").unwrap());
        assert_eq!(
            ids(
                &store,
                TicketQuery {
                    category_code: cat,
                    ..q()
                }
            )
            .await,
            [b]
        );
        // Overdue: open, with a deadline before the instant (accept deadlines at +2 h).
        let overdue = |at| TicketQuery {
            overdue_at: Some(at),
            ..q()
        };
        assert_eq!(ids(&store, overdue(T0 + Duration::hours(1))).await, []);
        assert_eq!(ids(&store, overdue(T0 + Duration::minutes(121))).await, [a]);
        assert_eq!(ids(&store, overdue(T0 + Duration::hours(3))).await, [c, a]);
        let window = TicketQuery {
            created_from: Some(T0 + Duration::minutes(1)),
            created_before: Some(T0 + Duration::minutes(3)),
            ..q()
        };
        assert_eq!(ids(&store, window).await, [c, b]);
        let paused = |p| TicketQuery {
            pause: Some(p),
            ..q()
        };
        assert_eq!(ids(&store, paused(Pause::Requested)).await, [a]);
        assert_eq!(ids(&store, paused(Pause::None)).await, [d, c, b]);
        assert_eq!(ids(&store, paused(Pause::Paused)).await, []);
        let urgent = TicketQuery {
            urgent_only: true,
            ..q()
        };
        assert_eq!(ids(&store, urgent).await, [c]);
        let supervised = TicketQuery {
            supervised_only: true,
            ..q()
        };
        assert_eq!(ids(&store, supervised).await, [b]);
        let combined = TicketQuery {
            reporter_id: Some("r1".into()),
            subdistrict_codes: vec![code(SUB1)],
            states: vec![TicketState::Assigned],
            ..q()
        };
        assert_eq!(ids(&store, combined).await, [a]);
        let due = TicketQuery {
            order: TicketOrder::DueSoonest,
            ..q()
        };
        // a: +2 h, c: +2 h 2 min; b and d have no deadline: oldest first.
        assert_eq!(ids(&store, due).await, [a, c, b, d]);
    }

    /// The inbox filters (assignee person, assignee area) find a ticket under whoever holds
    /// it now, whichever write moved it: the timer worker's batch, a single update, a
    /// vacant post; and a write that keeps the assignment keeps it findable.
    pub(crate) async fn assignee_filters_follow_each_reassignment(store: S) {
        let a = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
        let other = assigned(SUB1, G1, "r2", T0 + Duration::seconds(1), grid_chief(G1));
        store.create_ticket(&a).await.unwrap();
        store.create_ticket(&other).await.unwrap();
        let by_person = |p: &str| TicketQuery {
            assignee_person_id: Some(pid(p)),
            ..TicketQuery::default()
        };
        let by_area = |c: &str| TicketQuery {
            assignee_area_codes: vec![code(c)],
            ..TicketQuery::default()
        };
        let (a_id, other_id) = (a.ticket.id, other.ticket.id);
        assert_eq!(ids(&store, by_person("p-grid")).await, [other_id, a_id]);

        // The timer worker moves `a` to the lane chief.
        let now = T0 + Duration::hours(3);
        let only_a = a_id;
        let h = handler(move |_, mut ticket| {
            Ok(if ticket.id == only_a {
                TimerOutcome::Fire(escalate(&mut ticket, now))
            } else {
                TimerOutcome::Drop
            })
        });
        store
            .fire_due_timers(&code(SUB1), now, 10, Duration::minutes(1), &*h)
            .await
            .unwrap();
        assert_eq!(ids(&store, by_person("p-grid")).await, [other_id]);
        assert_eq!(ids(&store, by_person("p-lane")).await, [a_id]);
        assert_eq!(ids(&store, by_area(LN1)).await, [a_id]);
        assert_eq!(ids(&store, by_area(G1)).await, [other_id]);

        // A note keeps the assignment; a single update moves it on to a vacant post.
        let lane = store.get_ticket(&a_id).await.unwrap();
        let note = change(&lane, Command::Note, now + Duration::minutes(1));
        store.update_ticket(&note).await.unwrap();
        assert_eq!(ids(&store, by_person("p-lane")).await, [a_id]);
        let to = assignment(ChiefLevel::Street, ST1, None);
        let up = change(
            &note.ticket,
            Command::Escalate { to, auto: false },
            now + Duration::minutes(2),
        );
        store.update_ticket(&up).await.unwrap();
        assert_eq!(ids(&store, by_person("p-lane")).await, []);
        assert_eq!(ids(&store, by_area(LN1)).await, []);
        assert_eq!(ids(&store, by_area(ST1)).await, [a_id]);
        assert_eq!(
            store.count_tickets(&by_area(ST1)).await.unwrap(),
            1,
            "counts filter the same way"
        );
    }

    pub(crate) async fn list_tickets_orders_and_pages(store: S) {
        let mut made = Vec::new();
        for i in 0..13i64 {
            // Pairs share a creation time, so ties fall to the id.
            let at = T0 + Duration::minutes(i / 2);
            let mut new = assigned(SUB1, G1, &format!("r{i}"), at, grid_chief(G1));
            match i % 3 {
                0 => {
                    new.ticket.accept_due_at = None;
                    new.ticket.resolve_due_at = None;
                }
                // Several share one deadline.
                1 => new.ticket.accept_due_at = Some(T0 + Duration::hours(3)),
                _ => {
                    new.ticket.accept_due_at = None;
                    new.ticket.resolve_due_at = Some(T0 + Duration::minutes(100 - 7 * i));
                }
            }
            new.timers.clear();
            store.create_ticket(&new).await.unwrap();
            made.push(new.ticket);
        }
        // Another subdistrict's ticket stays out of the filtered walk.
        store
            .create_ticket(&submitted(SUB2, G3, "rx", T0))
            .await
            .unwrap();

        let walk = |order: TicketOrder, size: u32| {
            let store = Arc::clone(&store);
            async move {
                let query = TicketQuery {
                    subdistrict_codes: vec![code(SUB1)],
                    order,
                    ..Default::default()
                };
                let mut page = PageRequest::first(size);
                let mut out = Vec::new();
                loop {
                    let got = store.list_tickets(&query, &page).await.unwrap();
                    assert!(got.items.len() <= size as usize);
                    out.extend(got.items);
                    match got.next_token {
                        Some(t) => page.token = Some(t),
                        None => return out,
                    }
                }
            }
        };

        let mut newest = made.clone();
        newest.sort_by_key(|t| std::cmp::Reverse((t.created_at, t.id)));
        assert_eq!(walk(TicketOrder::NewestFirst, 5).await, newest);
        assert_eq!(walk(TicketOrder::NewestFirst, 13).await, newest);

        let due_key = |t: &Ticket| {
            (
                t.accept_due_at.or(t.resolve_due_at).is_none(),
                t.accept_due_at.or(t.resolve_due_at),
                t.created_at,
                t.id,
            )
        };
        let mut soonest = made.clone();
        soonest.sort_by_key(due_key);
        assert_eq!(walk(TicketOrder::DueSoonest, 4).await, soonest);
        assert_eq!(walk(TicketOrder::DueSoonest, 1).await, soonest);

        // A token is for the order that made it.
        let query = TicketQuery::default();
        let token = store
            .list_tickets(&query, &PageRequest::first(2))
            .await
            .unwrap()
            .next_token;
        let other = TicketQuery {
            order: TicketOrder::DueSoonest,
            ..Default::default()
        };
        let err = store
            .list_tickets(&other, &PageRequest { size: 2, token })
            .await
            .unwrap_err();
        assert_eq!(invalid_field(&err), "page_token");
    }

    pub(crate) async fn update_ticket_writes_change_events_timers(store: S) {
        let new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
        store.create_ticket(&new).await.unwrap();
        let at = T0 + Duration::minutes(10);
        let mut accept = change(&new.ticket, Command::Accept, at);
        accept.ticket.accept_due_at = None;
        let resolve_timer = timer(
            &accept.ticket,
            TimerKind::Resolve,
            T0 + Duration::hours(24),
            ChiefLevel::Grid,
        );
        accept.timers = Some(vec![resolve_timer.clone()]);
        accept.idempotency = Some(idempotency("chief-p-grid/AcceptTicket", "req-9", at));
        let written = store.update_ticket(&accept).await.unwrap();
        assert_eq!(written, accept.ticket);
        assert_eq!(written.version, 3);
        assert_eq!(
            store.get_ticket(&new.ticket.id).await.unwrap(),
            accept.ticket
        );
        let events = store.list_events(&new.ticket.id, 0, 100).await.unwrap();
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(events[2].event, accept.events[0]);
        assert_eq!(
            store.list_timers(&new.ticket.id).await.unwrap(),
            std::slice::from_ref(&resolve_timer)
        );
        assert_eq!(
            store
                .get_idempotency("chief-p-grid/AcceptTicket", "req-9")
                .await
                .unwrap(),
            accept.idempotency.clone()
        );

        // `timers: None` keeps them; `Some(vec![])` clears them.
        let note = change(&accept.ticket, Command::Note, at + Duration::minutes(1));
        store.update_ticket(&note).await.unwrap();
        assert_eq!(
            store.list_timers(&new.ticket.id).await.unwrap(),
            [resolve_timer]
        );
        let mut resolve = change(&note.ticket, Command::Resolve, at + Duration::minutes(2));
        resolve.timers = Some(vec![]);
        store.update_ticket(&resolve).await.unwrap();
        assert!(store.list_timers(&new.ticket.id).await.unwrap().is_empty());
        assert_eq!(
            store.get_ticket(&new.ticket.id).await.unwrap(),
            resolve.ticket
        );
        assert_eq!(
            store
                .list_events(&new.ticket.id, 0, 100)
                .await
                .unwrap()
                .len(),
            5
        );

        // An idempotency key already used fails the whole change.
        let mut again = change(&resolve.ticket, Command::Note, at + Duration::minutes(3));
        again.idempotency = accept.idempotency.clone();
        assert_err!(
            store.update_ticket(&again).await,
            StoreError::AlreadyExists {
                entity: "idempotency",
                ..
            }
        );
        assert_eq!(store.get_ticket(&new.ticket.id).await.unwrap().version, 5);
    }

    pub(crate) async fn update_ticket_conflicts(store: S) {
        let new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
        store.create_ticket(&new).await.unwrap();
        let first = change(&new.ticket, Command::Accept, T0 + Duration::minutes(1));
        store.update_ticket(&first).await.unwrap();
        // Built from version 2 as well: stale.
        let mut stale = change(&new.ticket, Command::Note, T0 + Duration::minutes(2));
        stale.timers = Some(vec![]);
        stale.idempotency = Some(idempotency("s", "stale", T0));
        assert_err!(
            store.update_ticket(&stale).await,
            StoreError::Conflict {
                entity: "ticket",
                current_version: 3,
                ..
            }
        );
        // From the future: also a conflict.
        let mut ahead = change(&first.ticket, Command::Note, T0 + Duration::minutes(2));
        ahead.ticket.version += 2;
        assert_err!(
            store.update_ticket(&ahead).await,
            StoreError::Conflict {
                current_version: 3,
                ..
            }
        );
        // Nothing of the losers was written.
        assert_eq!(
            store.get_ticket(&new.ticket.id).await.unwrap(),
            first.ticket
        );
        assert_eq!(
            store
                .list_events(&new.ticket.id, 0, 100)
                .await
                .unwrap()
                .len(),
            3
        );
        assert_eq!(store.list_timers(&new.ticket.id).await.unwrap().len(), 2);
        assert_eq!(store.get_idempotency("s", "stale").await.unwrap(), None);
    }

    /// Two tickets changed in one transaction: a conflict on the second leaves the first
    /// as it was; both valid, both are written.
    pub(crate) async fn update_tickets_writes_all_or_nothing(store: S) {
        let a = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
        let b = assigned(SUB1, G2, "r2", T0, grid_chief(G2));
        store.create_ticket(&a).await.unwrap();
        store.create_ticket(&b).await.unwrap();
        let noted_a = change(&a.ticket, Command::Note, T0 + Duration::minutes(1));
        let mut stale_b = change(&b.ticket, Command::Note, T0 + Duration::minutes(1));
        stale_b.ticket.version += 1;
        assert_err!(
            store.update_tickets(&[noted_a.clone(), stale_b]).await,
            StoreError::Conflict { .. }
        );
        assert_eq!(store.get_ticket(&a.ticket.id).await.unwrap(), a.ticket);
        assert_eq!(
            store.list_events(&a.ticket.id, 0, 100).await.unwrap().len(),
            a.events.len()
        );
        let noted_b = change(&b.ticket, Command::Note, T0 + Duration::minutes(1));
        let stored = store
            .update_tickets(&[noted_a.clone(), noted_b.clone()])
            .await
            .unwrap();
        assert_eq!(stored, [noted_a.ticket.clone(), noted_b.ticket.clone()]);
        for t in [&noted_a.ticket, &noted_b.ticket] {
            assert_eq!(&store.get_ticket(&t.id).await.unwrap(), t);
        }
    }

    pub(crate) async fn update_ticket_not_found(store: S) {
        let never = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
        let accept = change(&never.ticket, Command::Accept, T0);
        assert_err!(
            store.update_ticket(&accept).await,
            StoreError::NotFound {
                entity: "ticket",
                ..
            }
        );
        store.create_ticket(&never).await.unwrap();
        let mut moved = change(&never.ticket, Command::Accept, T0);
        moved.ticket.subdistrict_code = code(SUB2);
        assert_eq!(
            invalid_field(&store.update_ticket(&moved).await.unwrap_err()),
            "subdistrict_code"
        );
        let mut broken = change(&never.ticket, Command::Accept, T0);
        broken.ticket.assignment = None;
        assert_eq!(
            invalid_field(&store.update_ticket(&broken).await.unwrap_err()),
            "ticket"
        );
        assert_eq!(
            store.get_ticket(&never.ticket.id).await.unwrap(),
            never.ticket
        );
    }

    pub(crate) async fn concurrent_updates_one_wins(store: S) {
        for i in 0..5 {
            let new = assigned(SUB1, G1, "r1", T0 + Duration::minutes(i), grid_chief(G1));
            store.create_ticket(&new).await.unwrap();
            let accept = change(&new.ticket, Command::Accept, T0 + Duration::hours(1));
            let note = change(&new.ticket, Command::Note, T0 + Duration::hours(1));
            let (s1, s2) = (Arc::clone(&store), Arc::clone(&store));
            let (r1, r2) = tokio::join!(
                tokio::spawn(async move { s1.update_ticket(&accept).await }),
                tokio::spawn(async move { s2.update_ticket(&note).await }),
            );
            let results = [r1.unwrap(), r2.unwrap()];
            let wins = results.iter().filter(|r| r.is_ok()).count();
            assert_eq!(wins, 1, "{results:?}");
            for r in &results {
                if let Err(e) = r {
                    assert!(
                        matches!(
                            e,
                            StoreError::Conflict {
                                current_version: 3,
                                ..
                            }
                        ),
                        "{e:?}"
                    );
                }
            }
            let events = store.list_events(&new.ticket.id, 0, 100).await.unwrap();
            assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
            assert_eq!(store.get_ticket(&new.ticket.id).await.unwrap().version, 3);
        }
    }

    pub(crate) async fn list_events_after_seq(store: S) {
        let new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
        store.create_ticket(&new).await.unwrap();
        let mut t = new.ticket.clone();
        for i in 0..3 {
            let c = change(&t, Command::Note, T0 + Duration::minutes(i));
            t = store.update_ticket(&c).await.unwrap();
        }
        let seqs = |v: Vec<wuzhang_domain::event::TicketEvent>| {
            v.iter().map(|e| e.seq).collect::<Vec<_>>()
        };
        assert_eq!(
            seqs(store.list_events(&t.id, 0, 100).await.unwrap()),
            [1, 2, 3, 4, 5]
        );
        assert_eq!(
            seqs(store.list_events(&t.id, 2, 100).await.unwrap()),
            [3, 4, 5]
        );
        assert_eq!(seqs(store.list_events(&t.id, 1, 2).await.unwrap()), [2, 3]);
        assert!(store.list_events(&t.id, 5, 100).await.unwrap().is_empty());
        assert!(
            store
                .list_events(&TicketId::new(T0), 0, 100)
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub(crate) async fn events_since_across_subdistricts(store: S) {
        let a = assigned(SUB1, G1, "r1", T0, grid_chief(G1)); // 2 events
        let b = submitted(SUB2, G3, "r2", T0); // 1 event
        store.create_ticket(&a).await.unwrap();
        store.create_ticket(&b).await.unwrap();
        store
            .update_ticket(&change(&a.ticket, Command::Accept, T0))
            .await
            .unwrap(); // 1 more

        let all = store.events_since(&[], 0, 100).await.unwrap();
        assert_eq!(all.len(), 4);
        assert!(
            all.windows(2).all(|w| w[0].cursor < w[1].cursor),
            "cursor order"
        );
        let order: Vec<_> = all
            .iter()
            .map(|e| (e.event.ticket_id, e.event.seq))
            .collect();
        assert_eq!(
            order,
            [
                (a.ticket.id, 1),
                (a.ticket.id, 2),
                (b.ticket.id, 1),
                (a.ticket.id, 3)
            ]
        );
        assert_eq!(
            store
                .events_since(&[code(SUB1), code(SUB2)], 0, 100)
                .await
                .unwrap(),
            all
        );

        let sub2 = store.events_since(&[code(SUB2)], 0, 100).await.unwrap();
        assert_eq!(sub2, [all[2].clone()]);
        // Resume a SUB1 stream two events at a time.
        let first = store.events_since(&[code(SUB1)], 0, 2).await.unwrap();
        assert_eq!(first, all[..2]);
        let rest = store
            .events_since(&[code(SUB1)], first[1].cursor, 2)
            .await
            .unwrap();
        assert_eq!(rest, [all[3].clone()]);
        assert!(
            store
                .events_since(&[code(SUB1)], rest[0].cursor, 2)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .events_since(&[], all[3].cursor, 100)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.events_since(&[], all[1].cursor, 100).await.unwrap(),
            all[2..]
        );
    }

    /// A stream that always resumes after the last cursor it saw must see every event, even
    /// while writers commit concurrently (a cursor handed out before a lower one commits
    /// would make it skip that one for good).
    pub(crate) async fn events_since_misses_nothing_under_concurrent_writers(store: S) {
        const WRITERS: usize = 4;
        const TICKETS: usize = 20; // per writer, 3 events each
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    for i in 0..TICKETS {
                        let sub = if i % 2 == 0 { SUB1 } else { SUB2 };
                        let new = submitted(sub, G1, &format!("w{w}-{i}"), T0);
                        let t = store.create_ticket(&new).await.unwrap();
                        store
                            .update_ticket(&change(&t, Command::Note, T0))
                            .await
                            .unwrap();
                        let t = store.get_ticket(&t.id).await.unwrap();
                        store
                            .update_ticket(&change(&t, Command::Note, T0))
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut read = |batch: Vec<wuzhang_store::LoggedEvent>, cursor: &mut i64| {
            for e in batch {
                assert!(e.cursor > *cursor, "cursors increase");
                *cursor = e.cursor;
                assert!(
                    seen.insert((e.event.ticket_id, e.event.seq)),
                    "no event twice"
                );
            }
        };
        while writers.iter().any(|w| !w.is_finished()) {
            read(
                store.events_since(&[], cursor, 7).await.unwrap(),
                &mut cursor,
            );
            tokio::task::yield_now().await;
        }
        for w in writers {
            w.await.unwrap();
        }
        loop {
            let batch = store.events_since(&[], cursor, 7).await.unwrap();
            if batch.is_empty() {
                break;
            }
            read(batch, &mut cursor);
        }
        assert_eq!(
            seen.len(),
            WRITERS * TICKETS * 3,
            "the stream missed events"
        );
    }

    // -------------------------------------------------------------------- timers

    pub(crate) async fn timers_are_listed_and_replaced(store: S) {
        let new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
        store.create_ticket(&new).await.unwrap();
        let timers = store.list_timers(&new.ticket.id).await.unwrap();
        assert_eq!(
            timers.iter().map(|t| t.kind).collect::<Vec<_>>(),
            [TimerKind::Accept, TimerKind::Resolve]
        );
        let mut c = change(&new.ticket, Command::Note, T0);
        let warning = timer(
            &c.ticket,
            TimerKind::Warning,
            T0 + Duration::minutes(90),
            ChiefLevel::Grid,
        );
        let supervision = timer(
            &c.ticket,
            TimerKind::Supervision,
            T0 + Duration::minutes(30),
            ChiefLevel::Grid,
        );
        c.timers = Some(vec![warning.clone(), supervision.clone()]);
        store.update_ticket(&c).await.unwrap();
        assert_eq!(
            store.list_timers(&new.ticket.id).await.unwrap(),
            [supervision, warning]
        );

        let other = submitted(SUB1, G1, "r2", T0);
        let mut bad = change(&c.ticket, Command::Note, T0);
        bad.timers = Some(vec![timer(
            &other.ticket,
            TimerKind::Accept,
            T0,
            ChiefLevel::Grid,
        )]);
        assert_eq!(
            invalid_field(&store.update_ticket(&bad).await.unwrap_err()),
            "timers"
        );
        assert!(
            store
                .list_timers(&TicketId::new(T0))
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub(crate) async fn subdistricts_with_due_timers(store: S) {
        // SUB1 timers at +2 h and +24 h, SUB2 at +3 h and +25 h.
        store
            .create_ticket(&assigned(SUB1, G1, "r1", T0, grid_chief(G1)))
            .await
            .unwrap();
        let lane = assignment(ChiefLevel::Lane, LN2, None);
        store
            .create_ticket(&assigned(SUB2, G3, "r2", T0 + Duration::hours(1), lane))
            .await
            .unwrap();
        let due = |at| {
            let store = Arc::clone(&store);
            async move {
                let codes = store.subdistricts_with_due_timers(at).await.unwrap();
                codes
                    .iter()
                    .map(|c| c.as_str().to_owned())
                    .collect::<Vec<_>>()
            }
        };
        assert!(due(T0).await.is_empty());
        assert_eq!(
            due(T0 + Duration::hours(2)).await,
            [SUB1],
            "due at exactly now counts"
        );
        assert_eq!(due(T0 + Duration::hours(4)).await, [SUB1, SUB2]);
    }

    fn handler<F>(f: F) -> Arc<dyn TimerHandler>
    where
        F: Fn(Timer, Ticket) -> wuzhang_store::Result<TimerOutcome> + Send + Sync + 'static,
    {
        Arc::new(FnHandler(move |timer, ticket| {
            let outcome = f(timer, ticket);
            async move { outcome }.boxed()
        }))
    }

    /// Escalates the ticket to the lane chief, as the worker does when an accept deadline passes.
    fn escalate(ticket: &mut Ticket, at: OffsetDateTime) -> TicketChange {
        let to = assignment(ChiefLevel::Lane, LN1, Some("p-lane"));
        let event = ticket
            .apply(
                Command::Escalate { to, auto: true },
                SYSTEM_TIMER_ACTOR,
                "accept deadline passed",
                at,
            )
            .unwrap();
        TicketChange {
            ticket: ticket.clone(),
            events: vec![event.event],
            timers: None,
            idempotency: None,
            add_follower: None,
        }
    }

    /// Records what the store asks of it: one `prepare` per batch with each claimed ticket
    /// once, before any `decide`.
    #[derive(Default)]
    struct Recorder {
        log: Mutex<Vec<(&'static str, Vec<TicketId>)>>,
    }

    #[async_trait::async_trait]
    impl TimerHandler for Recorder {
        async fn prepare(&self, tickets: &[&Ticket]) {
            let ids = tickets.iter().map(|t| t.id).collect();
            self.log.lock().unwrap().push(("prepare", ids));
        }

        async fn decide(
            &self,
            _timer: Timer,
            ticket: Ticket,
        ) -> wuzhang_store::Result<TimerOutcome> {
            self.log.lock().unwrap().push(("decide", vec![ticket.id]));
            Ok(TimerOutcome::Drop)
        }
    }

    pub(crate) async fn fire_prepares_the_batch_before_deciding(store: S) {
        let first = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
        let second = assigned(SUB1, G1, "r2", T0 + Duration::minutes(1), grid_chief(G1));
        store.create_ticket(&first).await.unwrap();
        store.create_ticket(&second).await.unwrap();
        let now = T0 + Duration::days(3); // every timer of both is due
        let h = Recorder::default();
        let report = store
            .fire_due_timers(&code(SUB1), now, 100, Duration::minutes(1), &h)
            .await
            .unwrap();
        assert!(report.dropped >= 2, "{report:?}");
        let log = h.log.lock().unwrap().clone();
        assert_eq!(log[0].0, "prepare");
        let mut prepared = log[0].1.clone();
        prepared.sort();
        let mut want = vec![first.ticket.id, second.ticket.id];
        want.sort();
        assert_eq!(prepared, want, "each claimed ticket once");
        assert!(log[1..].iter().all(|(what, _)| *what == "decide"));
        assert!(log.len() > 2);
    }

    pub(crate) async fn fire_writes_change_and_deletes_timer(store: S) {
        let new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
        store.create_ticket(&new).await.unwrap();
        let now = T0 + Duration::hours(3);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let h = handler(move |timer, mut ticket| {
            log.lock().unwrap().push((timer.kind, ticket.version));
            Ok(TimerOutcome::Fire(escalate(&mut ticket, now)))
        });
        let report = store
            .fire_due_timers(&code(SUB1), now, 10, Duration::minutes(1), &*h)
            .await
            .unwrap();
        assert_eq!(
            report,
            FireReport {
                fired: 1,
                dropped: 0,
                failed: 0
            }
        );
        assert_eq!(*seen.lock().unwrap(), [(TimerKind::Accept, 2)]);
        let t = store.get_ticket(&new.ticket.id).await.unwrap();
        assert_eq!((t.level(), t.version), (Some(ChiefLevel::Lane), 3));
        let events = store.list_events(&t.id, 2, 100).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(
            (events[0].seq, events[0].event.kind),
            (3, EventKind::AutoEscalated)
        );
        assert_eq!(events[0].event.actor, SYSTEM_TIMER_ACTOR);
        let left = store.list_timers(&t.id).await.unwrap();
        assert_eq!(
            left.iter().map(|t| t.kind).collect::<Vec<_>>(),
            [TimerKind::Resolve]
        );
        // Nothing more is due.
        let report = store
            .fire_due_timers(&code(SUB1), now, 10, Duration::minutes(1), &*h)
            .await
            .unwrap();
        assert_eq!(report, FireReport::default());
    }

    /// A timer's outcome usually changes only the assignment and clocks, but may change
    /// anything: both kinds in one batch, and the rest of a row kept as it was.
    pub(crate) async fn fire_writes_whatever_the_handler_changed(store: S) {
        let a = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
        let b = assigned(SUB1, G1, "r2", T0, grid_chief(G1));
        store.create_ticket(&a).await.unwrap();
        store.create_ticket(&b).await.unwrap();
        let now = T0 + Duration::hours(3);
        let b_id = b.ticket.id;
        let h = handler(move |_, mut ticket| {
            if ticket.id == b_id {
                ticket.report.description = "补充：井盖已移位".into();
            }
            Ok(TimerOutcome::Fire(escalate(&mut ticket, now)))
        });
        let report = store
            .fire_due_timers(&code(SUB1), now, 10, Duration::minutes(1), &*h)
            .await
            .unwrap();
        assert_eq!(report.fired, 2);
        let a_now = store.get_ticket(&a.ticket.id).await.unwrap();
        let b_now = store.get_ticket(&b.ticket.id).await.unwrap();
        assert_eq!(a_now.level(), Some(ChiefLevel::Lane));
        assert_eq!(a_now.report.description, a.ticket.report.description);
        assert_eq!(b_now.level(), Some(ChiefLevel::Lane));
        assert_eq!(b_now.report.description, "补充：井盖已移位");

        // Only clocks changed: the rest of the row stays as it was.
        store
            .update_ticket(&change(&a_now, Command::Note, now))
            .await
            .unwrap();
        let before = store.get_ticket(&a.ticket.id).await.unwrap();
        let later = now + Duration::days(3);
        let note =
            handler(move |_, ticket| Ok(TimerOutcome::Fire(change(&ticket, Command::Note, later))));
        let report = store
            .fire_due_timers(&code(SUB1), later, 10, Duration::minutes(1), &*note)
            .await
            .unwrap();
        assert!(report.fired >= 1);
        let after = store.get_ticket(&a.ticket.id).await.unwrap();
        assert_eq!(after.report, before.report);
        assert_eq!(after.created_at, before.created_at);
        assert!(after.version > before.version);
    }

    pub(crate) async fn fire_with_new_timers_replaces_them(store: S) {
        let new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
        store.create_ticket(&new).await.unwrap();
        let now = T0 + Duration::hours(3);
        let h = handler(move |_, mut ticket| {
            let mut change = escalate(&mut ticket, now);
            change.ticket.accept_due_at = Some(now + Duration::hours(2));
            change.timers = Some(vec![timer(
                &ticket,
                TimerKind::Accept,
                now + Duration::hours(2),
                ChiefLevel::Lane,
            )]);
            Ok(TimerOutcome::Fire(change))
        });
        let report = store
            .fire_due_timers(&code(SUB1), now, 10, Duration::minutes(1), &*h)
            .await
            .unwrap();
        assert_eq!(report.fired, 1);
        let timers = store.list_timers(&new.ticket.id).await.unwrap();
        assert_eq!(
            timers,
            [timer(
                &new.ticket,
                TimerKind::Accept,
                now + Duration::hours(2),
                ChiefLevel::Lane
            )]
        );
        assert_eq!(
            store
                .get_ticket(&new.ticket.id)
                .await
                .unwrap()
                .accept_due_at,
            Some(now + Duration::hours(2))
        );
    }

    pub(crate) async fn fire_two_timers_of_one_ticket_in_one_batch(store: S) {
        let mut new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
        let warning = timer(
            &new.ticket,
            TimerKind::Warning,
            T0 + Duration::hours(1),
            ChiefLevel::Grid,
        );
        new.timers.push(warning);
        store.create_ticket(&new).await.unwrap();
        let now = T0 + Duration::hours(3);
        let versions = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&versions);
        let h = handler(move |timer, mut ticket| {
            log.lock().unwrap().push(ticket.version);
            let change = match timer.kind {
                TimerKind::Warning => {
                    let event = ticket
                        .apply(Command::Warn, SYSTEM_TIMER_ACTOR, "", now)
                        .unwrap();
                    TicketChange {
                        ticket,
                        events: vec![event.event],
                        timers: None,
                        idempotency: None,
                        add_follower: None,
                    }
                }
                _ => escalate(&mut ticket, now),
            };
            Ok(TimerOutcome::Fire(change))
        });
        let report = store
            .fire_due_timers(&code(SUB1), now, 10, Duration::minutes(1), &*h)
            .await
            .unwrap();
        assert_eq!(report.fired, 2);
        assert_eq!(
            *versions.lock().unwrap(),
            [2, 3],
            "the second sees the first's change"
        );
        let events = store.list_events(&new.ticket.id, 2, 100).await.unwrap();
        let got: Vec<_> = events.iter().map(|e| (e.seq, e.event.kind)).collect();
        assert_eq!(
            got,
            [
                (3, EventKind::DeadlineWarning),
                (4, EventKind::AutoEscalated)
            ]
        );
        assert_eq!(store.get_ticket(&new.ticket.id).await.unwrap().version, 4);
        let left = store.list_timers(&new.ticket.id).await.unwrap();
        assert_eq!(
            left.iter().map(|t| t.kind).collect::<Vec<_>>(),
            [TimerKind::Resolve]
        );
    }

    pub(crate) async fn fire_drop_deletes_timer(store: S) {
        let new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
        store.create_ticket(&new).await.unwrap();
        let h = handler(|_, _| Ok(TimerOutcome::Drop));
        let now = T0 + Duration::hours(2);
        let report = store
            .fire_due_timers(&code(SUB1), now, 10, Duration::minutes(1), &*h)
            .await
            .unwrap();
        assert_eq!(
            report,
            FireReport {
                fired: 0,
                dropped: 1,
                failed: 0
            }
        );
        assert_eq!(store.get_ticket(&new.ticket.id).await.unwrap(), new.ticket);
        assert_eq!(
            store
                .list_events(&new.ticket.id, 0, 100)
                .await
                .unwrap()
                .len(),
            2
        );
        let left = store.list_timers(&new.ticket.id).await.unwrap();
        assert_eq!(
            left.iter().map(|t| t.kind).collect::<Vec<_>>(),
            [TimerKind::Resolve]
        );
    }

    pub(crate) async fn fire_handler_error_reschedules(store: S) {
        let new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
        store.create_ticket(&new).await.unwrap();
        let calls = Arc::new(Mutex::new(0));
        let counter = Arc::clone(&calls);
        let h = handler(move |_, _| {
            *counter.lock().unwrap() += 1;
            Err(StoreError::internal("roster lookup failed"))
        });
        let now = T0 + Duration::hours(3);
        let retry = Duration::minutes(5);
        let report = store
            .fire_due_timers(&code(SUB1), now, 10, retry, &*h)
            .await
            .unwrap();
        assert_eq!(
            report,
            FireReport {
                fired: 0,
                dropped: 0,
                failed: 1
            }
        );
        let timers = store.list_timers(&new.ticket.id).await.unwrap();
        assert_eq!(timers[0].kind, TimerKind::Accept);
        assert_eq!(timers[0].due_at, now + retry, "moved to now + retry_after");
        assert_eq!(store.get_ticket(&new.ticket.id).await.unwrap(), new.ticket);
        // Not due again until then.
        let report = store
            .fire_due_timers(&code(SUB1), now, 10, retry, &*h)
            .await
            .unwrap();
        assert_eq!(report, FireReport::default());
        let later = now + retry;
        let report = store
            .fire_due_timers(&code(SUB1), later, 10, retry, &*h)
            .await
            .unwrap();
        assert_eq!(report.failed, 1);
        assert_eq!(*calls.lock().unwrap(), 2);
    }

    pub(crate) async fn fire_conflict_reschedules(store: S) {
        let one = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
        let two = assigned(SUB1, G2, "r2", T0 + Duration::SECOND, grid_chief(G2));
        store.create_ticket(&one).await.unwrap();
        store.create_ticket(&two).await.unwrap();
        let now = T0 + Duration::hours(3);
        let (first, other) = (one.ticket.id, two.ticket.clone());
        let h = handler(move |_, mut ticket| {
            let mut change = escalate(&mut ticket, now);
            if ticket.id == first {
                change.ticket.version += 5; // written against a version the store does not have
            } else {
                change.ticket = other.clone(); // a change for another ticket than the timer's
                change.ticket.subdistrict_code = code(SUB2);
            }
            Ok(TimerOutcome::Fire(change))
        });
        let report = store
            .fire_due_timers(&code(SUB1), now, 10, Duration::minutes(2), &*h)
            .await
            .unwrap();
        assert_eq!(
            report,
            FireReport {
                fired: 0,
                dropped: 0,
                failed: 2
            }
        );
        for new in [&one, &two] {
            assert_eq!(store.get_ticket(&new.ticket.id).await.unwrap(), new.ticket);
            assert_eq!(
                store
                    .list_events(&new.ticket.id, 0, 100)
                    .await
                    .unwrap()
                    .len(),
                2
            );
            let timers = store.list_timers(&new.ticket.id).await.unwrap();
            assert_eq!(timers.len(), 2);
            assert_eq!(timers[0].due_at, now + Duration::minutes(2));
        }
    }

    /// Both of a ticket's timers are due in one batch and the first escalates with new
    /// clocks: the second belonged to the replaced set, so it is gone (never handed to the
    /// handler, and deleting it by kind must not take the new timer of that kind).
    pub(crate) async fn fire_replacement_retires_old_claimed_timers(store: S) {
        let new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
        store.create_ticket(&new).await.unwrap();
        let now = T0 + Duration::hours(25);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let h = handler(move |due, mut ticket| {
            log.lock().unwrap().push(due.kind);
            let mut change = escalate(&mut ticket, now);
            change.timers = Some(vec![
                timer(
                    &ticket,
                    TimerKind::Accept,
                    now + Duration::hours(2),
                    ChiefLevel::Lane,
                ),
                timer(
                    &ticket,
                    TimerKind::Resolve,
                    now + Duration::hours(24),
                    ChiefLevel::Lane,
                ),
            ]);
            Ok(TimerOutcome::Fire(change))
        });
        let report = store
            .fire_due_timers(&code(SUB1), now, 10, Duration::minutes(1), &*h)
            .await
            .unwrap();
        assert_eq!(
            report,
            FireReport {
                fired: 1,
                dropped: 1,
                failed: 0
            }
        );
        assert_eq!(*seen.lock().unwrap(), [TimerKind::Accept]);
        let left = store.list_timers(&new.ticket.id).await.unwrap();
        let got: Vec<_> = left.iter().map(|t| (t.kind, t.due_at, t.level)).collect();
        assert_eq!(
            got,
            [
                (
                    TimerKind::Accept,
                    now + Duration::hours(2),
                    ChiefLevel::Lane
                ),
                (
                    TimerKind::Resolve,
                    now + Duration::hours(24),
                    ChiefLevel::Lane
                ),
            ]
        );
        assert_eq!(store.get_ticket(&new.ticket.id).await.unwrap().version, 3);
    }

    /// A chief acts on the ticket while its timer is being decided: the worker's change was
    /// made from the old version, so it is not written and the timer comes back later.
    /// (SQLite's claim holds the write lock, so nothing can change under it there.)
    pub(crate) async fn fire_ticket_changed_since_claim_is_retried(store: S) {
        if store.backend() == Backend::Sqlite {
            return;
        }
        let new = assigned(SUB1, G1, "r1", T0, grid_chief(G1));
        store.create_ticket(&new).await.unwrap();
        let now = T0 + Duration::hours(3);
        let retry = Duration::minutes(2);
        let other = Arc::clone(&store);
        let h: Arc<dyn TimerHandler> = Arc::new(FnHandler(move |_, mut ticket: Ticket| {
            let other = Arc::clone(&other);
            async move {
                let mut meanwhile = ticket.clone();
                let accepted = meanwhile
                    .apply(Command::Accept, "p-grid", "on my way", now)
                    .unwrap();
                other
                    .update_ticket(&TicketChange {
                        ticket: meanwhile,
                        events: vec![accepted.event],
                        timers: None,
                        idempotency: None,
                        add_follower: None,
                    })
                    .await?;
                Ok(TimerOutcome::Fire(escalate(&mut ticket, now)))
            }
            .boxed()
        }));
        let report = store
            .fire_due_timers(&code(SUB1), now, 10, retry, &*h)
            .await
            .unwrap();
        assert_eq!(
            report,
            FireReport {
                fired: 0,
                dropped: 0,
                failed: 1
            }
        );
        let t = store.get_ticket(&new.ticket.id).await.unwrap();
        assert_eq!((t.state, t.version), (TicketState::Accepted, 3));
        let events = store.list_events(&t.id, 0, 100).await.unwrap();
        assert_eq!(events.last().unwrap().event.kind, EventKind::Accepted);
        assert_eq!(events.len(), 3, "the escalation was not written");
        let timers = store.list_timers(&t.id).await.unwrap();
        assert_eq!(timers[0].kind, TimerKind::Accept);
        assert_eq!(timers[0].due_at, now + retry);
    }

    pub(crate) async fn fire_respects_due_time_subdistrict_and_limit(store: S) {
        let mut ids = Vec::new();
        for i in 0..5 {
            // Accept timers due at +1 h … +5 h (created at -1 h … +3 h).
            let at = T0 + Duration::hours(i - 1);
            let new = assigned(SUB1, G1, &format!("r{i}"), at, grid_chief(G1));
            store.create_ticket(&new).await.unwrap();
            ids.push(new.ticket.id);
        }
        let elsewhere = assigned(SUB2, G3, "rx", T0, assignment(ChiefLevel::Lane, LN2, None));
        store.create_ticket(&elsewhere).await.unwrap();
        let fired = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&fired);
        let h = handler(move |timer, _| {
            log.lock().unwrap().push((timer.ticket_id, timer.kind));
            Ok(TimerOutcome::Drop)
        });
        let now = T0 + Duration::hours(4) + Duration::minutes(30);
        let r = store
            .fire_due_timers(&code(SUB1), now, 3, Duration::minutes(1), &*h)
            .await
            .unwrap();
        assert_eq!(r.dropped, 3);
        let accept = |id| (id, TimerKind::Accept);
        assert_eq!(
            *fired.lock().unwrap(),
            [accept(ids[0]), accept(ids[1]), accept(ids[2])],
            "earliest first"
        );
        let r = store
            .fire_due_timers(&code(SUB1), now, 3, Duration::minutes(1), &*h)
            .await
            .unwrap();
        assert_eq!(r.dropped, 1, "the +5 h timer is not due yet");
        let r = store
            .fire_due_timers(&code(SUB1), now, 3, Duration::minutes(1), &*h)
            .await
            .unwrap();
        assert_eq!(r, FireReport::default());
        assert_eq!(store.list_timers(&ids[4]).await.unwrap().len(), 2);
        // SUB2's due accept timer was not touched by SUB1's rounds.
        assert_eq!(
            store.list_timers(&elsewhere.ticket.id).await.unwrap().len(),
            2
        );
        assert_eq!(fired.lock().unwrap().len(), 4);
    }

    pub(crate) async fn concurrent_workers_fire_each_timer_once(store: S) {
        const TICKETS: usize = 300;
        let news: Vec<NewTicket> = (0..TICKETS)
            .map(|i| {
                let mut new = assigned(SUB1, G1, &format!("r{i}"), T0, grid_chief(G1));
                new.timers.truncate(1); // the accept timer, due at T0 + 2 h
                new
            })
            .collect();
        futures::stream::iter(&news)
            .map(|n| {
                let store = Arc::clone(&store);
                async move { store.create_ticket(n).await.map(|_| ()) }
            })
            .buffer_unordered(8)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<Vec<()>, _>>()
            .unwrap();

        let now = T0 + Duration::hours(2);
        let calls: Arc<Mutex<HashMap<TicketId, usize>>> = Arc::default();
        let log = Arc::clone(&calls);
        let h = handler(move |_, mut ticket| {
            *log.lock().unwrap().entry(ticket.id).or_default() += 1;
            let event = ticket
                .apply(Command::Warn, SYSTEM_TIMER_ACTOR, "", now)
                .unwrap();
            Ok(TimerOutcome::Fire(TicketChange {
                ticket,
                events: vec![event.event],
                timers: None,
                idempotency: None,
                add_follower: None,
            }))
        });
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let (store, h) = (Arc::clone(&store), Arc::clone(&h));
                tokio::spawn(async move {
                    let mut fired = 0;
                    loop {
                        let r = store
                            .fire_due_timers(&code(SUB1), now, 25, Duration::minutes(1), &*h)
                            .await
                            .unwrap();
                        assert_eq!(r.failed + r.dropped, 0, "{r:?}");
                        if r.fired == 0 {
                            return fired;
                        }
                        fired += r.fired;
                    }
                })
            })
            .collect();
        let mut total = 0;
        for w in workers {
            total += w.await.unwrap();
        }
        // Workers stop when they find nothing unclaimed; sweep up anything a stopped
        // worker could not see because another held it.
        total += store
            .fire_due_timers(&code(SUB1), now, 1000, Duration::minutes(1), &*h)
            .await
            .unwrap()
            .fired;
        assert_eq!(total, TICKETS);
        let calls = calls.lock().unwrap().clone();
        assert_eq!(calls.len(), TICKETS);
        assert!(
            calls.values().all(|&n| n == 1),
            "each timer fired exactly once"
        );
        let mut warnings = 0;
        let mut cursor = 0;
        loop {
            let batch = store
                .events_since(&[code(SUB1)], cursor, 500)
                .await
                .unwrap();
            let Some(last) = batch.last() else { break };
            cursor = last.cursor;
            warnings += batch
                .iter()
                .filter(|e| e.event.event.kind == EventKind::DeadlineWarning)
                .count();
        }
        assert_eq!(warnings, TICKETS);
        assert!(
            store
                .subdistricts_with_due_timers(now + Duration::days(1))
                .await
                .unwrap()
                .is_empty()
        );
        let distinct: HashSet<_> = news.iter().map(|n| n.ticket.id).collect();
        assert_eq!(distinct.len(), TICKETS);
    }

    // -------------------------------------------------------------------- idempotency

    pub(crate) async fn idempotency_records(store: S) {
        assert_eq!(store.get_idempotency("s", "a").await.unwrap(), None);
        let a = idempotency("s", "a", T0 + Duration::nanoseconds(999));
        store.put_idempotency(&a).await.unwrap();
        let stored = store.get_idempotency("s", "a").await.unwrap().unwrap();
        assert_eq!(
            stored,
            wuzhang_store::IdempotencyRecord {
                created_at: truncate_to_micros(a.created_at),
                ..a.clone()
            }
        );
        assert_err!(
            store.put_idempotency(&idempotency("s", "a", T0)).await,
            StoreError::AlreadyExists {
                entity: "idempotency",
                ..
            }
        );
        store
            .put_idempotency(&idempotency("other-scope", "a", T0))
            .await
            .unwrap();
        store
            .put_idempotency(&idempotency("s", "b", T0 + Duration::hours(1)))
            .await
            .unwrap();
        store
            .put_idempotency(&idempotency("s", "c", T0 + Duration::hours(2)))
            .await
            .unwrap();
        assert_eq!(
            store
                .purge_idempotency(T0 + Duration::hours(1))
                .await
                .unwrap(),
            2
        );
        assert_eq!(store.get_idempotency("s", "a").await.unwrap(), None);
        assert!(
            store.get_idempotency("s", "b").await.unwrap().is_some(),
            "created exactly at `before` stays"
        );
        assert_eq!(store.purge_idempotency(T0).await.unwrap(), 0);
        assert_eq!(
            store
                .purge_idempotency(T0 + Duration::days(1))
                .await
                .unwrap(),
            2
        );
    }

    pub(crate) async fn merge_writes_both_tickets_or_neither(store: S) {
        let original = store
            .create_ticket(&assigned(SUB1, G1, "r1", T0, grid_chief(G1)))
            .await
            .unwrap();
        let at = T0 + Duration::minutes(5);
        let mut dup = submitted(SUB1, G1, "r2", at);
        let e = dup
            .ticket
            .apply(
                Command::Merge { into: original.id },
                "system:intake",
                "",
                at,
            )
            .unwrap();
        dup.events.push(e.event);
        let mut join = change(&original, Command::JoinReporter, at);
        join.add_follower = Some("r2".into());
        dup.followed = Some(join.clone());
        dup.idempotency = Some(idempotency("resident:r2/SubmitIncident", "m-1", at));
        let stored = store.create_ticket(&dup).await.unwrap();
        assert_eq!(stored.duplicate_of, Some(original.id));
        assert_eq!(store.ticket_followers(&original.id).await.unwrap(), ["r2"]);
        let events = store.list_events(&original.id, 0, 10).await.unwrap();
        assert_eq!(events.last().unwrap().event.kind, EventKind::ReporterJoined);
        assert_eq!(events.last().unwrap().seq, 3);
        assert_eq!(store.get_ticket(&original.id).await.unwrap().version, 3);

        // A stale change to the original fails the whole write: no merged ticket, no record.
        let mut late = submitted(SUB1, G1, "r3", at + Duration::SECOND);
        let e = late
            .ticket
            .apply(
                Command::Merge { into: original.id },
                "system:intake",
                "",
                at + Duration::SECOND,
            )
            .unwrap();
        late.events.push(e.event);
        let mut stale = join;
        stale.add_follower = Some("r3".into());
        late.followed = Some(stale);
        late.idempotency = Some(idempotency("resident:r3/SubmitIncident", "m-2", at));
        assert_err!(
            store.create_ticket(&late).await,
            StoreError::Conflict { .. }
        );
        assert_err!(
            store.get_ticket(&late.ticket.id).await,
            StoreError::NotFound { .. }
        );
        assert!(
            store
                .get_idempotency("resident:r3/SubmitIncident", "m-2")
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(store.ticket_followers(&original.id).await.unwrap(), ["r2"]);
        assert!(
            store
                .ticket_followers(&late.ticket.id)
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub(crate) async fn list_tickets_within_a_box(store: S) {
        let mut near = submitted(SUB1, G1, "r1", T0);
        near.ticket.report.location = GeoPoint::new(43.9, 125.3, Crs::Wgs84).unwrap();
        let mut edge = submitted(SUB1, G1, "r1", T0 + Duration::SECOND);
        edge.ticket.report.location = GeoPoint::new(43.91, 125.31, Crs::Wgs84).unwrap();
        let mut far = submitted(SUB1, G1, "r1", T0 + Duration::SECOND * 2);
        far.ticket.report.location = GeoPoint::new(43.95, 125.3, Crs::Wgs84).unwrap();
        for t in [&near, &edge, &far] {
            store.create_ticket(t).await.unwrap();
        }
        let found = ids(
            &store,
            TicketQuery {
                within: Some(bbox(125.29, 43.89, 125.31, 43.91)),
                order: TicketOrder::NewestFirst,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(found, [edge.ticket.id, near.ticket.id]);
    }

    /// Many creates at once (which group commit may write in one transaction): each
    /// succeeds or fails on its own, and a failing one takes no other down with it.
    pub(crate) async fn concurrent_creates_each_succeed_or_fail_alone(store: S) {
        let mut tasks = Vec::new();
        for i in 0..64 {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                let at = T0 + Duration::milliseconds(i);
                let mut new = assigned(SUB1, G1, &format!("r{}", i % 8), at, grid_chief(G1));
                // Every eighth request reuses one key: exactly one of those wins.
                let key = if i % 8 == 0 {
                    "shared".to_owned()
                } else {
                    format!("k{i}")
                };
                new.idempotency = Some(idempotency("resident:x/SubmitIncident", &key, at));
                (new.ticket.id, store.create_ticket(&new).await)
            }));
        }
        let mut created = Vec::new();
        let mut refused = 0;
        for t in tasks {
            match t.await.unwrap() {
                (id, Ok(ticket)) => {
                    assert_eq!(ticket.id, id);
                    created.push(id);
                }
                (_, Err(StoreError::AlreadyExists { entity, .. })) => {
                    assert_eq!(entity, "idempotency");
                    refused += 1;
                }
                (_, Err(e)) => panic!("unexpected error {e}"),
            }
        }
        assert_eq!((created.len(), refused), (57, 7));
        for id in created {
            let events = store.list_events(&id, 0, 10).await.unwrap();
            assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
            assert_eq!(store.list_timers(&id).await.unwrap().len(), 2);
        }
    }

    /// A submission whose caller goes away (a cancelled request drops its future, which
    /// may be writing its own batch) leaves its ticket whole or absent, and the store
    /// goes on: no connection is left inside a transaction holding the write lock.
    pub(crate) async fn cancelled_creates_leave_whole_tickets_or_none(store: S) {
        let mut tasks = Vec::new();
        for i in 0..48 {
            let new = assigned(
                SUB1,
                G1,
                &format!("c{i}"),
                T0 + Duration::milliseconds(i),
                grid_chief(G1),
            );
            let id = new.ticket.id;
            let task = {
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.create_ticket(&new).await })
            };
            // Give up on each after a different number of turns: some before they
            // start, some while writing, some after.
            for _ in 0..i % 16 {
                tokio::task::yield_now().await;
            }
            task.abort();
            tasks.push((id, task));
        }
        for (id, task) in tasks {
            let _ = task.await;
            match store.get_ticket(&id).await {
                Ok(_) => {
                    assert_eq!(store.list_events(&id, 0, 10).await.unwrap().len(), 2);
                    assert_eq!(store.list_timers(&id).await.unwrap().len(), 2);
                }
                Err(StoreError::NotFound { .. }) => {
                    assert!(store.list_events(&id, 0, 10).await.unwrap().is_empty());
                    assert!(store.list_timers(&id).await.unwrap().is_empty());
                }
                Err(e) => panic!("unexpected error {e}"),
            }
        }
        // Writers go on at once (a lock left held would make these wait, then fail).
        let after = tokio::time::timeout(std::time::Duration::from_secs(3), async {
            for i in 0..8 {
                let new = assigned(SUB1, G1, "after", T0 + Duration::seconds(i), grid_chief(G1));
                store.create_ticket(&new).await.unwrap();
            }
        });
        after
            .await
            .expect("writes after cancelled ones were held up");
    }

    pub(crate) async fn count_tickets_and_event_cursor_head(store: S) {
        assert_eq!(store.event_cursor_head().await.unwrap(), 0);
        let [a, b, ..] = four_tickets(&store).await;
        let all = store.count_tickets(&TicketQuery::default()).await.unwrap();
        assert_eq!(all, 4);
        let mine = TicketQuery {
            reporter_id: Some(a.report.reporter_id.clone()),
            ..Default::default()
        };
        let listed = ids(&store, mine.clone()).await;
        assert_eq!(
            store.count_tickets(&mine).await.unwrap(),
            listed.len() as u64
        );
        let head = store.event_cursor_head().await.unwrap();
        let newest = store.events_since(&[], 0, 1000).await.unwrap();
        assert_eq!(head, newest.last().unwrap().cursor);
        store
            .update_ticket(&change(&b, Command::Note, b.updated_at + Duration::SECOND))
            .await
            .unwrap();
        assert!(store.event_cursor_head().await.unwrap() > head);
    }

    pub(crate) async fn calendar_years_round_trip(store: S) {
        let year = |code: &str, y: i32, doc: &str| wuzhang_store::StoredCalendarYear {
            code: code.into(),
            year: y,
            document: doc.into(),
            updated_at: T0,
        };
        store
            .upsert_calendar_year(&year("cn", 2027, "{\"a\":1}"))
            .await
            .unwrap();
        store
            .upsert_calendar_year(&year("cn", 2026, "{}"))
            .await
            .unwrap();
        store
            .upsert_calendar_year(&year("bj", 2026, "{}"))
            .await
            .unwrap();
        store
            .upsert_calendar_year(&year("cn", 2027, "{\"a\":2}"))
            .await
            .unwrap();
        let all = store.list_calendar_years().await.unwrap();
        let keys: Vec<(&str, i32)> = all.iter().map(|y| (y.code.as_str(), y.year)).collect();
        assert_eq!(keys, [("bj", 2026), ("cn", 2026), ("cn", 2027)]);
        assert_eq!(all[2].document, "{\"a\":2}");
        assert_eq!(all[2].updated_at, T0);
    }
}

/// Postgres only: event writers commit in any order, and the feed must not run ahead of
/// one still in flight (SQLite has one writer at a time, so its log is always final).
mod postgres_feed {
    use sqlx::{Connection, Executor};

    use super::fixtures::*;
    use super::*;

    /// The event log lock's key, as the store takes it. If the two ever differ, the
    /// feed stops waiting for the writer below and this test fails.
    const EVENT_LOG_LOCK: i64 = 0x7775_7a68_616e_6701;

    /// Begins a transaction on `conn` that appends one event the way the store does
    /// (lock, then insert) and leaves it uncommitted: a copy of the event at `cursor`,
    /// numbered `seq` in its ticket. Returns the new event's cursor.
    async fn half_written_event(conn: &mut sqlx::PgConnection, cursor: i64, seq: i64) -> i64 {
        conn.execute("BEGIN").await.unwrap();
        sqlx::query("SELECT pg_advisory_xact_lock_shared($1)")
            .bind(EVENT_LOG_LOCK)
            .execute(&mut *conn)
            .await
            .unwrap();
        sqlx::query_scalar(
            "INSERT INTO ticket_events (subdistrict_code, ticket_id, seq, kind, actor, \
               from_state, to_state, level, assignee_person_id, note, at) \
             SELECT subdistrict_code, ticket_id, $2, kind, actor, from_state, \
               to_state, level, assignee_person_id, note, at \
             FROM ticket_events WHERE cursor = $1 RETURNING cursor",
        )
        .bind(cursor)
        .bind(seq)
        .fetch_one(&mut *conn)
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn feed_waits_for_writers_in_flight() {
        let Some(harness) = harness::postgres().await else {
            return;
        };
        let store = Arc::clone(&harness.store);
        let mut writer = harness.pg_connection().await.unwrap();

        store
            .create_ticket(&submitted(SUB1, G1, "r1", T0))
            .await
            .unwrap();
        let start = store.events_since(&[], 0, 100).await.unwrap();
        let c0 = start.last().unwrap().cursor;
        assert_eq!(store.event_cursor_head().await.unwrap(), c0);

        // A writer has drawn c1 and not committed; a later ticket commits after it.
        let c1 = half_written_event(&mut writer, c0, 1001).await;
        store
            .create_ticket(&submitted(SUB1, G1, "r2", T0))
            .await
            .unwrap();
        assert!(
            store.events_since(&[], c0, 100).await.unwrap().is_empty(),
            "the feed passed a cursor that may still be committed below it"
        );
        // A feed starting now waits for the writer, rather than start below what it drew.
        let head = tokio::spawn({
            let store = Arc::clone(&store);
            async move { store.event_cursor_head().await.unwrap() }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!head.is_finished(), "the head did not wait for the writer");

        // Once it commits, both come, in cursor order.
        writer.execute("COMMIT").await.unwrap();
        let head = head.await.unwrap();
        let after = store.events_since(&[], c0, 100).await.unwrap();
        assert_eq!(after.first().map(|e| e.cursor), Some(c1));
        assert!(after.len() >= 2, "the later ticket's events follow");
        assert!(after.windows(2).all(|w| w[0].cursor < w[1].cursor));
        let c2 = after.last().unwrap().cursor;
        assert_eq!(head, c2, "the head is the end of the log once settled");

        // A writer that rolls back leaves a gap the feed steps over once it is gone.
        let gap = half_written_event(&mut writer, c0, 1002).await;
        store
            .create_ticket(&submitted(SUB1, G1, "r3", T0))
            .await
            .unwrap();
        assert!(store.events_since(&[], c2, 100).await.unwrap().is_empty());
        writer.execute("ROLLBACK").await.unwrap();
        let after = store.events_since(&[], c2, 100).await.unwrap();
        assert!(!after.is_empty());
        assert!(after.iter().all(|e| e.cursor > gap));
        assert!(store.event_cursor_head().await.unwrap() >= after.last().unwrap().cursor);

        writer.close().await.ok();
        drop(store);
        harness.finish().await;
    }
}

/// The ticket writers' own connections (outside the store's pool): a batch abandoned
/// half-way or a connection the database dropped costs no ticket, and the writers come
/// back on fresh connections.
mod postgres_writers {
    use sqlx::Connection;

    use super::fixtures::*;
    use super::*;

    /// The writers' `application_name` after the pool's, as the store sets it.
    const WRITER_NAME: &str = "ticket-writer";

    async fn writer_backends(conn: &mut sqlx::PgConnection, name: &str) -> Vec<i32> {
        sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE application_name = $1")
            .bind(name)
            .fetch_all(&mut *conn)
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_survive_abandoned_batches_and_dropped_connections() {
        let Some(harness) = harness::postgres().await else {
            return;
        };
        let store = Arc::clone(&harness.store);
        let name = format!("{} {WRITER_NAME}", harness.pg_schema().unwrap());
        let mut admin = harness.pg_connection().await.unwrap();

        let first = store
            .create_ticket(&submitted(SUB1, G1, "r1", T0))
            .await
            .unwrap();
        let pids = writer_backends(&mut admin, &name).await;
        assert!(
            !pids.is_empty(),
            "the writers have connections named {name}"
        );

        // The database drops the writers' connections (a restart, an admin's kill).
        for pid in &pids {
            let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
                .bind(pid)
                .fetch_one(&mut admin)
                .await
                .unwrap();
            assert!(killed);
        }
        // The next ticket is written all the same, and writers connect again.
        let second = store
            .create_ticket(&submitted(SUB1, G1, "r2", T0))
            .await
            .unwrap();
        let third = store
            .create_ticket(&submitted(SUB1, G1, "r3", T0))
            .await
            .unwrap();
        let again = writer_backends(&mut admin, &name).await;
        assert!(!again.is_empty(), "the writers reconnected");
        assert!(
            again.iter().all(|p| !pids.contains(p)),
            "on new connections"
        );

        // Submissions whose callers go away half-way: each is written or not, whole.
        let mut abandoned = Vec::new();
        for i in 0..20 {
            let new = submitted(SUB1, G1, &format!("gone{i}"), T0);
            let (id, events) = (new.ticket.id, new.events.len());
            let task = tokio::spawn({
                let store = Arc::clone(&store);
                async move { store.create_ticket(&new).await }
            });
            // Cancel at different points of the write.
            tokio::time::sleep(std::time::Duration::from_micros(100 * i)).await;
            task.abort();
            abandoned.push((id, events));
        }
        // Nothing is left stuck: later tickets go through, and an abandoned one is
        // either wholly there (ticket and its events) or not at all.
        for i in 0..5 {
            store
                .create_ticket(&submitted(SUB1, G1, &format!("after{i}"), T0))
                .await
                .unwrap();
        }
        for (id, events) in abandoned {
            match store.get_ticket(&id).await {
                Ok(t) => {
                    let stored = store.list_events(&t.id, 0, 100).await.unwrap();
                    assert_eq!(stored.len(), events, "all its events, or nothing");
                }
                Err(wuzhang_store::StoreError::NotFound { .. }) => {
                    assert!(store.list_events(&id, 0, 100).await.unwrap().is_empty());
                }
                Err(e) => panic!("{e}"),
            }
        }
        for t in [first, second, third] {
            assert_eq!(store.get_ticket(&t.id).await.unwrap().id, t.id);
        }

        admin.close().await.ok();
        drop(store);
        harness.finish().await;
    }
}

/// SQLite only: the store checkpoints its WAL off the writers' path. SQLite starts a WAL
/// over only when a write begins with all of it copied back, which a copy running beside
/// a writer that never pauses does not reach by itself; the store finishes such a copy on
/// the writers' connection. Without that the WAL grows with every write (1.1 GB in 8 s
/// measured); here it must stay far below what the writes add up to.
///
/// The checkpoints are the store's own (`SqliteStore::checkpoint`, what its background
/// task runs on a timer), called here after every [`CHECKPOINT_AFTER`] tickets written
/// while the writers go on, rather than on the timer: what is written between two
/// checkpoints then depends on the count, not on how fast this machine writes.
mod sqlite_wal {
    use std::sync::Arc;

    use super::fixtures::*;
    use sqlx::sqlite::SqliteConnectOptions;
    use time::Duration;
    use tokio::sync::mpsc;
    use wuzhang_store::prelude::*;
    use wuzhang_store::{SqliteStore, Store};

    const WRITERS: i64 = 4;
    const EACH: i64 = 1_500;
    /// Tickets written between two checkpoints: a twentieth of the whole.
    const CHECKPOINT_AFTER: i64 = 300;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_starts_over_under_writes_that_never_pause() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db");
        let options = SqliteConnectOptions::new().filename(&path);
        let store = Arc::new(
            SqliteStore::open_with_checkpoints(options, None)
                .await
                .unwrap(),
        );
        store.migrate().await.unwrap();
        let wal = dir.path().join("wal.db-wal");

        // Each writer says when a ticket is in; the channel closes when all are done.
        let (written, mut progress) = mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let (store, written) = (Arc::clone(&store), written.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..EACH {
                    let at = T0 + Duration::milliseconds(w * EACH + i);
                    let new = assigned(SUB1, G1, &format!("w{w}"), at, grid_chief(G1));
                    store.create_ticket(&new).await.unwrap();
                    written.send(()).unwrap();
                }
            }));
        }
        drop(written);
        // Checkpoints while the writers write: one each time another CHECKPOINT_AFTER
        // tickets are in, none after the last.
        let (mut count, mut checkpoints) = (0, 0);
        while progress.recv().await.is_some() {
            count += 1;
            if count % CHECKPOINT_AFTER == 0 && count < WRITERS * EACH {
                store.checkpoint().await.unwrap();
                checkpoints += 1;
            }
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(checkpoints, WRITERS * EACH / CHECKPOINT_AFTER - 1);
        let database: u64 = sqlx::query_scalar::<_, i64>(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
        )
        .fetch_one(store.pool())
        .await
        .unwrap()
        .try_into()
        .unwrap();
        let wal_size = std::fs::metadata(&wal).unwrap().len();
        // The WAL holds whole pages, one copy per transaction that touched them, so it
        // outgrows the database it describes between two restarts; that is bounded by
        // what is written between two checkpoints. Measured in a debug build here: 32 MB
        // for a 9.6 MB database, and 583 MB when the copy is never finished on the
        // writers' connection.
        assert!(
            wal_size < 8 * database,
            "the WAL ({wal_size} bytes) grew past 8 times the database ({database} bytes)"
        );
    }

    /// The schedule is wired: with checkpoints every millisecond and nobody calling
    /// `checkpoint`, what was written reaches the database file (the writers' connection
    /// never checkpoints by itself, so only the background task can have copied it).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_background_checkpoint_copies_the_wal_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("timed.db");
        let options = SqliteConnectOptions::new().filename(&path);
        let every = std::time::Duration::from_millis(1);
        let store = SqliteStore::open_with_checkpoints(options, Some(every))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let file = || std::fs::metadata(&path).unwrap().len();
        let before = file();
        for i in 0..200 {
            let at = T0 + Duration::milliseconds(i);
            let new = assigned(SUB1, G1, "timed", at, grid_chief(G1));
            store.create_ticket(&new).await.unwrap();
        }
        // Polled, not slept on: the wait ends as soon as a copy has landed.
        let grown = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            while file() <= before {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        })
        .await;
        assert!(
            grown.is_ok(),
            "the database file stayed at {before} bytes: no background checkpoint ran"
        );
    }
}
