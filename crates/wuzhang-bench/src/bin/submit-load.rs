//! Durable SubmitIncident throughput through the real server, side by side with pgbench
//! inserting the same row shape at the same concurrency, in one run.
//!
//! ```text
//! cargo build --release -p wuzhang -p wuzhang-bench
//! target/release/submit-load --pg-url postgres://postgres@127.0.0.1:5432/wuzhang_test \
//!     --concurrency 1,4,16,64 --seconds 10 --sqlite
//! ```
//!
//! For each concurrency: `wuzhang serve` on a fresh Postgres schema (started once) takes
//! SubmitIncident from that many gRPC callers for `--seconds`, then pgbench runs a
//! one-row INSERT into a table shaped like `tickets` (same columns and indexes) with as
//! many clients for as long. Both commit every transaction durably (synchronous_commit
//! on). With `--sqlite`, the same load runs against a server on the embedded store.
//! Each submission writes a ticket, two events, three timers and an idempotency record;
//! pgbench's transaction writes one row, and the table says so. A second pgbench run
//! ("same rows") writes everything a submission writes, into the server's own tables, as
//! one statement per transaction: what Postgres alone costs for the same data, the
//! fairest yardstick of the server's own overhead. Postgres's CPU per transaction (all
//! its processes, from /proc) is printed for each. With `--floor`, the same callers then
//! call `RoutingService.Locate` (answered from memory, no store) for as long: what the
//! gRPC call itself costs here, the part of a submission no database work can remove;
//! and from it and pgbench's same-rows latency, the ceiling: what a server whose own work
//! were free would reach against pgbench, one gRPC call plus one such transaction a turn
//! (see [`ceiling`]).
//!
//! pgbench runs with `-M prepared` (`--pgbench-mode` changes it): its statement is parsed
//! and planned once per connection, as the server's ticket writer prepares its batch
//! statement once. Tables in BENCHMARKS.md before 2026-11-30's third session were taken
//! with pgbench's default, `simple`, which plans every transaction (for the same-rows
//! statement, about half of Postgres's time per transaction at one client).
//!
//! The callers run on [`wuzhang_bench::lean`] (HTTP/2 and gRPC framing on current-thread
//! runtimes, as many threads as pgbench's `-j`), so the load generator takes from the
//! shared CPUs about what pgbench's client does; `--client tonic` runs them on tonic's
//! generated client instead, as a Rust app would call. Each run prints the client's CPU
//! per call beside the server's and Postgres's (pgbench's, for its runs).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sqlx::AssertSqlSafe;
use wuzhang_bench::lean;
use wuzhang_bench::server::{Server, authed, point, seed};
use wuzhang_bench::stats::{Summary, summarise};
use wuzhang_proto::v1::intake_service_client::IntakeServiceClient;
use wuzhang_proto::v1::routing_service_client::RoutingServiceClient;
use wuzhang_proto::v1::{LocateRequest, SubmitIncidentRequest};

/// A category that never merges (duplicate radius 0), so every submission is a new ticket.
const CATEGORY: &str = "N0103";

struct Args {
    pg_url: Option<String>,
    concurrency: Vec<usize>,
    seconds: u64,
    sqlite: bool,
    floor: bool,
    client: Client,
    wuzhang: PathBuf,
    /// pgbench's `-M`: `prepared` (the default) plans its statement once per connection,
    /// as the server's writer does; `simple` parses and plans every transaction.
    pgbench_mode: String,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        pg_url: None,
        concurrency: vec![1, 4, 16, 64],
        seconds: 10,
        sqlite: false,
        floor: false,
        client: Client::Lean,
        wuzhang: std::env::current_exe()?
            .parent()
            .context("exe dir")?
            .join("wuzhang"),
        pgbench_mode: "prepared".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--pg-url" => args.pg_url = it.next(),
            "--concurrency" => {
                args.concurrency = it
                    .next()
                    .context("--concurrency needs a list")?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            "--seconds" => args.seconds = it.next().context("--seconds needs a value")?.parse()?,
            "--sqlite" => args.sqlite = true,
            "--floor" => args.floor = true,
            "--client" => {
                args.client = match it.next().as_deref() {
                    Some("lean") => Client::Lean,
                    Some("tonic") => Client::Tonic,
                    _ => bail!("--client needs lean or tonic"),
                }
            }
            "--wuzhang" => args.wuzhang = it.next().context("--wuzhang needs a path")?.into(),
            "--pgbench-mode" => {
                args.pgbench_mode = match it.next().as_deref() {
                    Some(m @ ("simple" | "extended" | "prepared")) => m.to_owned(),
                    _ => bail!("--pgbench-mode needs simple, extended or prepared"),
                }
            }
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(args)
}

#[derive(Debug, Clone, Copy)]
struct Run {
    rate: f64,
    latency: Summary,
    errors: usize,
    /// Server CPU (user + system) per request, in µs; none for pgbench.
    server_cpu_us: Option<f64>,
    /// The load generator's CPU per request or transaction, in µs: ours (this process)
    /// or pgbench (a child, counted once it has exited).
    client_cpu_us: Option<f64>,
    /// Postgres's CPU (all its processes) per transaction or request, in µs.
    pg_cpu_us: Option<f64>,
}

/// Which gRPC client the load runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    /// [`wuzhang_bench::lean`]: HTTP/2 and gRPC framing, no task crossings (the default).
    Lean,
    /// tonic's generated client, as a Rust app would call the service.
    Tonic,
}

