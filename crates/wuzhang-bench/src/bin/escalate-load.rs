//! Automatic escalations per second on Postgres with many open tickets, claiming timers in
//! batches vs one at a time, in one run.
//!
//! ```text
//! cargo build --release -p wuzhang-bench
//! target/release/escalate-load --pg-url postgres://postgres@127.0.0.1:5432/wuzhang_test \
//!     --open 1000000 --batched 20000 --single 2000 [--batch 500] [--workers 1]
//! ```
//!
//! A scratch schema gets the small test tree and roster and `--open` open tickets at the
//! unit chief (written set-wise by SQL), each with an accept timer; the first
//! `--batched + --single` are due. The timer worker (`Escalator`, as `serve` runs it, with
//! an injected clock) then escalates `--batched` of them claiming 500 per transaction, and
//! `--single` more claiming one per transaction. Dead tuples of `tickets`, `timer_sets` and
//! `ticket_assignees` are read from `pg_stat_user_tables` before and after.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use sqlx::{AssertSqlSafe, PgPool};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::category::{Category, CategoryCode, CategoryKind, DeadlineKind};
use wuzhang_domain::chief::ChiefLevel;
use wuzhang_domain::clock::{Clock, ManualClock};
use wuzhang_domain::deadline::CalendarBook;
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut base = None;
    let (mut open, mut batched, mut single) = (1_000_000usize, 20_000usize, 2_000usize);
    let (mut batch, mut workers) = (500u32, 1usize);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--pg-url" => base = args.next(),
            "--open" => open = args.next().context("value")?.parse()?,
            "--batched" => batched = args.next().context("value")?.parse()?,
            "--single" => single = args.next().context("value")?.parse()?,
            "--batch" => batch = args.next().context("value")?.parse()?,
            "--workers" => workers = args.next().context("value")?.parse()?,
            other => bail!("unknown argument {other}"),
        }
    }
    let base = base.context("--pg-url is required")?;
    anyhow::ensure!(
        batched + single + workers.saturating_sub(1) * batch as usize <= open,
        "more due than open"
    );

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

    // The small test tree, its roster, and a category with one hour to accept.
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
        })
        .await?;

    // Open tickets at the unit chief, set-wise; the first `due` have their accept due.
    // Workers running at once may overshoot `--batched` by a batch each.
    let due = batched + single + (workers.saturating_sub(1)) * batch as usize;
    let started = Instant::now();
    sqlx::query(
        "INSERT INTO tickets (subdistrict_code, id, grid_code, state, level, assignee_area_code, \
         assignee_person_id, category_code, description, lat, lng, crs, original_lat, \
         original_lng, original_crs, address, building_code, unit_code, media_urls, \
         contact_phone, reporter_id, urgent, accept_due_at, resolve_due_at, created_at, \
         updated_at, duplicate_of, pause, rating_stars, rating_not_solved, rating_comment, \
         version) \
         SELECT '220102001', gen_random_uuid(), '220102001001001', 'assigned', 'unit', \
         '220102001001001B01U1', 'P006', 'T01', '单元门坏了', 43.8025, 125.3025, 'wgs84', \
         43.8025, 125.3025, 'wgs84', '', '220102001001001B01', '220102001001001B01U1', '[]', \
         NULL, 'r' || g, false, \
         CASE WHEN g <= $2 THEN $3 ELSE $4 END, $4, $1, $1, NULL, 'none', NULL, NULL, NULL, 2 \
         FROM generate_series(1, $5) AS g",
    )
    .bind(T0)
    .bind(due as i64)
    .bind(T0 + Duration::hours(1))
    .bind(T0 + Duration::days(30))
    .bind(open as i64)
    .execute(&pool)
    .await?;
    sqlx::query(
        "INSERT INTO ticket_assignees (subdistrict_code, ticket_id, assignee_area_code, \
           assignee_person_id) \
         SELECT subdistrict_code, id, assignee_area_code, assignee_person_id FROM tickets",
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
    let (cpu_before, own_before) = (pg_cpu(), own_cpu_time());
    let (n_batched, rate_batched) = escalate_with(workers, || worker(batch), batched).await?;
    let cpu_batched = per(pg_cpu(), cpu_before, n_batched);
    let own_batched = per(own_cpu_time(), own_before, n_batched);
    let cpu_before = pg_cpu();
    let (n_single, rate_single) = escalate(&worker(1), single).await?;
    let cpu_single = per(pg_cpu(), cpu_before, n_single);
    // Statistics reach pg_stat a moment after the transactions.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let after = dead_tuples(&admin, &schema).await?;
    println!("open tickets: {open}");
    println!(
        "batch claim ({batch} per transaction, {workers} worker(s)): {n_batched} escalations, {rate_batched:.0}/s, Postgres {cpu_batched} µs CPU each, workers {own_batched} µs"
    );
    println!(
        "one at a time: {n_single} escalations, {rate_single:.0}/s, Postgres {cpu_single} µs CPU each"
    );
    println!("ratio: {:.1}×", rate_batched / rate_single);
    println!(
        "dead tuples (tickets, timer_sets, ticket_assignees): before {before:?}, after {after:?} for {} escalations",
        n_batched + n_single
    );
    sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&admin)
        .await?;
    Ok(())
}
