//! The conformance suite: every case runs against every backend, so a service never has
//! to ask which store it has. `conformance_suite!(name, fresh_store)` expands into one
//! `#[tokio::test]` per case in `mod name` (after Quickwit's `metastore_test_suite!`), so
//! `cargo test` lists `sqlite::update_ticket_conflicts` and `postgres::update_ticket_conflicts`.
//!
//! Postgres cases run when `WUZHANG_TEST_PG_URL` names a database with PostGIS installed
//! (e.g. `postgres://postgres@127.0.0.1:5432/wuzhang_test`); each case gets a fresh schema.
//! Without it they are skipped with a note, unless `WUZHANG_REQUIRE_PG=1`, which makes a
//! missing database a failure (after IOx's `maybe_skip_integration!`).
//!
//! Layout: one file per part of the store, as `src/interface/` has them (after Quickwit's
//! metastore tests), each case a `pub(crate) async fn(store)` the macro below names by
//! part:
//! - here: the macro, the fresh stores (`harness`: a Postgres schema per case) and the
//!   helpers every part uses (`S`, `assert_err!`, `invalid_field`, `seed_tree`);
//! - `fixtures`: values built with the domain API;
//! - `store` (migrations, reference counters), `areas`, `roster`, `categories`,
//!   `tickets` (writing), `listing` (reading and counting), `feed` (events), `timers`,
//!   `firing`, `idempotency`, `rollups`, `campaigns`, `emergency`, `organizations`: the
//!   cases run on both backends;
//! - `postgres_feed`, `postgres_writers`, `sqlite_wal`: cases of one backend's own
//!   machinery.

use std::sync::Arc;

macro_rules! conformance_suite {
    ($backend:ident, $fresh:expr) => {
        conformance_suite!(@cases $backend, $fresh, [
            store::migrate_is_idempotent,
            areas::areas_round_trip_with_lineage,
            areas::area_geometry_round_trips,
            areas::invalid_geometry_writes_nothing,
            areas::areas_list_by_parent_level_and_bbox,
            areas::areas_page_to_the_end,
            areas::bad_page_tokens_are_invalid,
            areas::missing_parent_writes_nothing,
            areas::parents_may_come_later_in_the_batch,
            areas::area_change_counter_increases,
            areas::make_valid_repairs_or_declines,
            areas::load_area_records_by_level,
            areas::load_areas_without_geometry,
            roster::roster_round_trip,
            roster::invalid_roster_writes_nothing,
            categories::categories_round_trip,
            categories::invalid_categories_are_refused,
            store::reference_counters_follow_roster_and_categories,
            tickets::create_ticket_numbers_events,
            tickets::create_ticket_keeps_every_field,
            idempotency::duplicate_idempotency_key_writes_nothing,
            tickets::duplicate_ticket_id_is_refused,
            tickets::invalid_tickets_are_refused,
            listing::list_tickets_by_each_filter,
            listing::tickets_and_events_are_counted,
            listing::assignee_filters_follow_each_reassignment,
            listing::list_tickets_orders_and_pages,
            tickets::update_ticket_writes_change_events_timers,
            tickets::update_ticket_conflicts,
            tickets::update_tickets_writes_all_or_nothing,
            tickets::update_ticket_not_found,
            tickets::concurrent_updates_one_wins,
            feed::list_events_after_seq,
            feed::events_since_across_subdistricts,
            feed::events_since_misses_nothing_under_concurrent_writers,
            timers::timers_are_listed_and_replaced,
            timers::subdistricts_with_due_timers,
            firing::fire_writes_change_and_deletes_timer,
            firing::fire_prepares_the_batch_before_deciding,
            firing::fire_writes_whatever_the_handler_changed,
            firing::fire_with_new_timers_replaces_them,
            firing::fire_two_timers_of_one_ticket_in_one_batch,
            firing::fire_drop_deletes_timer,
            firing::fire_handler_error_reschedules,
            firing::fire_conflict_reschedules,
            firing::fire_replacement_retires_old_claimed_timers,
            firing::fire_ticket_changed_since_claim_is_retried,
            firing::fire_respects_due_time_subdistrict_and_limit,
            firing::concurrent_workers_fire_each_timer_once,
            idempotency::idempotency_records,
            tickets::merge_writes_both_tickets_or_neither,
            listing::list_tickets_within_a_box,
            tickets::concurrent_creates_each_succeed_or_fail_alone,
            tickets::cancelled_creates_leave_whole_tickets_or_none,
            listing::count_tickets_and_event_cursor_head,
            listing::inbox_follows_deadlines_and_states,
            listing::tickets_are_counted_up_to_a_cap,
            categories::calendar_years_round_trip,
            rollups::events_keep_deadlines_and_ratings,
            rollups::rollup_steps_add_up_and_move_the_cursor,
            campaigns::campaigns_are_written_whole_or_not_at_all,
            emergency::emergency_modes_switch_and_tickets_carry_their_rate,
            organizations::organizations_round_trip_and_hold_tickets,
        ]);
    };
    (@cases $backend:ident, $fresh:expr, [$($part:ident::$case:ident),* $(,)?]) => {
        mod $backend {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(harness) = $fresh.await else { return };
                    $part::$case(Arc::clone(&harness.store)).await;
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

mod fixtures;

// Helpers every part uses; `assert_err!` comes before the parts' `mod`s so they see it.
use fixtures::*;
use wuzhang_store::{Store, StoreError};

pub(crate) type S = Arc<dyn Store>;

macro_rules! assert_err {
    ($result:expr, $pattern:pat $(if $guard:expr)?) => {
        match $result {
            Err(e) => assert!(matches!(e, $pattern $(if $guard)?), "unexpected error: {e:?}"),
            Ok(v) => panic!("expected an error, got {v:?}"),
        }
    };
}

pub(crate) fn invalid_field(e: &StoreError) -> &str {
    match e {
        StoreError::Invalid { field, .. } => field,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

pub(crate) async fn seed_tree(store: &S) {
    store.upsert_areas(&tree()).await.unwrap();
}

mod areas;
mod campaigns;
mod categories;
mod emergency;
mod feed;
mod firing;
mod idempotency;
mod listing;
mod organizations;
mod rollups;
mod roster;
mod store;
mod tickets;
mod timers;

mod postgres_feed;
mod postgres_writers;
mod sqlite_wal;