/// How a load runs: on which client, how many callers, for how long.
#[derive(Debug, Clone, Copy)]
struct Load {
    client: Client,
    concurrency: usize,
    seconds: u64,
}

/// CPU time between two readings (of a process or of Postgres), per `n`, in µs.
fn cpu_per(before: Option<Duration>, after: Option<Duration>, n: usize) -> Option<f64> {
    after
        .zip(before)
        .map(|(a, b)| (a.saturating_sub(b)).as_secs_f64() * 1e6 / n.max(1) as f64)
}

/// What the callers call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Submit,
    /// `RoutingService.Locate`: the gRPC floor.
    Locate,
}

/// `load.concurrency` callers submitting, each on its own HTTP/2 connection.
async fn submit_load(server: &Server, token: &str, load: Load, tag: &str) -> anyhow::Result<Run> {
    call_load(server, token, load, tag, Call::Submit).await
}

/// The request a caller sends as its `i`-th submission (`w` is the caller).
fn submission(tag: &str, w: usize, i: u64) -> SubmitIncidentRequest {
    SubmitIncidentRequest {
        request_id: format!("{tag}-{w}-{i}"),
        category_code: CATEGORY.into(),
        description: "楼道堆放杂物，影响通行".into(),
        location: Some(point((w as u64) << 32 | i)),
        contact_phone: "13800138000".into(),
        ..Default::default()
    }
}

/// The request a caller sends as its `i`-th Locate call.
fn locate(w: usize, i: u64) -> LocateRequest {
    LocateRequest {
        point: Some(point((w as u64) << 32 | i)),
        ..Default::default()
    }
}

/// `concurrency` callers making `call` for `seconds`, each on its own HTTP/2 connection.
async fn call_load(
    server: &Server,
    token: &str,
    load: Load,
    tag: &str,
    call: Call,
) -> anyhow::Result<Run> {
    let Load {
        client,
        concurrency,
        seconds,
    } = load;
    let stop = Arc::new(AtomicBool::new(false));
    let callers = match client {
        Client::Tonic => {
            Callers::Tonic(tonic_callers(server, token, concurrency, tag, call, &stop).await?)
        }
        Client::Lean => {
            let addr = server.addr.clone();
            let auth = http::HeaderValue::from_str(&format!("Bearer {token}"))?;
            let tag = tag.to_owned();
            let stop = Arc::clone(&stop);
            // As many threads as pgbench gets (`-j`).
            let threads = concurrency.min(4);
            let running = tokio::task::spawn_blocking(move || match call {
                Call::Submit => lean::run(
                    &addr,
                    &auth,
                    "/wuzhang.v1.IntakeService/SubmitIncident",
                    concurrency,
                    threads,
                    &stop,
                    move |w, i| submission(&tag, w, i),
                ),
                Call::Locate => lean::run(
                    &addr,
                    &auth,
                    "/wuzhang.v1.RoutingService/Locate",
                    concurrency,
                    threads,
                    &stop,
                    locate,
                ),
            })
            .await??;
            Callers::Lean(running)
        }
    };
    let started = Instant::now();
    let cpu_before = server.cpu_time();
    let own_before = wuzhang_bench::stats::own_cpu_time();
    let pg_before = wuzhang_bench::stats::postgres_cpu_time();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let cpu_after = server.cpu_time();
    let pg_after = wuzhang_bench::stats::postgres_cpu_time();
    let own_after = wuzhang_bench::stats::own_cpu_time();
    let calls = match callers {
        Callers::Tonic(tasks) => {
            let mut all = lean::Calls::default();
            for t in tasks {
                all.absorb(t.await?);
            }
            all
        }
        Callers::Lean(running) => tokio::task::spawn_blocking(move || running.join()).await??,
    };
    let elapsed = started.elapsed().as_secs_f64();
    let mut all = calls.latencies;
    let server_cpu_us = cpu_per(cpu_before, cpu_after, all.len());
    let client_cpu_us = cpu_per(own_before, own_after, all.len());
    let pg_cpu_us = cpu_per(pg_before, pg_after, all.len());
    Ok(Run {
        rate: all.len() as f64 / elapsed,
        latency: summarise(&mut all),
        errors: calls.errors,
        server_cpu_us,
        client_cpu_us,
        pg_cpu_us,
    })
}

