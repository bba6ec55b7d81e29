//! The reads of a dashboard and a chief's desk on a loaded store (issues 31 and 22): each
//! read over gRPC against the same read written as a plain SQL query, in one run.
//!
//! ```text
//! cargo build --release -p wuzhang -p wuzhang-bench
//! target/release/read-load --pg-url postgres://postgres@127.0.0.1:5432/wuzhang_bench \
//!     [--tickets 1000000] [--big-share 0.1] [--open-share 0.04] [--days 90] \
//!     [--district 220102] [--grids 10000] [--chunk 1000000] [--samples 200] \
//!     [--watch-back 1000000] [--schema NAME] [--keep] [--sqlite] [--sqlite-dir DIR]
//!     [--wuzhang PATH]
//! ```
//!
//! **The store** is seeded set-wise, not through the API. The tree is the synthetic one of
//! a whole district (`--district`, as `wuzhang generate` makes it, at about `--grids`
//! grids, with its vacancies, deputies and leave), written by the store's own
//! `upsert_areas` and `upsert_roster`; one category (accept within 2 h, resolve within 7
//! days, natural time, starting at the grid chief). Then `--tickets` tickets over the last
//! `--days` days, in creation order, ids made as the server makes them (UUIDv7), each
//! located in a grid with an acting grid chief: `--big-share` of them in the subdistrict
//! with the most such grids (the "big subdistrict"), the rest spread evenly over the
//! others; within a subdistrict 70% uniform over its grids and 30% on a tenth of them (busy
//! grids). Each ticket's history is the one the real paths write: SUBMITTED and ASSIGNED
//! (to the grid chief), 3% ESCALATED by hand to the lane chief, ACCEPTED (5% late),
//! RESOLVED (3% after the resolve deadline), 2% REOPENED by the command center then
//! ACCEPTED and RESOLVED again, VERIFIED by the command center, 5% RATED by the reporter.
//! Every event carries the deadlines the ticket had after its write (migration 0014) and
//! the rating on RATED. A ticket is open if its history would end after now, or, among
//! those of the last 7 days, with a probability set so that about `--open-share` of all
//! tickets are open; an open ticket's history stops at now (ASSIGNED[, ESCALATED][,
//! ACCEPTED]) and it has its timer set (warning, accept, resolve; resolve and warning once
//! accepted) and its inbox entry in `ticket_assignees` (due_at, created_at: migration
//! 0013). Tickets are written by `INSERT … SELECT generate_series` in chunks of `--chunk`
//! with the tables' indexes dropped, then rebuilt, then `VACUUM ANALYZE`. A chunk's events
//! are written in time order (the cursor follows time, as in a live log, to within the
//! overlap of tickets across a chunk's end).
//!
//! **The fold** (`wuzhang evaluation rebuild`) is run and timed before the server starts,
//! so every rollup is in place; the server runs with no timer worker
//! (`WUZHANG_TIMER_WORKERS=0`), so the store stays as seeded while it is read (overdue
//! tickets stay overdue).
//!
//! **The reads**, each sequential on one connection, warmed up first, then timed up to
//! `--samples` times (fewer when one side is slow: at most ~20 s a side), gRPC (release
//! `wuzhang serve`) beside the plain SQL (sqlx, prepared, one pool): see `plain_*` below
//! for what each plain query computes. `--schema NAME` seeds into (or reuses, if it has
//! tickets) that schema and keeps it; otherwise a scratch schema is dropped at the end
//! unless `--keep`. `--sqlite-dir DIR` (implies `--sqlite`) keeps the embedded store in
//! `DIR` and, when `DIR/wuzhang.db` exists, reads it as it is (no copy; no fold if it is
//! folded to its head), so its reads can be timed again on a quiet machine.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration as StdDuration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;
use sqlx::{AssertSqlSafe, Connection, PgPool, Row, SqlitePool};
use time::{Duration, OffsetDateTime, UtcOffset};
use wuzhang_bench::server::{DataDir, Server, authed};
use wuzhang_bench::stats::{Summary, summarise};
use wuzhang_domain::area::{AreaCode, AreaLevel};
use wuzhang_domain::category::{Category, CategoryCode, CategoryKind, DeadlineKind};
use wuzhang_domain::chief::{ChiefLevel, PersonId};
use wuzhang_domain::clock::{Clock, SystemClock};
use wuzhang_proto::v1::escalation_service_client::EscalationServiceClient;
use wuzhang_proto::v1::supervision_service_client::SupervisionServiceClient;
use wuzhang_proto::v1::{
    EvaluationScope, GetEvaluationRequest, GetOverviewRequest, GetTicketRequest, ListInboxRequest,
    ListTicketsRequest, WatchEventsRequest,
};
use wuzhang_store::{PostgresStore, Store};

struct Args {
    pg_url: String,
    tickets: i64,
    big_share: f64,
    open_share: f64,
    days: i64,
    district: String,
    grids: usize,
    chunk: i64,
    samples: usize,
    watch_back: i64,
    schema: Option<String>,
    keep: bool,
    sqlite: bool,
    /// `--sqlite-dir`: the embedded store's directory, kept; reused when it holds one.
    sqlite_dir: Option<PathBuf>,
    ledger_index: bool,
    wuzhang: Option<PathBuf>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        pg_url: "postgres://postgres@127.0.0.1:5432/wuzhang_bench".into(),
        tickets: 1_000_000,
        big_share: 0.1,
        open_share: 0.04,
        days: 90,
        district: "220102".into(),
        grids: 10_000,
        chunk: 1_000_000,
        samples: 200,
        watch_back: 1_000_000,
        schema: None,
        keep: false,
        sqlite: false,
        sqlite_dir: None,
        ledger_index: false,
        wuzhang: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut v = || args.next().context("value");
        match arg.as_str() {
            "--pg-url" => a.pg_url = v()?,
            "--tickets" => a.tickets = v()?.parse()?,
            "--big-share" => a.big_share = v()?.parse()?,
            "--open-share" => a.open_share = v()?.parse()?,
            "--days" => a.days = v()?.parse()?,
            "--district" => a.district = v()?,
            "--grids" => a.grids = v()?.parse()?,
            "--chunk" => a.chunk = v()?.parse()?,
            "--samples" => a.samples = v()?.parse()?,
            "--watch-back" => a.watch_back = v()?.parse()?,
            "--schema" => a.schema = Some(v()?),
            "--keep" => a.keep = true,
            "--sqlite" => a.sqlite = true,
            "--sqlite-dir" => {
                a.sqlite = true;
                a.sqlite_dir = Some(v()?.into());
            }
            "--ledger-index" => a.ledger_index = true,
            "--wuzhang" => a.wuzhang = Some(v()?.into()),
            other => bail!("unknown argument {other}"),
        }
    }
    anyhow::ensure!(
        a.tickets > 0 && a.chunk > 0 && a.days > 0,
        "sizes must be > 0"
    );
    anyhow::ensure!(
        (0.0..=1.0).contains(&a.big_share) && (0.0..=1.0).contains(&a.open_share),
        "shares are within [0, 1]"
    );
    Ok(a)
}

/// The `wuzhang` binary next to this one (the release build), unless `--wuzhang`.
fn wuzhang_bin(args: &Args) -> anyhow::Result<PathBuf> {
    if let Some(p) = &args.wuzhang {
        return Ok(p.clone());
    }
    let me = std::env::current_exe()?;
    let bin = me.with_file_name("wuzhang");
    anyhow::ensure!(bin.exists(), "{} not built", bin.display());
    Ok(bin)
}

// ------------------------------------------------------------------------------ the tree

/// A grid tickets are reported in: its lane, the acting grid and lane chiefs, a point.
struct SeedGrid {
    sub: String,
    grid: String,
    lane: String,
    grid_person: String,
    lane_person: Option<String>,
    lat: f64,
    lng: f64,
}

