//! Automatic escalations per second on Postgres with many open tickets, claiming timers in
//! batches vs one at a time, in one run.
//!
//! ```text
//! cargo build --release -p wuzhang-bench
//! target/release/escalate-load --pg-url postgres://postgres@127.0.0.1:5432/wuzhang_test \
//!     --open 1000000 --batched 100000 --single 1000 --workers 4 \
//!     [--batch 500] [--district 220102 | all] [--subdistricts N] \
//!     [--units-per-subdistrict 20] [--warmup N] [--small-tree] [--random-ids] [--setup-sql SQL]
//! ```
//!
//! A scratch schema gets an area tree and roster: by default the synthetic tree of one
//! real Changchun district (`--district`, 220102 南关区: 14 subdistricts; `all` for the
//! whole city at ~20,000 grids), as `wuzhang generate` makes it (vacancies, deputies,
//! leave). Tickets are reported at `--units-per-subdistrict` staffed units of each
//! subdistrict, so a batch carries that many different chains; tickets of different
//! subdistricts are written interleaved, as a city's arrive. `--small-tree` uses the test
//! fixture instead: one subdistrict, one unit, every ticket in one claim queue and next to
//! each other in the heap. Then `--open` open tickets at the unit chief (written set-wise
//! by SQL), each with an accept timer; the first ones are due (`--batched` + `--single`,
//! plus what workers may overshoot: a round claims a batch in every subdistrict). The
//! timer worker (`Escalator`, as `serve` runs it, injected clock) escalates `--batched`
//! of them claiming `--batch` per transaction with `--workers` workers, then `--single`
//! more claiming one per transaction. Printed: rates, CPU per escalation (Postgres's and
//! this process's), how many ticket updates were HOT, and dead tuples of `tickets`,
//! `timer_sets` and `ticket_assignees` from `pg_stat_user_tables`. `--warmup N` first
//! escalates N tickets with the same workers, not counted: the measured phase then starts
//! with the areas and posts a long-running worker would have read already.
//!
//! Ticket ids are made as the server makes them (`TicketId::new`: UUIDv7, the creation
//! time first), one millisecond apart in creation order, so tickets due together sit
//! together in every index keyed by id, as they do in a deployment. `--random-ids` uses
//! random (v4) ids instead: every claimed ticket on its own page of each such index, the
//! worst case for the buffer cache (what this tool measured before 2026-11-29's fourth
//! session, with `--small-tree`). `--setup-sql` runs SQL after the migrations (for
//! experiments, e.g. another fillfactor).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use sqlx::{AssertSqlSafe, PgPool};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use wuzhang_domain::area::{AreaCode, AreaLevel};
use wuzhang_domain::category::{Category, CategoryCode, CategoryKind, DeadlineKind};
use wuzhang_domain::chief::{ChiefLevel, PersonId};
use wuzhang_domain::clock::{Clock, ManualClock};
use wuzhang_domain::deadline::CalendarBook;
use wuzhang_domain::ticket::TicketId;
use wuzhang_escalation::worker::{Escalator, WorkerConfig};
use wuzhang_store::{PostgresStore, Store};

const T0: OffsetDateTime = datetime!(2026-11-30 02:00 UTC);

fn fixture(name: &str) -> anyhow::Result<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name);
    std::fs::read(&path).with_context(|| format!("read {}", path.display()))
}

/// Dead tuples of `tickets`, `timer_sets` and `ticket_assignees`.
async fn dead_tuples(pool: &PgPool, schema: &str) -> anyhow::Result<(i64, i64, i64)> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT relname::text, n_dead_tup FROM pg_stat_user_tables \
         WHERE schemaname = $1 AND relname IN ('tickets', 'timer_sets', 'ticket_assignees')",
    )
    .bind(schema)
    .fetch_all(pool)
    .await?;
    let get = |n: &str| rows.iter().find(|r| r.0 == n).map_or(0, |r| r.1);
    Ok((get("tickets"), get("timer_sets"), get("ticket_assignees")))
}