/// Callers at work, of either client.
enum Callers {
    Tonic(Vec<tokio::task::JoinHandle<lean::Calls>>),
    Lean(lean::Running),
}

/// `concurrency` callers on tonic's client, each with its own channel, started on this
/// runtime.
async fn tonic_callers(
    server: &Server,
    token: &str,
    concurrency: usize,
    tag: &str,
    call: Call,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<lean::Calls>>> {
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let channel = server.channel().await?;
        let mut client = IntakeServiceClient::new(channel.clone());
        let mut routing = RoutingServiceClient::new(channel);
        let token = token.to_owned();
        let stop = Arc::clone(stop);
        let tag = tag.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut calls = lean::Calls::default();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let t = Instant::now();
                let ok = match call {
                    Call::Submit => client
                        .submit_incident(authed(&token, submission(&tag, w, i)))
                        .await
                        .is_ok(),
                    Call::Locate => routing.locate(authed(&token, locate(w, i))).await.is_ok(),
                };
                if ok {
                    calls.latencies.push(t.elapsed());
                } else {
                    calls.errors += 1;
                }
            }
            calls
        }));
    }
    Ok(tasks)
}

/// The columns and values of the ticket both pgbench transactions write. No literal holds a
/// colon (`chr(58)` instead): pgbench reads `:name` as a variable, which `-M prepared`
/// turns into a parameter.
macro_rules! ticket_row {
    () => {
        "(subdistrict_code, id, grid_code, state, level, \
         assignee_area_code, assignee_person_id, category_code, description, lat, lng, crs, \
         original_lat, original_lng, original_crs, address, building_code, unit_code, \
         media_urls, contact_phone, reporter_id, urgent, accept_due_at, resolve_due_at, \
         created_at, updated_at, duplicate_of, pause, rating_stars, rating_not_solved, \
         rating_comment, version) VALUES ('220102001', gen_random_uuid(), '220102001001001', \
         'assigned', 'grid', '220102001001001', 'P003', 'N0103', '楼道堆放杂物，影响通行', \
         43.805, 125.305, 'wgs84', 43.805, 125.305, 'wgs84', '', NULL, NULL, '[]', \
         '13800138000', 'resident' || chr(58) || 'load', false, now() + interval '2 hours', \
         now() + interval '3 days', now(), now(), NULL, 'none', NULL, NULL, NULL, 1)"
    };
}

/// pgbench's transaction: one ticket-shaped row into a copy of `tickets`.
const ONE_ROW_SQL: &str = concat!("INSERT INTO pgbench_tickets ", ticket_row!(), ";\n");