/// The district's tree and roster, stored; the grids with an acting chief, and the
/// command center's person per subdistrict.
async fn seed_tree(
    store: &dyn Store,
    args: &Args,
    now: OffsetDateTime,
) -> anyhow::Result<(Vec<SeedGrid>, HashMap<String, String>)> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/changchun");
    let tree = wuzhang_synth::generate_from_files(
        data.join("districts.geojson"),
        data.join("divisions.csv"),
        &wuzhang_synth::Options {
            districts: Some(vec![args.district.clone()]),
            target_grids: Some(args.grids),
            buildings_per_grid: 0,
            ..Default::default()
        },
        now,
    )?;
    store.upsert_areas(&tree.areas).await?;
    store.upsert_roster(&tree.persons, &tree.posts).await?;
    store
        .upsert_category(&Category {
            code: CategoryCode::new("R01")?,
            name: "路灯不亮".into(),
            parent_code: None,
            kind: CategoryKind::Event,
            start_level: ChiefLevel::Grid,
            accept_within: Duration::hours(2),
            resolve_within: Duration::days(7),
            deadline_kind: DeadlineKind::Natural,
            urgent: false,
            calendar_code: "cn".into(),
            duplicate_radius_m: 0.0,
            duplicate_window: Duration::ZERO,
            active: true,
            reopen_on_not_solved: false,
            organization_type: None,
        })
        .await?;
    let area: HashMap<&AreaCode, &wuzhang_domain::area::Area> =
        tree.areas.iter().map(|r| (&r.area.code, &r.area)).collect();
    let acting: HashMap<&AreaCode, &PersonId> = tree
        .posts
        .iter()
        .filter_map(|p| Some((&p.area_code, p.acting(now)?)))
        .collect();
    let mut grids = Vec::new();
    let mut cc = HashMap::new();
    for a in tree.areas.iter().map(|r| &r.area) {
        if a.level == AreaLevel::Subdistrict {
            let person = acting
                .get(&a.code)
                .map_or_else(|| format!("cc-{}", a.code), |p| p.to_string());
            cc.insert(a.code.to_string(), person);
        }
        if a.level != AreaLevel::Grid {
            continue;
        }
        let Some(person) = acting.get(&a.code) else {
            continue;
        };
        // Grid → lane → street → subdistrict.
        let lane = a.parent_code.as_ref().context("grid without a lane")?;
        let mut up = lane;
        let sub = loop {
            let p = area.get(up).context("parent not in the tree")?;
            if p.level == AreaLevel::Subdistrict {
                break up;
            }
            up = p
                .parent_code
                .as_ref()
                .context("no subdistrict above a grid")?;
        };
        let bbox = a.bbox.context("grid without an envelope")?;
        grids.push(SeedGrid {
            sub: sub.to_string(),
            grid: a.code.to_string(),
            lane: lane.to_string(),
            grid_person: person.to_string(),
            lane_person: acting.get(lane).map(|p| p.to_string()),
            lat: (bbox.min_lat + bbox.max_lat) / 2.0,
            lng: (bbox.min_lng + bbox.max_lng) / 2.0,
        });
    }
    println!(
        "tree: district {}, {} areas, {} posts, {} grids with an acting chief in {} subdistricts",
        args.district,
        tree.areas.len(),
        tree.posts.len(),
        grids.len(),
        cc.len()
    );
    Ok((grids, cc))
}

// --------------------------------------------------------------------------- Postgres seed

/// What was seeded.
struct Seeded {
    big_sub: String,
    tickets: i64,
    events: i64,
    open: i64,
    big_tickets: i64,
    big_open: i64,
    big_events: i64,
}

/// Drops the indexes and key constraints of `table`, returning the statements that make
/// them again.
async fn drop_indexes(
    conn: &mut sqlx::PgConnection,
    schema: &str,
    table: &str,
) -> anyhow::Result<Vec<String>> {
    let cons: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.conname::text, pg_get_constraintdef(c.oid) FROM pg_constraint c \
         JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace \
         WHERE n.nspname = $1 AND r.relname = $2 AND c.contype IN ('p', 'u')",
    )
    .bind(schema)
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    let idx: Vec<(String, String)> = sqlx::query_as(
        "SELECT indexname::text, indexdef FROM pg_indexes \
         WHERE schemaname = $1 AND tablename = $2",
    )
    .bind(schema)
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    let mut again = Vec::new();
    for (name, def) in &cons {
        sqlx::query(AssertSqlSafe(format!(
            "ALTER TABLE {schema}.{table} DROP CONSTRAINT {name}"
        )))
        .execute(&mut *conn)
        .await?;
        again.push(format!(
            "ALTER TABLE {schema}.{table} ADD CONSTRAINT {name} {def}"
        ));
    }
    for (name, def) in idx.iter().filter(|(n, _)| !cons.iter().any(|c| &c.0 == n)) {
        sqlx::query(AssertSqlSafe(format!("DROP INDEX {schema}.{name}")))
            .execute(&mut *conn)
            .await?;
        again.push(def.clone());
    }
    Ok(again)
}

/// The per-ticket plan of a chunk, into the temporary table `seed_t`: where, when, and
/// what happened to it. Parameters: $1 first creation time, $2 seconds per ticket, $3 big
/// share, $4 other subdistricts, $5..$6 the chunk, $7 now, $8 probability that a ticket of
/// the last 7 days is open.
const PLAN_SQL: &str = "
CREATE TEMP TABLE seed_t AS
WITH a AS (
  SELECT g,
    $1::timestamptz + make_interval(secs => (g - 1 + seed_u(g, 0)) * $2::float8) AS created,
    CASE WHEN $4::int = 0 OR seed_u(g, 1) < $3::float8 THEN 0
         ELSE 1 + least(floor(seed_u(g, 2) * $4::int)::int, $4::int - 1) END AS sub_i,
    seed_u(g, 3) AS u_grid, seed_u(g, 4) AS u_hot, seed_u(g, 5) AS u_open,
    seed_u(g, 6) AS u_esc, seed_u(g, 7) AS u_reo, seed_u(g, 8) AS u_rate,
    seed_u(g, 9) AS u_acc, seed_u(g, 10) AS u_res, seed_u(g, 11) AS u_late,
    seed_u(g, 12) AS u_stars
  FROM generate_series($5::int8, $6::int8) AS g
), b AS (
  SELECT a.*, s.sub, s.cc_person,
    CASE WHEN a.u_hot < 0.3 THEN least(floor(a.u_grid * s.hot)::int, s.hot - 1)
         ELSE least(floor(a.u_grid * s.ngrids)::int, s.ngrids - 1) END AS k
  FROM a JOIN seed_subs s ON s.i = a.sub_i
), c AS (
  SELECT b.*, gr.grid, gr.lane, gr.grid_person, gr.lane_person, gr.lat, gr.lng,
    (b.u_esc < 0.03 AND gr.lane_person IS NOT NULL) AS esc,
    b.u_reo < 0.02 AS reo, b.u_rate < 0.05 AS rated,
    make_interval(secs => CASE WHEN b.u_late < 0.05 THEN 7200 + b.u_acc * 7200
                               ELSE 300 + b.u_acc * 6000 END) AS d_acc,
    make_interval(secs => CASE WHEN b.u_late >= 0.05 AND b.u_late < 0.08
                               THEN 604800 + b.u_res * 172800
                               ELSE 3600 + b.u_res * 432000 END) AS d_res
  FROM b JOIN seed_grids gr ON gr.sub_i = b.sub_i AND gr.k = b.k
), d AS (
  SELECT c.*, c.created + CASE WHEN c.esc THEN interval '20 minutes' ELSE interval '0' END AS rc
  FROM c
), e AS (
  SELECT d.*, d.rc + d.d_acc AS acc_at, d.rc + d.d_acc + d.d_res AS res_at FROM d
), f AS (
  SELECT e.*,
    e.res_at + interval '1 day' AS reo_at,
    e.res_at + interval '1 day 30 minutes' AS acc2_at,
    e.res_at + interval '2 days 30 minutes' AS res2_at,
    e.res_at + CASE WHEN e.reo THEN interval '2 days 2 hours 30 minutes'
                    ELSE interval '2 hours' END AS ver_at
  FROM e
), h AS (
  SELECT f.*, f.ver_at + interval '1 hour' AS rate_at,
    f.ver_at + CASE WHEN f.rated THEN interval '1 hour' ELSE interval '0' END AS end_at
  FROM f
), i AS (
  SELECT h.*,
    NOT ((h.created >= $7::timestamptz - interval '7 days' AND h.u_open < $8::float8)
         OR h.end_at > $7::timestamptz) AS closed
  FROM h
)
SELECT i.g, i.sub, i.grid, i.lat, i.lng, i.cc_person, i.grid_person, i.lane_person,
  (lpad(to_hex((extract(epoch FROM i.created) * 1000)::int8), 12, '0') || '7'
     || substr(md5(i.g::text), 1, 3) || '8' || substr(md5(i.g::text), 4, 15))::uuid AS id,
  'r' || (i.g % 250000) AS reporter,
  i.created, i.rc, i.esc, i.esc::int AS e, i.closed,
  (i.closed AND i.reo) AS reo, (i.closed AND i.reo)::int AS r, (i.closed AND i.rated) AS rated,
  (i.closed OR i.acc_at <= $7::timestamptz) AS accepted,
  i.acc_at, i.res_at, i.reo_at, i.acc2_at, i.res2_at, i.ver_at, i.rate_at,
  CASE WHEN i.esc THEN 'lane' ELSE 'grid' END AS hl,
  CASE WHEN i.esc THEN i.lane ELSE i.grid END AS harea,
  CASE WHEN i.esc THEN i.lane_person ELSE i.grid_person END AS holder,
  (1 + floor(i.u_stars * 5))::int2 AS stars,
  (i.u_stars < 0.4 AND i.u_late > 0.5) AS ns,
  CASE WHEN i.closed THEN i.end_at
       WHEN i.acc_at <= $7::timestamptz THEN i.acc_at ELSE i.rc END AS last_at,
  2 + i.esc::int + (i.closed OR i.acc_at <= $7::timestamptz)::int
    + CASE WHEN i.closed THEN 2 + 3 * i.reo::int + i.rated::int ELSE 0 END AS n_events