/// `workers` workers running rounds at once until `target` timers have fired between
/// them (they share the claim with `FOR UPDATE SKIP LOCKED`); escalations per second.
async fn escalate_with(
    workers: usize,
    make: impl Fn() -> Escalator,
    target: usize,
) -> anyhow::Result<(usize, f64)> {
    if workers <= 1 {
        return escalate(&make(), target).await;
    }
    let fired = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (worker, fired) = (make(), Arc::clone(&fired));
            tokio::spawn(async move {
                use std::sync::atomic::Ordering::Relaxed;
                while fired.load(Relaxed) < target {
                    let r = worker.run_once().await?;
                    anyhow::ensure!(r.failed == 0, "{} timers failed", r.failed);
                    fired.fetch_add(r.fired, Relaxed);
                    if r.fired + r.dropped + r.failed == 0 {
                        break;
                    }
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    let n = fired.load(std::sync::atomic::Ordering::Relaxed);
    Ok((n, n as f64 / started.elapsed().as_secs_f64()))
}

/// Rounds of `worker` until `target` timers have fired; escalations per second.
async fn escalate(worker: &Escalator, target: usize) -> anyhow::Result<(usize, f64)> {
    let started = Instant::now();
    let mut fired = 0;
    while fired < target {
        let r = worker.run_once().await?;
        anyhow::ensure!(r.failed == 0, "{} timers failed", r.failed);
        if r.fired + r.dropped == 0 {
            break;
        }
        fired += r.fired;
    }
    Ok((fired, fired as f64 / started.elapsed().as_secs_f64()))
}

/// Where tickets are reported: a unit with its building, grid, subdistrict and the chief
/// who acts for it.
struct Home {
    subdistrict: String,
    grid: String,
    building: String,
    unit: String,
    person: String,
}

/// The synthetic tree of one Changchun district (`wuzhang generate`'s generator, ~100 m
/// grids, one building of one unit per whole grid, the usual vacancies and leave), its
/// first `max_subdistricts` subdistricts used. Homes come interleaved by subdistrict, so
/// tickets written in order sit mixed in the heap, as a city's do.
async fn synthetic_tree(
    store: &dyn Store,
    district: &str,
    max_subdistricts: usize,
    units_per_subdistrict: usize,
    at: OffsetDateTime,
) -> anyhow::Result<Vec<Home>> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/changchun");
    let tree = wuzhang_synth::generate_from_files(
        data.join("districts.geojson"),
        data.join("divisions.csv"),
        &wuzhang_synth::Options {
            // "all": the whole city, at about 20,000 grids (100 m cells would be millions).
            districts: (district != "all").then(|| vec![district.to_owned()]),
            target_grids: (district == "all").then_some(20_000),
            buildings_per_grid: 1,
            units_per_building: 1,
            ..Default::default()
        },
        T0,
    )?;
    store.upsert_areas(&tree.areas).await?;
    store.upsert_roster(&tree.persons, &tree.posts).await?;
    let level: HashMap<&AreaCode, AreaLevel> = tree
        .areas
        .iter()
        .map(|r| (&r.area.code, r.area.level))
        .collect();
    let parent: HashMap<&AreaCode, (&AreaCode, AreaLevel)> = tree
        .areas
        .iter()
        .filter_map(|r| {
            let p = r.area.parent_code.as_ref()?;
            Some((&r.area.code, (p, *level.get(p)?)))
        })
        .collect();
    let acting: HashMap<&AreaCode, &PersonId> = tree
        .posts
        .iter()
        .filter_map(|p| Some((&p.area_code, p.acting(at)?)))
        .collect();
    let mut by_sub: std::collections::BTreeMap<String, Vec<Home>> = Default::default();
    for r in tree
        .areas
        .iter()
        .filter(|r| r.area.level == AreaLevel::Unit)
    {
        let Some(person) = acting.get(&r.area.code) else {
            continue;
        };
        let mut chain = vec![&r.area.code];
        let mut sub = None;
        let mut at_code = &r.area.code;
        while let Some((p, level)) = parent.get(at_code) {
            chain.push(p);
            if *level == AreaLevel::Subdistrict {
                sub = Some(*p);
                break;
            }
            at_code = p;
        }
        let (Some(sub), [unit, building, grid, ..]) = (sub, chain.as_slice()) else {
            continue;
        };
        let homes = by_sub.entry(sub.to_string()).or_default();
        if homes.len() < units_per_subdistrict {
            homes.push(Home {
                subdistrict: sub.to_string(),
                grid: grid.to_string(),
                building: building.to_string(),
                unit: unit.to_string(),
                person: person.to_string(),
            });
        }
    }
    let subs: Vec<Vec<Home>> = by_sub.into_values().take(max_subdistricts).collect();
    let n_subs = subs.len();
    let mut queues: Vec<_> = subs.into_iter().map(Vec::into_iter).collect();
    let mut homes = Vec::new();
    loop {
        let before = homes.len();
        homes.extend(queues.iter_mut().filter_map(Iterator::next));
        if homes.len() == before {
            break;
        }
    }
    anyhow::ensure!(!homes.is_empty(), "no staffed unit in district {district}");
    println!(
        "district {district}: {} subdistricts, {} units with tickets",
        n_subs,
        homes.len()
    );
    Ok(homes)
}

/// The small test tree (one subdistrict, one unit): every ticket in one claim queue and
/// next to each other in the heap.
async fn small_tree(store: &dyn Store) -> anyhow::Result<Vec<Home>> {
    let areas = wuzhang_import::areas::import_areas(
        &fixture("small-tree.geojson")?,
        &Default::default(),
        &|_| None,
    )?;
    store.upsert_areas(&areas.records).await?;
    let levels: HashMap<AreaCode, _> = areas
        .records
        .iter()
        .map(|r| (r.area.code.clone(), r.area.level))
        .collect();
    let roster = wuzhang_import::roster::import_roster(&fixture("small-roster.csv")?, &|c| {
        levels.get(c).copied()
    })?;
    store.upsert_roster(&roster.persons, &roster.posts).await?;
    Ok(vec![Home {
        subdistrict: "220102001".into(),
        grid: "220102001001001".into(),
        building: "220102001001001B01".into(),
        unit: "220102001001001B01U1".into(),
        person: "P006".into(),
    }])
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut base = None;
    let (mut open, mut batched, mut single) = (1_000_000usize, 20_000usize, 2_000usize);
    let (mut batch, mut workers) = (500u32, 1usize);
    let mut random_ids = false;
    let mut district = Some("220102".to_owned());
    let mut subdistricts = usize::MAX;
    let mut units_per_subdistrict = 20usize;
    let mut warmup = 0usize;
    // For experiments: SQL run after the migrations, before the tickets are written.
    let mut setup_sql: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--pg-url" => base = args.next(),
            "--open" => open = args.next().context("value")?.parse()?,
            "--batched" => batched = args.next().context("value")?.parse()?,
            "--single" => single = args.next().context("value")?.parse()?,
            "--batch" => batch = args.next().context("value")?.parse()?,
            "--workers" => workers = args.next().context("value")?.parse()?,
            "--random-ids" => random_ids = true,
            "--district" => district = Some(args.next().context("value")?),
            "--subdistricts" => subdistricts = args.next().context("value")?.parse()?,
            "--small-tree" => district = None,
            "--warmup" => warmup = args.next().context("value")?.parse()?,
            "--units-per-subdistrict" => {
                units_per_subdistrict = args.next().context("value")?.parse()?
            }
            "--setup-sql" => setup_sql = Some(args.next().context("value")?),
            other => bail!("unknown argument {other}"),
        }
    }
    let base = base.context("--pg-url is required")?;

    let schema = format!("esc_{:016x}", rand::random::<u64>());
    let admin = PgPool::connect(&base).await?;
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await?;
    let options: sqlx::postgres::PgConnectOptions = base.parse()?;
    let options = options.options([("search_path", format!("{schema},public"))]);
    let pg = PostgresStore::connect_with(options, 16).await?;
    let pool = pg.pool().clone();
    let store: Arc<dyn Store> = Arc::new(pg);
    store.migrate().await?;
    if let Some(sql) = &setup_sql {
        sqlx::raw_sql(AssertSqlSafe(sql.clone()))
            .execute(&pool)
            .await?;
    }

    // The tree and roster, and a category with one hour to accept.
    let homes = if let Some(district) = &district {
        synthetic_tree(
            store.as_ref(),
            district,
            subdistricts,
            units_per_subdistrict,
            T0 + Duration::minutes(70),
        )
        .await?
    } else {
        small_tree(store.as_ref()).await?
    };
    store
        .upsert_category(&Category {
            code: CategoryCode::new("T01")?,
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
        })
        .await?;

    // Open tickets at the unit chief, set-wise; the first `due` have their accept due.
    // A worker's round claims a batch in every subdistrict with due timers, so workers
    // may overshoot `--batched` by that much each.
    let subs: std::collections::HashSet<&str> =
        homes.iter().map(|h| h.subdistrict.as_str()).collect();
    let due = warmup + batched + single + 2 * workers * subs.len() * batch as usize;
    anyhow::ensure!(
        due <= open,
        "more due than open: make --open at least {due}"
    );
    let started = Instant::now();
    // The ids, oldest first (see the module comment).
    let ids: Vec<uuid::Uuid> = (0..open)
        .map(|g| {
            if random_ids {
                uuid::Uuid::new_v4()
            } else {
                TicketId::new(T0 - Duration::milliseconds((open - g) as i64)).as_uuid()
            }
        })
        .collect();
    sqlx::query(
        "INSERT INTO tickets (subdistrict_code, id, grid_code, state, level, assignee_area_code, \
         assignee_person_id, category_code, description, lat, lng, crs, original_lat, \
         original_lng, original_crs, address, building_code, unit_code, media_urls, \
         contact_phone, reporter_id, urgent, accept_due_at, resolve_due_at, created_at, \
         updated_at, duplicate_of, pause, rating_stars, rating_not_solved, rating_comment, \
         version) \
         SELECT h.sub, id, h.grid, 'assigned', 'unit', h.unit, h.person, 'T01', '单元门坏了', \
         43.8025, 125.3025, 'wgs84', 43.8025, 125.3025, 'wgs84', '', h.building, h.unit, '[]', \
         NULL, 'r' || g, false, \
         CASE WHEN g <= $2 THEN $3 ELSE $4 END, $4, $1, $1, NULL, 'none', NULL, NULL, NULL, 2 \
         FROM unnest($5::uuid[]) WITH ORDINALITY AS u(id, g) \
         JOIN (SELECT * FROM unnest($6::text[], $7::text[], $8::text[], $9::text[], $10::text[]) \
                 WITH ORDINALITY AS h(sub, grid, building, unit, person, n)) h \
           ON h.n = (g - 1) % $11 + 1",
    )
    .bind(T0)
    .bind(due as i64)
    .bind(T0 + Duration::hours(1))
    .bind(T0 + Duration::days(30))
    .bind(ids)
    .bind(
        homes
            .iter()
            .map(|h| h.subdistrict.clone())
            .collect::<Vec<_>>(),
    )
    .bind(homes.iter().map(|h| h.grid.clone()).collect::<Vec<_>>())
    .bind(homes.iter().map(|h| h.building.clone()).collect::<Vec<_>>())
    .bind(homes.iter().map(|h| h.unit.clone()).collect::<Vec<_>>())
    .bind(homes.iter().map(|h| h.person.clone()).collect::<Vec<_>>())
    .bind(homes.len() as i64)
    .execute(&pool)
    .await?;
    sqlx::query(
        "INSERT INTO ticket_assignees (subdistrict_code, ticket_id, assignee_area_code, \
           assignee_person_id, due_at, created_at) \
         SELECT subdistrict_code, id, assignee_area_code, assignee_person_id, \
           LEAST(accept_due_at, resolve_due_at), created_at FROM tickets",
    )
    .execute(&pool)
    .await?;
    sqlx::query(
        "INSERT INTO timer_sets (subdistrict_code, ticket_id, due_at, kinds, dues, levels) \
         SELECT subdistrict_code, id, accept_due_at, ARRAY['accept'], ARRAY[accept_due_at], \
           ARRAY['unit'] FROM tickets",
    )
    .execute(&pool)
    .await?;
    sqlx::query("ANALYZE").execute(&pool).await?;
    println!(
        "{open} open tickets and timers written in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let clock = Arc::new(ManualClock::new(T0 + Duration::minutes(70)));
    let worker = |batch: u32| {
        Escalator::new(
            Arc::clone(&store),
            Arc::clone(&clock) as Arc<dyn Clock>,
            Arc::new(CalendarBook::default()),
            WorkerConfig {
                batch,
                ..Default::default()
            },
        )
    };
    let before = dead_tuples(&admin, &schema).await?;
    // CPU per escalation, from /proc: steadier than the rates on a shared VM. Postgres's,
    // and this process's (the workers: what `serve`'s timer worker would spend).
    use wuzhang_bench::stats::{own_cpu_time, postgres_cpu_time as pg_cpu};
    let per = |now: Option<std::time::Duration>, before: Option<std::time::Duration>, n: usize| {
        now.zip(before).map_or_else(
            || "–".to_owned(),
            |(a, b)| format!("{:.0}", (a - b).as_secs_f64() * 1e6 / n.max(1) as f64),
        )
    };
    // One worker cloned for each task, as `serve` runs them: the clones share the areas
    // and posts it keeps, and a warm-up leaves them with what a long-running worker knows.
    let batch_worker = worker(batch);
    let make = || batch_worker.clone();
    if warmup > 0 {
        let (n, rate) = escalate_with(workers, make, warmup).await?;
        println!("warm-up (not counted): {n} escalations, {rate:.0}/s");
    }
    let (cpu_before, own_before) = (pg_cpu(), own_cpu_time());
    let (n_batched, rate_batched) = escalate_with(workers, make, batched).await?;
    let cpu_batched = per(pg_cpu(), cpu_before, n_batched);
    let own_batched = per(own_cpu_time(), own_before, n_batched);
    let cpu_before = pg_cpu();
    let (n_single, rate_single) = escalate(&worker(1), single).await?;
    let cpu_single = per(pg_cpu(), cpu_before, n_single);
    // Statistics reach pg_stat a moment after the transactions.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let after = dead_tuples(&admin, &schema).await?;
    let (upd, hot): (i64, i64) = sqlx::query_as(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables \
         WHERE schemaname = $1 AND relname = 'tickets'",
    )
    .bind(&schema)
    .fetch_one(&admin)
    .await?;
    println!("open tickets: {open}");
    println!(
        "batch claim ({batch} per transaction, {workers} worker(s)): {n_batched} escalations, {rate_batched:.0}/s, Postgres {cpu_batched} µs CPU each, workers {own_batched} µs"
    );
    println!(
        "one at a time: {n_single} escalations, {rate_single:.0}/s, Postgres {cpu_single} µs CPU each"
    );
    println!("ratio: {:.1}×", rate_batched / rate_single);
    println!("ticket updates: {upd}, of which HOT (no index entries): {hot}");
    println!(
        "dead tuples (tickets, timer_sets, ticket_assignees): before {before:?}, after {after:?} for {} escalations",
        n_batched + n_single
    );
    sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&admin)
        .await?;
    Ok(())
}