/// pgbench's transaction: the rows one submission writes, into the server's own tables,
/// in one statement (the ticket, its assignee row, its idempotency record with a
/// ticket-sized answer, its timer set of three, its two events).
const SAME_ROWS_SQL: &str = concat!(
    "WITH t AS (INSERT INTO tickets ",
    ticket_row!(),
    " RETURNING subdistrict_code, id, assignee_area_code, assignee_person_id, accept_due_at, \
       resolve_due_at, created_at), \
   a AS (INSERT INTO ticket_assignees (subdistrict_code, ticket_id, assignee_area_code, \
       assignee_person_id, due_at, created_at) \
     SELECT subdistrict_code, id, assignee_area_code, assignee_person_id, \
       LEAST(accept_due_at, resolve_due_at), created_at FROM t), \
   k AS (INSERT INTO idempotency (scope, request_id, request_hash, response, created_at) \
     SELECT 'resident' || chr(58) || 'pgbench', id::text, sha256(id::text::bytea), \
       convert_to(repeat('x', 250), 'UTF8'), now() FROM t), \
   s AS (INSERT INTO timer_sets (subdistrict_code, ticket_id, due_at, kinds, dues, levels) \
     SELECT subdistrict_code, id, now() + interval '96 minutes', \
       ARRAY['warning', 'accept', 'resolve'], \
       ARRAY[now() + interval '96 minutes', now() + interval '2 hours', \
         now() + interval '3 days'], ARRAY['grid', 'grid', 'grid'] FROM t) \
   INSERT INTO ticket_events (subdistrict_code, ticket_id, seq, kind, actor, from_state, \
     to_state, level, assignee_person_id, note, at) \
   SELECT t.subdistrict_code, t.id, e.seq, e.kind, 'resident' || chr(58) || 'load', e.from_state, \
     e.to_state, e.level, e.person, '', now() \
   FROM t, (VALUES (1, 'submitted', NULL, 'submitted', NULL, NULL), \
     (2, 'assigned', 'submitted', 'assigned', 'grid', 'P003')) \
     AS e(seq, kind, from_state, to_state, level, person);\n"
);

/// pgbench running `sql` (one statement, its own transaction) in `schema`.
fn pgbench(
    url: &str,
    schema: &str,
    sql: &str,
    mode: &str,
    concurrency: usize,
    seconds: u64,
) -> anyhow::Result<Run> {
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("insert.sql");
    std::fs::write(&script, sql)?;
    let parsed = url::Url::parse(url)?;
    let db = parsed.path().trim_start_matches('/');
    let log_prefix = dir.path().join("lat");
    let pg_before = wuzhang_bench::stats::postgres_cpu_time();
    let own_before = wuzhang_bench::stats::own_cpu_time();
    let out = Command::new("pgbench")
        .args(["-n", "-r", "-M", mode])
        .args(["-c", &concurrency.to_string()])
        .args(["-j", &concurrency.min(4).to_string()])
        .args(["-T", &seconds.to_string()])
        .arg("-f")
        .arg(&script)
        .arg("-l")
        .arg(format!("--log-prefix={}", log_prefix.display()))
        .args(["-h", parsed.host_str().unwrap_or("127.0.0.1")])
        .args(["-p", &parsed.port().unwrap_or(5432).to_string()])
        .args([
            "-U",
            if parsed.username().is_empty() {
                "postgres"
            } else {
                parsed.username()
            },
        ])
        .arg(db)
        .env("PGOPTIONS", format!("-c search_path={schema},public"))
        .output()
        .context("cannot run pgbench")?;
    // pgbench's backends exit as it does; give the postmaster a moment to reap them, so
    // their time is in its children's count when it is read. (A real wait on another
    // process, not time-dependent logic: nothing here has a clock to inject.)
    #[allow(clippy::disallowed_methods)]
    std::thread::sleep(Duration::from_millis(500));
    let pg_after = wuzhang_bench::stats::postgres_cpu_time();
    // pgbench has been waited for, so its CPU is in this process's children's count.
    let own_after = wuzhang_bench::stats::own_cpu_time();
    let text = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "pgbench failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tps: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .context("no tps in pgbench output")?
        .parse()?;
    // Per-transaction latencies (µs, third column) from every thread's log.
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(dir.path())? {
        let path = entry?.path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("lat"))
        {
            for line in std::fs::read_to_string(&path)?.lines() {
                if let Some(us) = line
                    .split_whitespace()
                    .nth(2)
                    .and_then(|v| v.parse::<u64>().ok())
                {
                    latencies.push(Duration::from_micros(us));
                }
            }
        }
    }
    let n = latencies.len();
    Ok(Run {
        rate: tps,
        latency: summarise(&mut latencies),
        errors: 0,
        server_cpu_us: None,
        client_cpu_us: cpu_per(own_before, own_after, n),
        pg_cpu_us: cpu_per(pg_before, pg_after, n),
    })
}