FROM i";

const TICKETS_SQL: &str = "
INSERT INTO tickets (subdistrict_code, id, grid_code, state, level, assignee_area_code,
  assignee_person_id, category_code, description, lat, lng, crs, original_lat, original_lng,
  original_crs, address, building_code, unit_code, media_urls, contact_phone, reporter_id,
  urgent, accept_due_at, resolve_due_at, created_at, updated_at, duplicate_of, pause,
  rating_stars, rating_not_solved, rating_comment, version, supervision, supervision_count)
SELECT sub, id, grid,
  CASE WHEN closed THEN 'closed' WHEN accepted THEN 'accepted' ELSE 'assigned' END,
  hl, harea, holder, 'R01', '路灯不亮，晚上很黑', lat, lng, 'wgs84', lat, lng, 'wgs84', '',
  NULL, NULL, '[]', NULL, reporter, false,
  CASE WHEN NOT closed AND NOT accepted THEN rc + interval '2 hours' END,
  CASE WHEN NOT closed THEN rc + interval '7 days' END,
  created, last_at, NULL, 'none',
  CASE WHEN rated THEN stars END, CASE WHEN rated THEN ns END, CASE WHEN rated THEN '' END,
  n_events, NULL, 0
FROM seed_t";

const ASSIGNEES_SQL: &str = "
INSERT INTO ticket_assignees (subdistrict_code, ticket_id, assignee_area_code,
  assignee_person_id, due_at, created_at)
SELECT sub, id, harea, holder,
  CASE WHEN closed THEN NULL
       WHEN accepted THEN rc + interval '7 days' ELSE rc + interval '2 hours' END,
  created
FROM seed_t";

/// Open tickets' timers as the clocks set them: warning at 80% of the accept time, accept,
/// resolve; once accepted the resolve deadline and its warning at 80% of the time left.
const TIMERS_SQL: &str = "
INSERT INTO timer_sets (subdistrict_code, ticket_id, due_at, kinds, dues, levels)
SELECT sub, id, dues[1], kinds, dues, levels FROM (
  SELECT sub, id,
    CASE WHEN accepted THEN ARRAY['warning', 'resolve'] ELSE ARRAY['warning', 'accept', 'resolve'] END AS kinds,
    CASE WHEN accepted
      THEN ARRAY[acc_at + (rc + interval '7 days' - acc_at) * 0.8, rc + interval '7 days']
      ELSE ARRAY[rc + interval '96 minutes', rc + interval '2 hours', rc + interval '7 days'] END AS dues,
    CASE WHEN accepted THEN ARRAY[hl, hl] ELSE ARRAY[hl, hl, hl] END AS levels
  FROM seed_t WHERE NOT closed) x";

/// Every event of the chunk, in time order (the cursor follows time).
const EVENTS_SQL: &str = "
INSERT INTO ticket_events (subdistrict_code, ticket_id, seq, kind, actor, from_state, to_state,
  level, assignee_person_id, note, at, accept_due_at, resolve_due_at, rating_stars,
  rating_not_solved)
SELECT t.sub, t.id, v.seq, v.kind, v.actor, v.from_state, v.to_state, v.level, v.person, '',
  v.at, v.acc_due, v.res_due, v.stars, v.ns
FROM seed_t t CROSS JOIN LATERAL (VALUES
  (true, 1, 'submitted', t.reporter, NULL::text, 'submitted', NULL::text, NULL::text,
     t.created, t.created + interval '2 hours', t.created + interval '7 days', NULL::int2, NULL::bool),
  (true, 2, 'assigned', 'system:intake', 'submitted', 'assigned', 'grid', t.grid_person,
     t.created, t.created + interval '2 hours', t.created + interval '7 days', NULL, NULL),
  (t.esc, 3, 'escalated', t.grid_person, 'assigned', 'assigned', 'lane', t.lane_person,
     t.rc, t.rc + interval '2 hours', t.rc + interval '7 days', NULL, NULL),
  (t.accepted, 3 + t.e, 'accepted', t.holder, 'assigned', 'accepted', t.hl, t.holder,
     t.acc_at, NULL, t.rc + interval '7 days', NULL, NULL),
  (t.closed, 4 + t.e, 'resolved', t.holder, 'accepted', 'resolved', t.hl, t.holder,
     t.res_at, NULL, NULL, NULL, NULL),
  (t.reo, 5 + t.e, 'reopened', t.cc_person, 'resolved', 'assigned', t.hl, t.holder,
     t.reo_at, t.reo_at + interval '2 hours', t.reo_at + interval '7 days', NULL, NULL),
  (t.reo, 6 + t.e, 'accepted', t.holder, 'assigned', 'accepted', t.hl, t.holder,
     t.acc2_at, NULL, t.reo_at + interval '7 days', NULL, NULL),
  (t.reo, 7 + t.e, 'resolved', t.holder, 'accepted', 'resolved', t.hl, t.holder,
     t.res2_at, NULL, NULL, NULL, NULL),
  (t.closed, 5 + t.e + 3 * t.r, 'verified', t.cc_person, 'resolved', 'closed', t.hl, t.holder,
     t.ver_at, NULL, NULL, NULL, NULL),
  (t.rated, 6 + t.e + 3 * t.r, 'rated', t.reporter, 'closed', 'closed', t.hl, t.holder,
     t.rate_at, NULL, NULL, t.stars, t.ns)
) AS v(present, seq, kind, actor, from_state, to_state, level, person, at, acc_due, res_due,
       stars, ns)
WHERE v.present
ORDER BY v.at, t.id, v.seq";

