//! The plans of the listings and counts the services run, on a store loaded with enough
//! tickets (30,000 in one subdistrict, across 50 grids, three in twenty open) for the planner
//! to care: each must use the index meant for it (migrations postgres/0013 and 0015,
//! sqlite/0010 and 0012) and read no table whole; a listing must get its order from the
//! index (no sort), so it stops after its page. A change that loses an index fails here.
//!
//! The plans are of exactly what the store sends (`explain_tickets`, from the same query
//! builders). Postgres runs when `WUZHANG_TEST_PG_URL` is set (see the conformance suite),
//! SQLite always.

use std::str::FromStr;

use serde_json::Value;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::ticket::{Pause, TicketState};
use wuzhang_store::{
    PageRequest, PostgresStore, SqliteStore, Store, TicketGrouping, TicketOrder, TicketQuery,
    TicketStatement, TicketStore,
};

const SUB: &str = "220102001";
const GRID: &str = "220102001001001";
const TICKETS: i64 = 30_000;
/// Where the loaded tickets' clocks are: one in sixty of the open tickets is overdue.
const NOW: OffsetDateTime = datetime!(2025-03-01 00:00 UTC);

fn code(c: &str) -> AreaCode {
    AreaCode::new(c).unwrap()
}

/// One statement to check: what it is, the query, and the index it must use.
struct Case {
    name: &'static str,
    query: TicketQuery,
    statement: TicketStatement,
    /// The index, per backend: (Postgres, SQLite: any of these). SQLite's planner weighs
    /// a partial index like a whole one; where it may choose another index that also
    /// reads only the open tickets (the open states' ranges of the state index), or reads
    /// in order and stops after the page, either is listed.
    index: (&'static str, &'static [&'static str]),
    /// A listing that may sort: the overdue tickets, found through the deadline index
    /// (a few per subdistrict, not its history), then put newest first.
    sorts_few: bool,
}

fn cases(second_page: Option<String>) -> Vec<Case> {
    let sub = || TicketQuery {
        subdistrict_codes: vec![code(SUB)],
        ..TicketQuery::default()
    };
    let open = vec![
        TicketState::Submitted,
        TicketState::Assigned,
        TicketState::Accepted,
    ];
    let list = || TicketStatement::List(PageRequest::first(50));
    let mut cases = vec![
        Case {
            name: "newest first",
            query: sub(),
            statement: list(),
            index: ("tickets_newest_idx", &["tickets_newest_idx"]),
            sorts_few: false,
        },
        Case {
            name: "newest first, one state",
            query: TicketQuery {
                states: vec![TicketState::Resolved],
                ..sub()
            },
            statement: list(),
            index: ("tickets_state_newest_idx", &["tickets_state_newest_idx"]),
            sorts_few: false,
        },
        Case {
            name: "newest first, one grid",
            query: TicketQuery {
                grid_code: Some(code(GRID)),
                ..sub()
            },
            statement: list(),
            index: ("tickets_grid_newest_idx", &["tickets_grid_newest_idx"]),
            sorts_few: false,
        },
        Case {
            name: "newest first, overdue",
            query: TicketQuery {
                overdue_at: Some(NOW),
                ..sub()
            },
            statement: list(),
            // SQLite: the deadline index; a connection of the pool that has not seen the
            // statistics may read the open tickets in order instead (both stay off the
            // history), as before the deadline index.
            index: (
                "ticket_assignees_due_idx",
                &["tickets_due_idx", "tickets_open_idx", "tickets_newest_idx"],
            ),
            sorts_few: true,
        },
        Case {
            name: "newest first, open states",
            query: TicketQuery {
                states: vec![TicketState::Assigned, TicketState::Accepted],
                ..sub()
            },
            statement: list(),
            index: ("tickets_open_idx", &["tickets_open_idx"]),
            sorts_few: false,
        },
        Case {
            name: "inbox of one area by deadline",
            query: TicketQuery {
                assignee_area_codes: vec![code(GRID)],
                states: vec![TicketState::Assigned, TicketState::Accepted],
                order: TicketOrder::DueSoonest,
                ..TicketQuery::default()
            },
            statement: list(),
            index: ("ticket_assignees_inbox_idx", &["tickets_inbox_idx"]),
            sorts_few: false,
        },
        Case {
            name: "overdue listing's total, capped",
            query: TicketQuery {
                overdue_at: Some(NOW),
                ..sub()
            },
            statement: TicketStatement::CountCapped(1_000),
            // As the listing.
            index: (
                "ticket_assignees_due_idx",
                &[
                    "tickets_due_idx",
                    "tickets_open_idx",
                    "tickets_state_newest_idx",
                ],
            ),
            sorts_few: false,
        },
        Case {
            // The overview reads its open per grid from the rollups now (grid_open_counts);
            // the count stays a listing's, and its plan stays checked.
            name: "open per grid",
            query: TicketQuery {
                states: open.clone(),
                ..sub()
            },
            statement: TicketStatement::CountBy(TicketGrouping::Grid),
            // Not the grid index read in order (every ticket of the subdistrict): SQLite
            // groups an expression of the grid (sqlite/rows.rs `group_key`) and reads the
            // open tickets only, through the open index or the state index's open ranges.
            index: (
                "tickets_open_idx",
                &["tickets_open_idx", "tickets_state_newest_idx"],
            ),
            sorts_few: false,
        },
        Case {
            name: "overview: overdue per grid",
            query: TicketQuery {
                overdue_at: Some(NOW),
                ..sub()
            },
            statement: TicketStatement::CountBy(TicketGrouping::Grid),
            // As the listing; or the grid index in order, as for the open tickets.
            index: (
                "ticket_assignees_due_idx",
                &[
                    "tickets_due_idx",
                    "tickets_open_idx",
                    "tickets_grid_newest_idx",
                ],
            ),
            sorts_few: false,
        },
        Case {
            name: "overview: supervised open per grid",
            query: TicketQuery {
                states: open.clone(),
                supervised_only: true,
                ..sub()
            },
            statement: TicketStatement::CountBy(TicketGrouping::Grid),
            index: (
                "tickets_supervised_open_idx",
                &["tickets_supervised_open_idx"],
            ),
            sorts_few: false,
        },
        Case {
            name: "reopen queue, newest first",
            query: TicketQuery {
                reopen_requested: true,
                ..sub()
            },
            statement: list(),
            index: (
                "tickets_reopen_requested_idx",
                &["tickets_reopen_requested_idx"],
            ),
            sorts_few: false,
        },
        Case {
            name: "overview: reopen requests",
            query: TicketQuery {
                reopen_requested: true,
                ..sub()
            },
            statement: TicketStatement::Count,
            index: (
                "tickets_reopen_requested_idx",
                &["tickets_reopen_requested_idx"],
            ),
            sorts_few: false,
        },
        Case {
            name: "overview: pause requests",
            query: TicketQuery {
                states: open,
                pause: Some(Pause::Requested),
                ..sub()
            },
            statement: TicketStatement::Count,
            index: (
                "tickets_pause_requested_idx",
                &["tickets_pause_requested_idx"],
            ),
            sorts_few: false,
        },
    ];
    if let Some(token) = second_page {
        cases.push(Case {
            name: "newest first, second page",
            query: sub(),
            statement: TicketStatement::List(PageRequest {
                size: 50,
                token: Some(token),
            }),
            index: ("tickets_newest_idx", &["tickets_newest_idx"]),
            sorts_few: false,
        });
    }
    cases
}

/// The token of the second page of the subdistrict's listing, newest first.
async fn second_page(store: &dyn TicketStore) -> String {
    let query = TicketQuery {
        subdistrict_codes: vec![code(SUB)],
        ..TicketQuery::default()
    };
    let first = store
        .list_tickets(&query, &PageRequest::first(50))
        .await
        .unwrap();
    assert_eq!(first.items.len(), 50);
    first.next_token.expect("a second page")
}

// ------------------------------------------------------------------------------ Postgres

/// Every node of a JSON plan, depth first.
fn nodes(plan: &Value, out: &mut Vec<Value>) {
    out.push(plan.clone());
    if let Some(children) = plan["Plans"].as_array() {
        for c in children {
            nodes(c, out);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_plans_use_the_read_indexes() {
    let Ok(url) = std::env::var("WUZHANG_TEST_PG_URL") else {
        assert!(
            std::env::var("WUZHANG_REQUIRE_PG").as_deref() != Ok("1"),
            "WUZHANG_REQUIRE_PG=1 but WUZHANG_TEST_PG_URL is not set"
        );
        return;
    };
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&url).await.unwrap();
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let options = PgConnectOptions::from_str(&url)
        .unwrap()
        .options([("search_path", format!("{schema},public"))]);
    let store = PostgresStore::connect_with(options, 2).await.unwrap();
    store.migrate().await.unwrap();
    load_postgres(&store).await;
    let token = second_page(&store).await;

    for case in cases(Some(token)) {
        let plan = store
            .explain_tickets(&case.query, &case.statement)
            .await
            .unwrap();
        let mut all = Vec::new();
        nodes(&plan[0]["Plan"], &mut all);
        let text = serde_json::to_string_pretty(&plan).unwrap();
        let index = case.index.0;
        assert!(
            all.iter().any(|n| n["Index Name"] == index),
            "{}: does not use {index}:\n{text}",
            case.name
        );
        assert!(
            !all.iter().any(|n| n["Node Type"] == "Seq Scan"),
            "{}: reads a table whole:\n{text}",
            case.name
        );
        if matches!(case.statement, TicketStatement::List(_)) && !case.sorts_few {
            assert!(
                !all.iter()
                    .any(|n| n["Node Type"].as_str().is_some_and(|t| t.ends_with("Sort"))),
                "{}: sorts instead of reading the index in order:\n{text}",
                case.name
            );
        }
    }

    drop(store);
    sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut admin)
        .await
        .unwrap();
}

/// 30,000 tickets in one subdistrict, set-wise: ticket `i` lies in grid `i % 50`, one in
/// five held by [`GRID`]'s chief (an inbox of 900 open tickets); three in twenty are open (assigned or accepted, one in sixty of them overdue at [`NOW`]), one in a
/// hundred of the open under supervision or asking for a pause; the rest resolved or
/// closed, one in a hundred (closed) rated not solved: the reopen queue. Their `ticket_assignees` rows as the store writes them. Then ANALYZE.
async fn load_postgres(store: &PostgresStore) {
    let pool = store.pool();
    sqlx::query(
        "INSERT INTO tickets (subdistrict_code, id, grid_code, state, level, \
           assignee_area_code, assignee_person_id, category_code, description, lat, lng, crs, \
           original_lat, original_lng, original_crs, address, building_code, unit_code, \
           media_urls, contact_phone, reporter_id, urgent, accept_due_at, resolve_due_at, \
           created_at, updated_at, duplicate_of, pause, rating_stars, rating_not_solved, \
           rating_comment, version, supervision, supervision_count) \
         SELECT $1, md5(i::text)::uuid, g.grid, s.state, 'grid', \
           CASE WHEN i % 5 = 0 THEN $4 ELSE g.grid END, 'p' || (i % 50), \
           '0101', '', 43.8, 125.3, 'wgs84', 43.8, 125.3, 'wgs84', '', NULL, NULL, '[]', NULL, \
           'r' || i, false, \
           CASE WHEN s.state = 'assigned' THEN $3 + (CASE WHEN i % 400 = 0 THEN -1 ELSE 1 END) \
             * make_interval(mins => i::int) END, \
           CASE WHEN s.state IN ('assigned', 'accepted') THEN $3 + make_interval(days => 3) END, \
           $3 - make_interval(secs => $2 - i), $3, NULL, \
           CASE WHEN s.state IN ('assigned', 'accepted') AND i % 100 = 7 THEN 'requested' \
             ELSE 'none' END, \
           CASE WHEN i % 100 = 11 THEN 1 END, CASE WHEN i % 100 = 11 THEN true END, NULL, 2, \
           CASE WHEN s.state IN ('assigned', 'accepted') AND i % 100 = 3 THEN '{}' END, 0 \
         FROM generate_series(1, $2) AS i, \
           LATERAL (SELECT '220102001001' || lpad((i % 50 + 1)::text, 3, '0') AS grid) g, \
           LATERAL (SELECT CASE WHEN i % 20 < 2 THEN 'assigned' WHEN i % 20 = 2 THEN 'accepted' \
             WHEN i % 20 = 3 THEN 'resolved' ELSE 'closed' END AS state) s",
    )
    .bind(SUB)
    .bind(TICKETS)
    .bind(NOW)
    .bind(GRID)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO ticket_assignees (subdistrict_code, ticket_id, assignee_area_code, \
           assignee_person_id, due_at, created_at) \
         SELECT subdistrict_code, id, assignee_area_code, assignee_person_id, \
           CASE WHEN state IN ('submitted', 'assigned', 'accepted') \
             THEN LEAST(accept_due_at, resolve_due_at) END, created_at FROM tickets",
    )
    .execute(pool)
    .await
    .unwrap();
    // As autovacuum leaves it: statistics, and the visibility map index-only scans read.
    sqlx::query("VACUUM ANALYZE").execute(pool).await.unwrap();
}

// -------------------------------------------------------------------------------- SQLite

#[tokio::test]
async fn sqlite_plans_use_the_read_indexes() {
    let store = SqliteStore::in_memory().await.unwrap();
    store.migrate().await.unwrap();
    load_sqlite(&store).await;
    let token = second_page(&store).await;
    for case in cases(Some(token)) {
        let plan = store
            .explain_tickets(&case.query, &case.statement)
            .await
            .unwrap();
        let indexes = case.index.1;
        assert!(
            indexes.iter().any(|index| {
                plan.contains(&format!("USING INDEX {index} "))
                    || plan.contains(&format!("USING COVERING INDEX {index} "))
            }),
            "{}: does not use {indexes:?}:\n{plan}",
            case.name
        );
        assert!(
            !plan
                .lines()
                .any(|l| l.starts_with("SCAN tickets") && !l.contains(" USING ")),
            "{}: reads a table whole:\n{plan}",
            case.name
        );
        if matches!(case.statement, TicketStatement::List(_)) && !case.sorts_few {
            assert!(
                !plan.contains("TEMP B-TREE"),
                "{}: sorts instead of reading the index in order:\n{plan}",
                case.name
            );
        }
    }
}

/// The Postgres load's tickets (times as microseconds), with a recursive CTE.
async fn load_sqlite(store: &SqliteStore) {
    let now = NOW.unix_timestamp() * 1_000_000;
    let minute = Duration::minutes(1).whole_microseconds() as i64;
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2), \
         s AS (SELECT i, '220102001001' || printf('%03d', i % 50 + 1) AS grid, \
           CASE WHEN i % 20 < 2 THEN 'assigned' WHEN i % 20 = 2 THEN 'accepted' \
             WHEN i % 20 = 3 THEN 'resolved' ELSE 'closed' END AS state FROM n) \
         INSERT INTO tickets (subdistrict_code, id, grid_code, state, level, \
           assignee_area_code, assignee_person_id, category_code, description, lat, lng, crs, \
           original_lat, original_lng, original_crs, address, building_code, unit_code, \
           media_urls, contact_phone, reporter_id, urgent, accept_due_at, resolve_due_at, \
           created_at, updated_at, duplicate_of, pause, rating_stars, rating_not_solved, \
           rating_comment, version, supervision, supervision_count) \
         SELECT ?1, printf('%08x-0000-4000-8000-000000000000', i), grid, state, 'grid', \
           CASE WHEN i % 5 = 0 THEN ?5 ELSE grid END, 'p' || (i % 50), '0101', '', 43.8, 125.3, 'wgs84', 43.8, 125.3, 'wgs84', '', NULL, \
           NULL, '[]', NULL, 'r' || i, 0, \
           CASE WHEN state = 'assigned' \
             THEN ?3 + (CASE WHEN i % 400 = 0 THEN -1 ELSE 1 END) * i * ?4 END, \
           CASE WHEN state IN ('assigned', 'accepted') THEN ?3 + 4320 * ?4 END, \
           ?3 - (?2 - i) * 1000000, ?3, NULL, \
           CASE WHEN state IN ('assigned', 'accepted') AND i % 100 = 7 THEN 'requested' \
             ELSE 'none' END, \
           CASE WHEN i % 100 = 11 THEN 1 END, CASE WHEN i % 100 = 11 THEN 1 END, NULL, 2, \
           CASE WHEN state IN ('assigned', 'accepted') AND i % 100 = 3 THEN '{}' END, 0 \
         FROM s",
    )
    .bind(SUB)
    .bind(TICKETS)
    .bind(now)
    .bind(minute)
    .bind(GRID)
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
}