fn cpu(us: Option<f64>) -> String {
    us.map_or_else(|| "–".into(), |us| format!("{us:.0}"))
}

/// A run against the server: rate, latency, server and client CPU per request, errors.
fn served(run: &Run) -> String {
    format!(
        "{:.0}/s p50 {} ms p99 {} ms server {} µs CPU/req, client {} µs (errors {})",
        run.rate,
        ms(run.latency.p50_ns),
        ms(run.latency.p99_ns),
        cpu(run.server_cpu_us),
        cpu(run.client_cpu_us),
        run.errors
    )
}

/// A pgbench run: rate, latency, its client's and Postgres's CPU per transaction.
fn benched(run: &Run) -> String {
    format!(
        "{:.0}/s p50 {} ms p99 {} ms client {} µs postgres {} µs",
        run.rate,
        ms(run.latency.p50_ns),
        ms(run.latency.p99_ns),
        cpu(run.client_cpu_us),
        cpu(run.pg_cpu_us)
    )
}

fn ms(ns: f64) -> String {
    format!("{:.2}", ns / 1e6)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let mut rows: Vec<String> = Vec::new();
    let mut ratios: HashMap<usize, f64> = HashMap::new();
    let mut ceilings: Vec<String> = Vec::new();
    let warmup = 2;
    let load = |concurrency, seconds| Load {
        client: args.client,
        concurrency,
        seconds,
    };

    if let Some(base) = &args.pg_url {
        println!("pgbench -M {}", args.pgbench_mode);
        let schema = format!("load_{:016x}", rand::random::<u64>());
        let pool = sqlx::PgPool::connect(base).await?;
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&pool)
            .await?;
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{schema}%2Cpublic");
        let server = Server::start(&args.wuzhang, Some(url))?;
        seed(&server, &args.wuzhang).await?;
        sqlx::query(AssertSqlSafe(format!(
            "CREATE TABLE {schema}.pgbench_tickets (LIKE {schema}.tickets INCLUDING ALL)"
        )))
        .execute(&pool)
        .await?;
        let token = server.mint(&args.wuzhang, "resident", "load")?;
        submit_load(&server, &token, load(4, warmup), "warm").await?;
        for &c in &args.concurrency {
            let ours =
                submit_load(&server, &token, load(c, args.seconds), &format!("pg{c}")).await?;
            let pgbench = |sql| pgbench(base, &schema, sql, &args.pgbench_mode, c, args.seconds);
            let theirs = pgbench(ONE_ROW_SQL)?;
            let same = pgbench(SAME_ROWS_SQL)?;
            let ratio = ours.rate / theirs.rate;
            let ratio_same = ours.rate / same.rate;
            ratios.insert(c, ratio);
            if args.floor {
                let floor = call_load(
                    &server,
                    &token,
                    load(c, args.seconds),
                    "floor",
                    Call::Locate,
                )
                .await?;
                println!("floor c={c}: Locate {}", served(&floor));
                let ceiling = ceiling(c, &floor, &same);
                let ratio_ceiling = ceiling / same.rate;
                println!(
                    "ceiling c={c}: {ceiling:.0}/s, {ratio_ceiling:.2}× pgbench same rows (a server whose own work is free)"
                );
                ceilings.push(format!(
                    "| {c} | {:.0} | {} | {:.0} | {} | {ceiling:.0} | {ratio_ceiling:.2}× | {ratio_same:.2}× |",
                    floor.rate,
                    ms(floor.latency.mean_ns),
                    same.rate,
                    ms(same.latency.mean_ns),
                ));
            }
            println!(
                "postgres c={c}: wuzhang {}, postgres {} µs | pgbench one row {}, ratio {ratio:.2} | pgbench same rows {}, ratio {ratio_same:.2}",
                served(&ours),
                cpu(ours.pg_cpu_us),
                benched(&theirs),
                benched(&same),
            );
            rows.push(format!(
                "| Postgres | {c} | {:.0} | {} | {} | {} | {} | {} | {:.0} | {} | {} | {} | {} | {ratio:.2}× | {:.0} | {} | {} | {} | {ratio_same:.2}× |",
                ours.rate,
                ms(ours.latency.p50_ns),
                ms(ours.latency.p99_ns),
                cpu(ours.server_cpu_us),
                cpu(ours.client_cpu_us),
                cpu(ours.pg_cpu_us),
                theirs.rate,
                ms(theirs.latency.p50_ns),
                ms(theirs.latency.p99_ns),
                cpu(theirs.client_cpu_us),
                cpu(theirs.pg_cpu_us),
                same.rate,
                ms(same.latency.p99_ns),
                cpu(same.client_cpu_us),
                cpu(same.pg_cpu_us),
            ));
        }
        drop(server);
        sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&pool)
            .await?;
    }

    if args.sqlite {
        let server = Server::start(&args.wuzhang, None)?;
        seed(&server, &args.wuzhang).await?;
        let token = server.mint(&args.wuzhang, "resident", "load")?;
        submit_load(&server, &token, load(4, warmup), "warm").await?;
        for &c in &args.concurrency {
            let ours =
                submit_load(&server, &token, load(c, args.seconds), &format!("sq{c}")).await?;
            println!("sqlite c={c}: wuzhang {}", served(&ours));
            rows.push(format!(
                "| SQLite | {c} | {:.0} | {} | {} | {} | {} | – | – | – | – | – | – | – | – | – | – | – | – |",
                ours.rate,
                ms(ours.latency.p50_ns),
                ms(ours.latency.p99_ns),
                cpu(ours.server_cpu_us),
                cpu(ours.client_cpu_us),
            ));
        }
    }

    println!();
    println!(
        "| store | callers | SubmitIncident/s | p50 ms | p99 ms | server CPU µs/req | client CPU µs/req | Postgres CPU µs/req | pgbench one row/s | p50 ms | p99 ms | pgbench CPU µs/txn | Postgres CPU µs/txn | ours ÷ one row | pgbench same rows/s | p99 ms | pgbench CPU µs/txn | Postgres CPU µs/txn | ours ÷ same rows |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    if !ceilings.is_empty() {
        println!();
        println!(
            "| callers | Locate/s (floor) | floor mean ms | pgbench same rows/s | same rows mean ms | ceiling/s | ceiling ÷ same rows | ours ÷ same rows |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        for r in ceilings {
            println!("{r}");
        }
    }
    Ok(())
}