async fn seed_pg(url: &str, schema: &str, args: &Args, now: OffsetDateTime) -> anyhow::Result<()> {
    let started = Instant::now();
    let options: sqlx::postgres::PgConnectOptions = url.parse()?;
    let store = PostgresStore::connect_with(options.clone(), 4).await?;
    store.migrate().await?;
    let (grids, cc) = seed_tree(&store, args, now).await?;
    println!("tree stored in {:.1} s", started.elapsed().as_secs_f64());

    // The big subdistrict: the one with the most grids with a chief; then the others.
    let mut by_sub: std::collections::BTreeMap<&str, Vec<&SeedGrid>> = Default::default();
    for g in &grids {
        by_sub.entry(g.sub.as_str()).or_default().push(g);
    }
    let mut subs: Vec<(&str, Vec<&SeedGrid>)> = by_sub.into_iter().collect();
    subs.sort_by_key(|(s, g)| (std::cmp::Reverse(g.len()), *s));

    let mut conn = sqlx::PgConnection::connect_with(&options).await?;
    sqlx::raw_sql(
        "SET synchronous_commit = off; SET work_mem = '1GB'; \
         SET maintenance_work_mem = '2GB'; SET max_parallel_maintenance_workers = 2;
         CREATE OR REPLACE FUNCTION seed_u(g int8, s int) RETURNS float8 LANGUAGE sql \
           IMMUTABLE PARALLEL SAFE AS \
           $$ SELECT (hashint8extended(g, s) & 2147483647)::float8 / 2147483648.0 $$;
         CREATE UNLOGGED TABLE seed_subs (i int PRIMARY KEY, sub text, ngrids int, hot int, \
           cc_person text);
         CREATE UNLOGGED TABLE seed_grids (sub_i int, k int, grid text, lane text, \
           grid_person text, lane_person text, lat float8, lng float8, PRIMARY KEY (sub_i, k));",
    )
    .execute(&mut conn)
    .await?;
    for (i, (sub, gs)) in subs.iter().enumerate() {
        sqlx::query("INSERT INTO seed_subs VALUES ($1, $2, $3, $4, $5)")
            .bind(i as i32)
            .bind(*sub)
            .bind(gs.len() as i32)
            .bind((gs.len() as i32 / 10).max(1))
            .bind(cc.get(*sub).cloned())
            .execute(&mut conn)
            .await?;
        sqlx::query(
            "INSERT INTO seed_grids SELECT $1, k - 1, grid, lane, gp, lp, lat, lng \
             FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::float8[], \
               $7::float8[]) WITH ORDINALITY AS x(grid, lane, gp, lp, lat, lng, k)",
        )
        .bind(i as i32)
        .bind(gs.iter().map(|g| g.grid.clone()).collect::<Vec<_>>())
        .bind(gs.iter().map(|g| g.lane.clone()).collect::<Vec<_>>())
        .bind(gs.iter().map(|g| g.grid_person.clone()).collect::<Vec<_>>())
        .bind(gs.iter().map(|g| g.lane_person.clone()).collect::<Vec<_>>())
        .bind(gs.iter().map(|g| g.lat).collect::<Vec<_>>())
        .bind(gs.iter().map(|g| g.lng).collect::<Vec<_>>())
        .execute(&mut conn)
        .await?;
    }
    println!(
        "big subdistrict {} ({} grids with a chief); {} others",
        subs[0].0,
        subs[0].1.len(),
        subs.len() - 1
    );

    // The tree is a function of the options and `now`: a SQLite copy makes it again.
    sqlx::query("CREATE TABLE read_load_meta AS SELECT $1::timestamptz AS now")
        .bind(now)
        .execute(&mut conn)
        .await?;

    let mut rebuild = Vec::new();
    for t in ["tickets", "ticket_events", "ticket_assignees", "timer_sets"] {
        rebuild.extend(drop_indexes(&mut conn, schema, t).await?);
    }

    let first = now - Duration::days(args.days);
    let per_ticket = (args.days * 86_400) as f64 / args.tickets as f64;
    let p_open = (args.open_share * args.days as f64 / 7.0).min(1.0);
    let seeding = Instant::now();
    let mut lo = 1i64;
    while lo <= args.tickets {
        let hi = (lo + args.chunk - 1).min(args.tickets);
        let t = Instant::now();
        sqlx::query("DROP TABLE IF EXISTS seed_t")
            .execute(&mut conn)
            .await?;
        sqlx::query(PLAN_SQL)
            .bind(first)
            .bind(per_ticket)
            .bind(args.big_share)
            .bind((subs.len() - 1) as i32)
            .bind(lo)
            .bind(hi)
            .bind(now)
            .bind(p_open)
            .execute(&mut conn)
            .await?;
        let plan_s = t.elapsed().as_secs_f64();
        for sql in [TICKETS_SQL, ASSIGNEES_SQL, TIMERS_SQL] {
            sqlx::query(sql).execute(&mut conn).await?;
        }
        let tickets_s = t.elapsed().as_secs_f64() - plan_s;
        let ev = sqlx::query(EVENTS_SQL).execute(&mut conn).await?;
        println!(
            "  tickets {lo}..{hi}: plan {plan_s:.1} s, tickets+assignees+timers {tickets_s:.1} s, \
             {} events {:.1} s ({:.0} tickets/s so far)",
            ev.rows_affected(),
            t.elapsed().as_secs_f64() - plan_s - tickets_s,
            hi as f64 / seeding.elapsed().as_secs_f64()
        );
        lo = hi + 1;
    }
    let written = seeding.elapsed().as_secs_f64();
    let t = Instant::now();
    for sql in &rebuild {
        sqlx::query(AssertSqlSafe(sql.clone()))
            .execute(&mut conn)
            .await?;
    }
    let indexed = t.elapsed().as_secs_f64();
    let t = Instant::now();
    // One statement each: VACUUM cannot run in the transaction of a multi-statement call.
    for sql in [
        "DROP TABLE seed_t",
        "DROP TABLE seed_grids",
        "DROP TABLE seed_subs",
        "DROP FUNCTION seed_u(int8, int)",
        "VACUUM ANALYZE tickets",
        "VACUUM ANALYZE ticket_events",
        "VACUUM ANALYZE ticket_assignees",
        "VACUUM ANALYZE timer_sets",
    ] {
        sqlx::raw_sql(sql).execute(&mut conn).await?;
    }
    println!(
        "seeded {} tickets: rows written in {written:.1} s ({:.0} tickets/s), indexes and keys \
         rebuilt in {indexed:.1} s, VACUUM ANALYZE {:.1} s; total {:.1} s",
        args.tickets,
        args.tickets as f64 / written,
        t.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

// ------------------------------------------------------------------- the plain queries

/// The store read directly, for the plain SQL side of each read.
enum Db {
    Pg(PgPool),
    Lite(SqlitePool),
}

const OPEN: &str = "('submitted', 'assigned', 'accepted')";

/// A query written for Postgres with SQLite's numbered parameters (`?1`, not `$1`, which
/// SQLite numbers by first appearance).
fn lite(sql: &str) -> String {
    sql.replace('$', "?")
}

fn micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000) as i64
}

impl Db {
    /// Counts of the store and of the big subdistrict (the one with the most tickets).
    async fn describe(&self) -> anyhow::Result<Seeded> {
        let big =
            "SELECT subdistrict_code, count(*) FROM tickets GROUP BY 1 ORDER BY 2 DESC LIMIT 1";
        let counts = format!(
            "SELECT (SELECT count(*) FROM tickets), (SELECT count(*) FROM ticket_events), \
               (SELECT count(*) FROM tickets WHERE state IN {OPEN}), \
               (SELECT count(*) FROM tickets WHERE subdistrict_code = $1 AND state IN {OPEN}), \
               (SELECT count(*) FROM ticket_events WHERE subdistrict_code = $1)"
        );
        let ((big_sub, big_tickets), (tickets, events, open, big_open, big_events)) = match self {
            Db::Pg(p) => {
                let b: (String, i64) = sqlx::query_as(AssertSqlSafe(
                    big.replace("SELECT subdistrict_code,", "SELECT subdistrict_code::text,"),
                ))
                .fetch_one(p)
                .await?;
                let c = sqlx::query_as(AssertSqlSafe(counts))
                    .bind(&b.0)
                    .fetch_one(p)
                    .await?;
                (b, c)
            }
            Db::Lite(p) => {
                let b: (String, i64) = sqlx::query_as(big).fetch_one(p).await?;
                let c = sqlx::query_as(AssertSqlSafe(lite(&counts)))
                    .bind(&b.0)
                    .fetch_one(p)
                    .await?;
                (b, c)
            }
        };
        Ok(Seeded {
            big_sub,
            big_tickets,
            tickets,
            events,
            open,
            big_open,
            big_events,
        })
    }

    /// Tickets per state, and open and overdue tickets per grid (overdue: an accept or
    /// resolve deadline before now, as the store defines it).
    async fn overview(&self, sub: &str) -> anyhow::Result<()> {
        let states =
            "SELECT state, count(*) FROM tickets WHERE subdistrict_code = $1 GROUP BY state";
        let grids = format!(
            "SELECT grid_code, count(*), \
               count(*) FILTER (WHERE accept_due_at < $2 OR resolve_due_at < $2) \
             FROM tickets WHERE subdistrict_code = $1 AND state IN {OPEN} GROUP BY grid_code"
        );
        let now = SystemClock.now();
        match self {
            Db::Pg(p) => {
                sqlx::query(states).bind(sub).fetch_all(p).await?;
                sqlx::query(AssertSqlSafe(grids))
                    .bind(sub)
                    .bind(now)
                    .fetch_all(p)
                    .await?;
            }
            Db::Lite(p) => {
                sqlx::query(states).bind(sub).fetch_all(p).await?;
                sqlx::query(AssertSqlSafe(lite(&grids)))
                    .bind(sub)
                    .bind(micros(now))
                    .fetch_all(p)
                    .await?;
            }
        }
        Ok(())
    }