/// What `callers` closed-loop callers would get from a server whose own work costs
/// nothing, if each submission still cost Postgres what a pgbench same-rows transaction
/// costs at that concurrency: each caller's turn is then a bare gRPC call (the floor's
/// mean latency) followed by such a transaction (pgbench's mean latency), so the rate is
/// `callers / (floor + transaction)`. A bound wherever batching cannot cut Postgres's
/// time per submission (one caller: there is never a second submission to commit with),
/// and an estimate only where group commit does (16 callers up on two vCPUs, where the
/// server runs ahead of it). Both latencies are means, as throughput follows means.
fn ceiling(callers: usize, floor: &Run, same: &Run) -> f64 {
    let turn_ns = floor.latency.mean_ns + same.latency.mean_ns;
    callers as f64 * 1e9 / turn_ns.max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(mean_ms: f64) -> Run {
        Run {
            rate: 0.0,
            latency: Summary {
                n: 1,
                mean_ns: mean_ms * 1e6,
                p50_ns: mean_ms * 1e6,
                p95_ns: mean_ms * 1e6,
                p99_ns: mean_ms * 1e6,
                max_ns: mean_ms * 1e6,
            },
            errors: 0,
            server_cpu_us: None,
            client_cpu_us: None,
            pg_cpu_us: None,
        }
    }

    #[test]
    fn the_ceiling_is_callers_over_a_grpc_call_plus_a_transaction() {
        // 0.1 ms for the bare call and 0.4 ms for the transaction: 2,000 turns a second
        // for one caller, four times that for four.
        let (floor, same) = (run(0.1), run(0.4));
        assert!((ceiling(1, &floor, &same) - 2_000.0).abs() < 1e-6);
        assert!((ceiling(4, &floor, &same) - 8_000.0).abs() < 1e-6);
        // A slower gRPC call lowers it.
        assert!(ceiling(1, &run(0.6), &same) < 1_000.0 + 1e-6);
    }
}