    /// Receipts (ASSIGNED, ESCALATED, AUTO_ESCALATED, REASSIGNED, REOPENED events),
    /// acceptances and resolutions per grid of the ticket (`by_grid`) or per person the
    /// event left the ticket with, over the events of the subdistrict whose time is in
    /// [start, end). Rows returned.
    async fn evaluation(
        &self,
        sub: &str,
        by_grid: bool,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> anyhow::Result<usize> {
        let key = if by_grid {
            "t.grid_code"
        } else {
            "e.assignee_person_id"
        };
        let sql = format!(
            "SELECT {key}, \
               count(*) FILTER (WHERE e.kind IN ('assigned', 'escalated', 'auto_escalated', \
                 'reassigned', 'reopened')) AS received, \
               count(*) FILTER (WHERE e.kind = 'accepted') AS accepted, \
               count(*) FILTER (WHERE e.kind = 'resolved') AS resolved \
             FROM ticket_events e JOIN tickets t \
               ON t.subdistrict_code = e.subdistrict_code AND t.id = e.ticket_id \
             WHERE e.subdistrict_code = $1 AND e.at >= $2 AND e.at < $3 GROUP BY {key}"
        );
        Ok(match self {
            Db::Pg(p) => sqlx::query(AssertSqlSafe(sql))
                .bind(sub)
                .bind(start)
                .bind(end)
                .fetch_all(p)
                .await?
                .len(),
            Db::Lite(p) => sqlx::query(AssertSqlSafe(lite(&sql)))
                .bind(sub)
                .bind(micros(start))
                .bind(micros(end))
                .fetch_all(p)
                .await?
                .len(),
        })
    }

    /// A page of 50 of the subdistrict's tickets, newest first, after (created_at, id).
    async fn list(
        &self,
        sub: &str,
        after: Option<(OffsetDateTime, uuid::Uuid)>,
        overdue: bool,
    ) -> anyhow::Result<()> {
        let mut sql = "SELECT * FROM tickets WHERE subdistrict_code = $1".to_owned();
        if overdue {
            sql.push_str(&format!(
                " AND state IN {OPEN} AND (accept_due_at < $2 OR resolve_due_at < $2)"
            ));
        } else if after.is_some() {
            sql.push_str(" AND (created_at, id) < ($2, $3)");
        }
        sql.push_str(" ORDER BY created_at DESC, id DESC LIMIT 50");
        let now = SystemClock.now();
        match self {
            Db::Pg(p) => {
                let mut q = sqlx::query(AssertSqlSafe(sql)).bind(sub);
                if overdue {
                    q = q.bind(now);
                } else if let Some((at, id)) = after {
                    q = q.bind(at).bind(id);
                }
                q.fetch_all(p).await?;
            }
            Db::Lite(p) => {
                let mut q = sqlx::query(AssertSqlSafe(lite(&sql))).bind(sub);
                if overdue {
                    q = q.bind(micros(now));
                } else if let Some((at, id)) = after {
                    q = q.bind(micros(at)).bind(id.to_string());
                }
                q.fetch_all(p).await?;
            }
        }
        Ok(())
    }

    /// A grid's open tickets, nearest deadline first, then oldest: the first 20.
    async fn inbox(&self, grid: &str) -> anyhow::Result<()> {
        match self {
            Db::Pg(p) => {
                sqlx::query(
                    "SELECT t.* FROM ticket_assignees a JOIN tickets t \
                       ON t.subdistrict_code = a.subdistrict_code AND t.id = a.ticket_id \
                     WHERE a.assignee_area_code = $1 AND a.due_at IS NOT NULL \
                     ORDER BY a.due_at, a.created_at, a.ticket_id LIMIT 20",
                )
                .bind(grid)
                .fetch_all(p)
                .await?;
            }
            Db::Lite(p) => {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT * FROM tickets WHERE assignee_area_code = ?1 AND state IN {OPEN} \
                     ORDER BY COALESCE(accept_due_at, resolve_due_at, 253402300799999999), \
                       created_at, id LIMIT 20"
                )))
                .bind(grid)
                .fetch_all(p)
                .await?;
            }
        }
        Ok(())
    }

    /// A ticket by id, and its events in order.
    async fn ticket(&self, id: uuid::Uuid) -> anyhow::Result<()> {
        let t = "SELECT * FROM tickets WHERE id = $1";
        let e = "SELECT * FROM ticket_events WHERE ticket_id = $1 ORDER BY seq";
        match self {
            Db::Pg(p) => {
                sqlx::query(t).bind(id).fetch_one(p).await?;
                sqlx::query(e).bind(id).fetch_all(p).await?;
            }
            Db::Lite(p) => {
                sqlx::query(t).bind(id.to_string()).fetch_one(p).await?;
                sqlx::query(e).bind(id.to_string()).fetch_all(p).await?;
            }
        }
        Ok(())
    }

    /// The grid of the subdistrict whose open tickets are closest to 50 in number: its
    /// code, the chief they are assigned to, how many.
    async fn inbox_grid(&self, sub: &str) -> anyhow::Result<(String, String, i64)> {
        Ok(match self {
            Db::Pg(p) => {
                sqlx::query_as(
                    "SELECT a.assignee_area_code, min(a.assignee_person_id), count(*) \
                     FROM ticket_assignees a WHERE a.subdistrict_code = $1 AND a.due_at IS NOT NULL \
                       AND a.assignee_area_code IN (SELECT code FROM areas WHERE level = 'grid') \
                     GROUP BY 1 ORDER BY abs(count(*) - 50), 1 LIMIT 1",
                )
                .bind(sub)
                .fetch_one(p)
                .await?
            }
            Db::Lite(p) => {
                sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT assignee_area_code, min(assignee_person_id), count(*) \
                     FROM tickets WHERE subdistrict_code = ?1 AND state IN {OPEN} \
                       AND assignee_area_code IN (SELECT code FROM areas WHERE level = 'grid') \
                     GROUP BY 1 ORDER BY abs(count(*) - 50), 1 LIMIT 1"
                )))
                .bind(sub)
                .fetch_one(p)
                .await?
            }
        })
    }

    /// Up to 1,000 random tickets of the subdistrict.
    async fn sample_ids(&self, sub: &str) -> anyhow::Result<Vec<uuid::Uuid>> {
        Ok(match self {
            Db::Pg(p) => {
                sqlx::query_scalar(
                    "SELECT id FROM tickets TABLESAMPLE SYSTEM (1) \
                     WHERE subdistrict_code = $1 LIMIT 1000",
                )
                .bind(sub)
                .fetch_all(p)
                .await?
            }
            Db::Lite(p) => {
                let ids: Vec<String> = sqlx::query_scalar(
                    "SELECT id FROM tickets WHERE subdistrict_code = ?1 \
                     ORDER BY random() LIMIT 1000",
                )
                .bind(sub)
                .fetch_all(p)
                .await?;
                ids.iter().map(|s| s.parse()).collect::<Result<_, _>>()?
            }
        })
    }

    /// The subdistrict's newest cursor, and the cursor `back` events before it.
    async fn watch_range(&self, sub: &str, back: i64) -> anyhow::Result<(i64, i64)> {
        let sql = "SELECT (SELECT max(cursor) FROM ticket_events WHERE subdistrict_code = $1), \
                     COALESCE((SELECT cursor FROM ticket_events WHERE subdistrict_code = $1 \
                       ORDER BY cursor DESC LIMIT 1 OFFSET $2), 0)";
        Ok(match self {
            Db::Pg(p) => {
                sqlx::query_as(sql)
                    .bind(sub)
                    .bind(back)
                    .fetch_one(p)
                    .await?
            }
            Db::Lite(p) => {
                sqlx::query_as(AssertSqlSafe(lite(sql)))
                    .bind(sub)
                    .bind(back)
                    .fetch_one(p)
                    .await?
            }
        })
    }

    /// The subdistrict's events after `from`, in order, streamed and counted.
    async fn events_after(&self, sub: &str, from: i64) -> anyhow::Result<i64> {
        let sql = "SELECT * FROM ticket_events WHERE subdistrict_code = $1 AND cursor > $2 \
                   ORDER BY cursor";
        let mut n = 0;
        match self {
            Db::Pg(p) => {
                let mut rows = sqlx::query(sql).bind(sub).bind(from).fetch(p);
                while let Some(r) = rows.next().await {
                    r?;
                    n += 1;
                }
            }
            Db::Lite(p) => {
                let sql = lite(sql);
                let mut rows = sqlx::query(AssertSqlSafe(sql))
                    .bind(sub)
                    .bind(from)
                    .fetch(p);
                while let Some(r) = rows.next().await {
                    r?;
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}

// ------------------------------------------------------------------------- measuring

/// Times `f` sequentially: a few calls to warm up, then up to `n`, stopping after ~20 s
/// once at least 5 are in.
async fn measure<F, Fut>(n: usize, mut f: F) -> anyhow::Result<Summary>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    for i in 0..3 {
        f(i).await?;
    }
    let started = Instant::now();
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        f(i + 3).await?;
        samples.push(t.elapsed());
        if samples.len() >= 5 && started.elapsed() > StdDuration::from_secs(20) {
            break;
        }
    }
    Ok(summarise(&mut samples))
}

fn ms(ns: f64) -> String {
    format!("{:.2}", ns / 1e6)
}

fn print_line(read: &str, ours: &Summary, plain: &Summary) {
    println!(
        "| {read} | {} / {} / {} ({}) | {} / {} / {} ({}) | {:.1}× |",
        ms(ours.p50_ns),
        ms(ours.p95_ns),
        ms(ours.p99_ns),
        ours.n,
        ms(plain.p50_ns),
        ms(plain.p95_ns),
        ms(plain.p99_ns),
        plain.n,
        plain.p50_ns / ours.p50_ns,
    );
}

/// Each read of `GetOverview` (services/wuzhang-supervision/src/overview.rs) timed alone
/// through the store, in the process of this tool: which part a snapshot waits on. The
/// server asks them together, so the snapshot costs about the slowest, plus the posts
/// (asked after the tree) and the trip.
async fn overview_parts(store: &dyn Store, sub: &str, n: usize) -> anyhow::Result<()> {
    use wuzhang_domain::event::EventKind;
    use wuzhang_domain::ticket::{Pause, TicketState};
    use wuzhang_store::{TicketGrouping, TicketQuery};
    let code = AreaCode::new(sub)?;
    let now = SystemClock.now();
    let of_sub = || TicketQuery {
        subdistrict_codes: vec![code.clone()],
        ..Default::default()
    };
    let open: Vec<TicketState> = TicketState::ALL
        .into_iter()
        .filter(|s| s.is_open())
        .collect();
    let overdue = TicketQuery {
        overdue_at: Some(now),
        ..of_sub()
    };
    let supervised = TicketQuery {
        states: open.clone(),
        supervised_only: true,
        ..of_sub()
    };
    let reopen = TicketQuery {
        reopen_requested: true,
        ..of_sub()
    };
    let pause = TicketQuery {
        states: open,
        pause: Some(Pause::Requested),
        ..of_sub()
    };
    let today = wuzhang_domain::evaluation::local_day(now);
    let tree = store.subtree(&code, AreaLevel::Grid).await?;
    let codes: Vec<AreaCode> = tree.iter().map(|a| a.code.clone()).collect();
    println!(
        "GetOverview's parts, each alone through the store ({} areas down to the grids):",
        tree.len()
    );
    let n = n.min(50);
    macro_rules! part {
        ($name:expr, $call:expr) => {{
            let s = measure(n, |_| async {
                $call.await.map(drop).map_err(anyhow::Error::from)
            })
            .await?;
            println!(
                "  {:<28} p50 {} p95 {} ms ({})",
                $name,
                ms(s.p50_ns),
                ms(s.p95_ns),
                s.n
            );
        }};
    }
    part!("get_area", store.get_area(&code));
    part!("event_cursor_head", store.event_cursor_head());
    part!("rollup_cursor", store.rollup_cursor());
    part!("state_counts", store.state_counts(&code));
    part!("open_by_grid", store.open_by_grid(&code));
    part!(
        "overdue by grid",
        store.count_tickets_by(&overdue, TicketGrouping::Grid)
    );
    part!(
        "supervised by grid",
        store.count_tickets_by(&supervised, TicketGrouping::Grid)
    );
    part!("reopen requests", store.count_tickets(&reopen));
    part!("pause requests", store.count_tickets(&pause));
    part!(
        "submitted today",
        store.event_day_count(&code, today, &[EventKind::Submitted])
    );
    part!(
        "escalations today",
        store.event_day_count(
            &code,
            today,
            &[EventKind::Escalated, EventKind::AutoEscalated]
        )
    );
    part!("subtree to grids", store.subtree(&code, AreaLevel::Grid));
    part!("emergency_mode", store.emergency_mode(&code));
    part!("posts_for_areas", store.posts_for_areas(&codes));
    Ok(())
}

/// The local month (Asia/Shanghai) before the current one: [start, end).
fn last_month(now: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
    let cst = UtcOffset::from_hms(8, 0, 0).expect("offset");
    let local = now.to_offset(cst).date();
    let this = local.replace_day(1).expect("day 1");
    let prev = (this - Duration::days(1)).replace_day(1).expect("day 1");
    (
        prev.midnight().assume_offset(cst).to_offset(UtcOffset::UTC),
        this.midnight().assume_offset(cst).to_offset(UtcOffset::UTC),
    )
}

#[allow(clippy::too_many_lines)]
async fn run_reads(
    server: &Server,
    bin: &Path,
    db: &Db,
    parts: Option<&dyn Store>,
    sub: &str,
    args: &Args,
) -> anyhow::Result<()> {
    let cc = server.mint_scoped(bin, "command_center", "cc-bench", &[sub])?;
    let channel = server.channel().await?;
    let sup = SupervisionServiceClient::new(channel.clone()).max_decoding_message_size(64 << 20);
    let desk = EscalationServiceClient::new(channel).max_decoding_message_size(64 << 20);
    let n = args.samples;

    // GetOverview.
    let ours = measure(n, |_| {
        let (mut c, cc) = (sup.clone(), cc.clone());
        let r = GetOverviewRequest {
            subdistrict_code: sub.to_owned(),
        };
        async move {
            c.get_overview(authed(&cc, r)).await?;
            Ok(())
        }
    })
    .await?;
    let plain = measure(n, |_| db.overview(sub)).await?;
    print_line("GetOverview", &ours, &plain);
    if let Some(store) = parts {
        overview_parts(store, sub, n).await?;
    }

    // GetEvaluation, last local month, by grid and by chief.
    let (start, end) = last_month(SystemClock.now());
    for (scope, name, by_grid) in [
        (EvaluationScope::Grid, "GRID", true),
        (EvaluationScope::Chief, "CHIEF", false),
    ] {
        let req = || GetEvaluationRequest {
            subdistrict_code: sub.to_owned(),
            period_start: Some(wuzhang_proto::convert::timestamp(start)),
            period_end: Some(wuzhang_proto::convert::timestamp(end)),
            group_by: scope as i32,
            format: 0,
            period: 0,
        };
        let rows = sup
            .clone()
            .get_evaluation(authed(&cc, req()))
            .await?
            .into_inner()
            .rows
            .len();
        let ours = measure(n, |_| {
            let (mut c, cc, r) = (sup.clone(), cc.clone(), req());
            async move {
                c.get_evaluation(authed(&cc, r)).await?;
                Ok(())
            }
        })
        .await?;
        let plain_rows = db.evaluation(sub, by_grid, start, end).await?;
        let plain = measure(n, |_| async move {
            db.evaluation(sub, by_grid, start, end).await?;
            Ok(())
        })
        .await?;
        print_line(
            &format!(
                "GetEvaluation {name}, local month {}-{:02} ({rows} rows; plain {plain_rows})",
                start.to_offset(UtcOffset::from_hms(8, 0, 0)?).year(),
                u8::from(start.to_offset(UtcOffset::from_hms(8, 0, 0)?).month())
            ),
            &ours,
            &plain,
        );
    }

    // ListTickets: first page, walk to page 1,000 (each page timed), page 1,000 again.
    let list = |token: String, overdue: bool| ListTicketsRequest {
        subdistrict_code: sub.to_owned(),
        overdue_only: overdue,
        page_token: token,
        ..Default::default()
    };
    let ours = measure(n, |_| {
        let (mut c, cc, r) = (sup.clone(), cc.clone(), list(String::new(), false));
        async move {
            c.list_tickets(authed(&cc, r)).await?;
            Ok(())
        }
    })
    .await?;
    let plain = measure(n, |_| db.list(sub, None, false)).await?;
    print_line("ListTickets first page (50)", &ours, &plain);

    let mut token = String::new();
    let mut walk = Vec::new();
    let mut last: Option<(OffsetDateTime, uuid::Uuid)> = None;
    let mut pages = 0;
    let mut c = sup.clone();
    while pages < 999 {
        let t = Instant::now();
        let page = c
            .list_tickets(authed(&cc, list(token.clone(), false)))
            .await?
            .into_inner();
        walk.push(t.elapsed());
        pages += 1;
        if let Some(tk) = page.tickets.last() {
            let created = tk.created_at.as_ref().context("created_at")?;
            last = Some((
                wuzhang_proto::convert::from_timestamp("created_at", created)?,
                tk.id.parse()?,
            ));
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let walk = summarise(&mut walk);
    println!(
        "ListTickets walk: pages 1..{pages}, p50 / p95 / p99 / max {} / {} / {} / {} ms",
        ms(walk.p50_ns),
        ms(walk.p95_ns),
        ms(walk.p99_ns),
        ms(walk.max_ns)
    );
    let after = last.context("no tickets listed")?;
    let ours = measure(n, |_| {
        let (mut c, cc, r) = (sup.clone(), cc.clone(), list(token.clone(), false));
        async move {
            c.list_tickets(authed(&cc, r)).await?;
            Ok(())
        }
    })
    .await?;
    let plain = measure(n, |_| db.list(sub, Some(after), false)).await?;
    print_line(
        &format!("ListTickets page {} (by next_page_token)", pages + 1),
        &ours,
        &plain,
    );

    let ours = measure(n, |_| {
        let (mut c, cc, r) = (sup.clone(), cc.clone(), list(String::new(), true));
        async move {
            c.list_tickets(authed(&cc, r)).await?;
            Ok(())
        }
    })
    .await?;
    let plain = measure(n, |_| db.list(sub, None, true)).await?;
    print_line("ListTickets overdue only, first page", &ours, &plain);

    // ListInbox of the grid chief whose grid holds closest to 50 open tickets.
    let (grid, person, open) = db.inbox_grid(sub).await?;
    let chief = server.mint_scoped(bin, "chief", &person, &[&grid])?;
    let inbox = desk
        .clone()
        .list_inbox(authed(&chief, ListInboxRequest::default()))
        .await?
        .into_inner();
    let ours = measure(n, |_| {
        let (mut c, chief) = (desk.clone(), chief.clone());
        async move {
            c.list_inbox(authed(&chief, ListInboxRequest::default()))
                .await?;
            Ok(())
        }
    })
    .await?;
    let plain = measure(n, |_| db.inbox(&grid)).await?;
    print_line(
        &format!(
            "ListInbox first page (20) of grid {grid}: {open} open, {} listed, total_size {}",
            inbox.tickets.len(),
            inbox.total_size
        ),
        &ours,
        &plain,
    );

    // GetTicket of random tickets of the big subdistrict.
    let ids = db.sample_ids(sub).await?;
    anyhow::ensure!(!ids.is_empty(), "no ticket sampled");
    let ours = measure(n, |i| {
        let (mut c, cc) = (desk.clone(), cc.clone());
        let r = GetTicketRequest {
            ticket_id: ids[i % ids.len()].to_string(),
        };
        async move {
            c.get_ticket(authed(&cc, r)).await?;
            Ok(())
        }
    })
    .await?;
    let plain = measure(n, |i| db.ticket(ids[i % ids.len()])).await?;
    print_line(
        "GetTicket (random tickets of the subdistrict, with events)",
        &ours,
        &plain,
    );

    // WatchEvents from a cursor `--watch-back` events of the subdistrict before its
    // newest, until caught up; then the same events by a plain query.
    let (head, from) = db.watch_range(sub, args.watch_back).await?;
    let mut c = sup.clone();
    let t = Instant::now();
    let mut stream = c
        .watch_events(authed(
            &cc,
            WatchEventsRequest {
                subdistrict_code: sub.to_owned(),
                after_cursor: from.to_string(),
                kinds: vec![],
            },
        ))
        .await?
        .into_inner();
    let mut got = 0i64;
    while let Some(ev) = stream.next().await {
        got += 1;
        if ev?.cursor.parse::<i64>()? >= head {
            break;
        }
    }
    let ours = got as f64 / t.elapsed().as_secs_f64();
    drop(stream);
    let t = Instant::now();
    let m = db.events_after(sub, from).await?;
    let plain = m as f64 / t.elapsed().as_secs_f64();
    anyhow::ensure!(m == got, "plain read {m} events, the stream {got}");
    println!(
        "WatchEvents catch-up from cursor {from} to {head}: {got} events, {ours:.0} events/s; \
         plain query {plain:.0} events/s"
    );
    Ok(())
}

// ---------------------------------------------------------------------- the SQLite copy

/// Copies a seeded Postgres schema into a new SQLite store at `path`: the same tree (made
/// again from the seed's options and time), tickets, events with their cursors, and the
/// open tickets' timers (one row per kind, SQLite's layout).
async fn copy_to_sqlite(pg: &PgPool, path: &Path, args: &Args) -> anyhow::Result<SqlitePool> {
    let started = Instant::now();
    let store = wuzhang_store::SqliteStore::open(&path.display().to_string()).await?;
    store.migrate().await?;
    let now: OffsetDateTime = sqlx::query_scalar("SELECT now FROM read_load_meta")
        .fetch_one(pg)
        .await?;
    seed_tree(&store, args, now).await?;
    let lite = store.pool().clone();
    let mut tx = lite.begin().await?;
    let us = |c: &str| format!("(extract(epoch FROM {c}) * 1000000)::int8");
    let tickets = format!(
        "SELECT subdistrict_code::text, id::text, grid_code, state, level, assignee_area_code, \
           assignee_person_id, category_code, description, lat, lng, crs, original_lat, \
           original_lng, original_crs, address, building_code, unit_code, media_urls, \
           contact_phone, reporter_id, urgent, {}, {}, {}, {}, duplicate_of::text, pause, \
           rating_stars::int8, rating_not_solved, rating_comment, version, supervision, \
           supervision_count::int8 FROM tickets",
        us("accept_due_at"),
        us("resolve_due_at"),
        us("created_at"),
        us("updated_at")
    );
    let insert_tickets = "INSERT INTO tickets (subdistrict_code, id, grid_code, state, level, \
        assignee_area_code, assignee_person_id, category_code, description, lat, lng, crs, \
        original_lat, original_lng, original_crs, address, building_code, unit_code, \
        media_urls, contact_phone, reporter_id, urgent, accept_due_at, resolve_due_at, \
        created_at, updated_at, duplicate_of, pause, rating_stars, rating_not_solved, \
        rating_comment, version, supervision, supervision_count) ";
    let mut rows = sqlx::query(AssertSqlSafe(tickets)).fetch(pg);
    let mut batch = Vec::with_capacity(500);
    let mut n = 0u64;
    loop {
        let row = rows.next().await.transpose()?;
        let done = row.is_none();
        batch.extend(row);
        if batch.len() == 500 || (done && !batch.is_empty()) {
            let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(insert_tickets);
            qb.push_values(batch.drain(..), |mut b, r: sqlx::postgres::PgRow| {
                for i in 0..34 {
                    match i {
                        9 | 10 | 12 | 13 => b.push_bind(r.get::<f64, _>(i)),
                        21 => b.push_bind(r.get::<bool, _>(i)),
                        29 => b.push_bind(r.get::<Option<bool>, _>(i)),
                        22..=25 | 28 | 31 | 33 => b.push_bind(r.get::<Option<i64>, _>(i)),
                        _ => b.push_bind(r.get::<Option<String>, _>(i)),
                    };
                }
            });
            n += qb.build().execute(&mut *tx).await?.rows_affected();
        }
        if done {
            break;
        }
    }
    drop(rows);
    println!("  {n} tickets copied");
    let events = format!(
        "SELECT cursor, subdistrict_code::text, ticket_id::text, seq, kind, actor, from_state, \
           to_state, level, assignee_person_id, note, {}, {}, {}, rating_stars::int8, \
           rating_not_solved FROM ticket_events ORDER BY cursor",
        us("at"),
        us("accept_due_at"),
        us("resolve_due_at")
    );
    let insert_events = "INSERT INTO ticket_events (cursor, subdistrict_code, ticket_id, seq, \
        kind, actor, from_state, to_state, level, assignee_person_id, note, at, accept_due_at, \
        resolve_due_at, rating_stars, rating_not_solved) ";
    let mut rows = sqlx::query(AssertSqlSafe(events)).fetch(pg);
    let mut n = 0u64;
    loop {
        let row = rows.next().await.transpose()?;
        let done = row.is_none();
        batch.extend(row);
        if batch.len() == 1000 || (done && !batch.is_empty()) {
            let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(insert_events);
            qb.push_values(batch.drain(..), |mut b, r: sqlx::postgres::PgRow| {
                for i in 0..16 {
                    match i {
                        0 | 3 | 11..=14 => b.push_bind(r.get::<Option<i64>, _>(i)),
                        15 => b.push_bind(r.get::<Option<bool>, _>(i)),
                        _ => b.push_bind(r.get::<Option<String>, _>(i)),
                    };
                }
            });
            n += qb.build().execute(&mut *tx).await?.rows_affected();
        }
        if done {
            break;
        }
    }
    drop(rows);
    println!("  {n} events copied");
    let timers = format!(
        "SELECT subdistrict_code::text, ticket_id::text, k, {}, l \
         FROM timer_sets, unnest(kinds, dues, levels) AS u(k, d, l)",
        us("d")
    );
    let mut rows = sqlx::query(AssertSqlSafe(timers)).fetch(pg);
    loop {
        let row = rows.next().await.transpose()?;
        let done = row.is_none();
        batch.extend(row);
        if batch.len() == 1000 || (done && !batch.is_empty()) {
            let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO timers (subdistrict_code, ticket_id, kind, due_at, level) ",
            );
            qb.push_values(batch.drain(..), |mut b, r: sqlx::postgres::PgRow| {
                b.push_bind(r.get::<String, _>(0))
                    .push_bind(r.get::<String, _>(1))
                    .push_bind(r.get::<String, _>(2))
                    .push_bind(r.get::<i64, _>(3))
                    .push_bind(r.get::<String, _>(4));
            });
            qb.build().execute(&mut *tx).await?;
        }
        if done {
            break;
        }
    }
    drop(rows);
    tx.commit().await?;
    sqlx::raw_sql("ANALYZE").execute(&lite).await?;
    println!(
        "SQLite copy written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(lite)
}

// ------------------------------------------------------------------------------- main

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let bin = wuzhang_bin(&args)?;
    let now = SystemClock.now();
    let admin = PgPool::connect(&args.pg_url).await?;
    let schema = args
        .schema
        .clone()
        .unwrap_or_else(|| format!("read_{:016x}", rand::random::<u64>()));
    sqlx::query(AssertSqlSafe(format!(
        "CREATE SCHEMA IF NOT EXISTS {schema}"
    )))
    .execute(&admin)
    .await?;
    let sep = if args.pg_url.contains('?') { '&' } else { '?' };
    let url = format!(
        "{}{sep}options=-c%20search_path%3D{schema}%2Cpublic",
        args.pg_url
    );
    let has_tickets: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.tables \
           WHERE table_schema = $1 AND table_name = 'tickets')",
    )
    .bind(&schema)
    .fetch_one(&admin)
    .await?;
    let reuse = has_tickets
        && sqlx::query_scalar::<_, bool>(AssertSqlSafe(format!(
            "SELECT EXISTS (SELECT 1 FROM {schema}.tickets)"
        )))
        .fetch_one(&admin)
        .await?;
    if reuse {
        println!("schema {schema} has tickets: reading them as they are");
    } else {
        seed_pg(&url, &schema, &args, now).await?;
    }
    let options: sqlx::postgres::PgConnectOptions = url.parse()?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await?;
    let data_dir: DataDir = match &args.sqlite_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            DataDir::Kept(dir.clone())
        }
        None => tempfile::tempdir()?.into(),
    };
    let lite_path = data_dir.path().join("wuzhang.db");
    // A kept embedded store that was copied (and maybe folded) before is read as it is.
    let lite_reused = args.sqlite_dir.is_some() && lite_path.exists();
    let (db, database_url) = if lite_reused {
        println!("{} exists: reading it as it is", lite_path.display());
        let store = wuzhang_store::SqliteStore::open(&lite_path.display().to_string()).await?;
        (Db::Lite(store.pool().clone()), None)
    } else if args.sqlite {
        let lite = copy_to_sqlite(&pool, &lite_path, &args).await?;
        (Db::Lite(lite), None)
    } else {
        let size: String =
            sqlx::query_scalar("SELECT pg_size_pretty(pg_database_size(current_database()))")
                .fetch_one(&pool)
                .await?;
        println!("database size: {size}");
        (Db::Pg(pool.clone()), Some(url.clone()))
    };
    let seeded = db.describe().await?;
    println!(
        "store: {} tickets ({} open), {} events; subdistrict {}: {} tickets ({} open), {} events",
        seeded.tickets,
        seeded.open,
        seeded.events,
        seeded.big_sub,
        seeded.big_tickets,
        seeded.big_open,
        seeded.big_events
    );

    // The fold, from scratch. The fold reads each step's ledgers by ticket id alone, which
    // the ledgers' key (subdistrict, ticket) does not serve; migration 0017 ships an index
    // on the id (this tool's runs before it added one with `--ledger-index`, which is kept,
    // IF NOT EXISTS, for comparing against an older build).
    if args.ledger_index {
        let sql = "CREATE INDEX IF NOT EXISTS evaluation_ledgers_ticket_idx \
                   ON evaluation_ledgers (ticket_id)";
        match &db {
            Db::Pg(p) => sqlx::raw_sql(sql).execute(p).await.map(drop)?,
            Db::Lite(p) => sqlx::raw_sql(sql).execute(p).await.map(drop)?,
        }
        println!("experiment: index on evaluation_ledgers (ticket_id) added before the fold");
    }
    // A reused store already folded to its head is read as it is.
    const FOLDED: &str = "SELECT (SELECT cursor FROM projection_cursors WHERE name = 'rollups') \
        >= (SELECT COALESCE(max(cursor), 0) FROM ticket_events)";
    let folded = match (&db, reuse, lite_reused) {
        (Db::Pg(p), true, _) => sqlx::query_scalar::<_, bool>(FOLDED).fetch_one(p).await?,
        (Db::Lite(p), _, true) => sqlx::query_scalar::<_, bool>(FOLDED).fetch_one(p).await?,
        _ => false,
    };
    let t = Instant::now();
    let mut cmd = Command::new(&bin);
    cmd.args(["evaluation", "rebuild"])
        .arg("--data-dir")
        .arg(data_dir.path())
        .env("RUST_LOG", "warn");
    if let Some(u) = &database_url {
        cmd.arg("--database-url").arg(u);
    }
    if folded {
        println!("the rollups are folded to the log's head: no rebuild");
    } else {
        let out = cmd.output()?;
        anyhow::ensure!(
            out.status.success(),
            "rebuild failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let fold_s = t.elapsed().as_secs_f64();
        print!("{}", String::from_utf8_lossy(&out.stdout));
        println!(
            "fold (wuzhang evaluation rebuild): {} events in {fold_s:.1} s, {:.0} events/s",
            seeded.events,
            seeded.events as f64 / fold_s
        );
    }

    let server = Server::start_with(
        &bin,
        data_dir,
        database_url.clone(),
        &[("WUZHANG_TIMER_WORKERS", "0")],
    )?;
    println!(
        "| read | ours p50 / p95 / p99 ms (n) | plain SQL p50 / p95 / p99 ms (n) | plain ÷ ours (p50) |"
    );
    println!("|---|---|---|---|");
    // A store of this tool's own on the same data, to time the overview's reads one by one.
    let parts: Box<dyn Store> = match &database_url {
        Some(u) => Box::new(PostgresStore::connect(u, 4).await?),
        None => Box::new(wuzhang_store::SqliteStore::open(&lite_path.display().to_string()).await?),
    };
    run_reads(
        &server,
        &bin,
        &db,
        Some(parts.as_ref()),
        &seeded.big_sub,
        &args,
    )
    .await?;
    drop(server);
    if args.schema.is_none() && !args.keep {
        pool.close().await;
        sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&admin)
            .await?;
    } else {
        println!("kept schema {schema}");
    }
    Ok(())
}
