//! Many phones watching tickets at once: what 10,000 WatchIncident streams cost one
//! process, and how fast a new event reaches all of them.
//!
//! ```text
//! cargo build --release -p wuzhang -p wuzhang-bench
//! target/release/watch-load --watchers 10000 --tickets 1000 [--pg-url postgres://…]
//! ```
//!
//! Submits `--tickets` tickets (category E0104, each far from the others), opens
//! `--watchers` streams spread over them on 100 HTTP/2 connections, reads each stream's
//! history, then submits a duplicate next to every ticket: each original gets a live
//! REPORTER_JOINED event, and the tool measures when each watcher sees it. Reports the
//! server's resident memory before and after the streams open.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;
use tokio::sync::Mutex;
use wuzhang_bench::server::{Server, authed, seed};
use wuzhang_bench::stats::summarise;
use wuzhang_proto::v1::intake_service_client::IntakeServiceClient;
use wuzhang_proto::v1::{Crs, EventKind, GeoPoint, SubmitIncidentRequest, WatchIncidentRequest};

const CONNECTIONS: usize = 100;

/// Ticket `i`'s spot: a lattice 60 m apart over both grids (E0104 merges within 100 m,
/// so neighbours are 2 cells apart: 120 m).
fn spot(i: usize) -> (f64, f64) {
    let cols = 13;
    let (r, c) = (i / cols, i % cols);
    (43.8003 + r as f64 * 0.00108, 125.3003 + c as f64 * 0.00150)
}

fn at(lat: f64, lng: f64) -> Option<GeoPoint> {
    Some(GeoPoint {
        lat,
        lng,
        crs: Crs::Wgs84 as i32,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut watchers = 10_000usize;
    let mut tickets = 100usize;
    let mut pg_url = None;
    let mut bin = std::env::current_exe()?
        .parent()
        .context("exe dir")?
        .join("wuzhang");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--watchers" => watchers = args.next().context("value")?.parse()?,
            "--tickets" => tickets = args.next().context("value")?.parse()?,
            "--pg-url" => pg_url = args.next(),
            "--wuzhang" => bin = args.next().context("value")?.into(),
            other => bail!("unknown argument {other}"),
        }
    }
    // The lattice must fit the two grids (0.01° × 0.02°).
    anyhow::ensure!(
        tickets <= 13 * 9,
        "at most 117 tickets fit the test tree's lattice"
    );

    let url = match &pg_url {
        Some(base) => {
            let schema = format!("watch_{:016x}", rand::random::<u64>());
            let pool = sqlx::PgPool::connect(base).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&pool)
                .await?;
            let sep = if base.contains('?') { '&' } else { '?' };
            Some(format!(
                "{base}{sep}options=-c%20search_path%3D{schema}%2Cpublic"
            ))
        }
        None => None,
    };
    let server = Server::start(&bin, url)?;
    seed(&server, &bin).await?;
    let token = server.mint(&bin, "resident", "watcher")?;
    let other = server.mint(&bin, "resident", "second-reporter")?;

    let mut client = IntakeServiceClient::new(server.channel().await?);
    let mut ids = Vec::new();
    for i in 0..tickets {
        let (lat, lng) = spot(i);
        let t = client
            .submit_incident(authed(
                &token,
                SubmitIncidentRequest {
                    request_id: format!("w-{i}"),
                    category_code: "E0104".into(),
                    description: "道路不洁".into(),
                    location: at(lat, lng),
                    ..Default::default()
                },
            ))
            .await?
            .into_inner();
        ids.push(t.id);
    }
    let rss_before = server.rss_bytes().unwrap_or(0);

    // Open the streams and read each one's history (SUBMITTED, ASSIGNED).
    let mut channels = Vec::new();
    for _ in 0..CONNECTIONS {
        channels.push(server.channel().await?);
    }
    let opened = Instant::now();
    let seen: Arc<Mutex<Vec<(usize, Instant)>>> =
        Arc::new(Mutex::new(Vec::with_capacity(watchers)));
    let ready = Arc::new(tokio::sync::Semaphore::new(0));
    let mut tasks = Vec::new();
    for w in 0..watchers {
        let mut client = IntakeServiceClient::new(channels[w % CONNECTIONS].clone());
        let id = ids[w % tickets].clone();
        let token = token.clone();
        let seen = Arc::clone(&seen);
        let ready = Arc::clone(&ready);
        let tickets_n = tickets;
        tasks.push(tokio::spawn(async move {
            let mut stream = client
                .watch_incident(authed(
                    &token,
                    WatchIncidentRequest {
                        ticket_id: id,
                        after_seq: 0,
                    },
                ))
                .await?
                .into_inner();
            for _ in 0..2 {
                stream.next().await.context("history")??;
            }
            ready.add_permits(1);
            let e = tokio::time::timeout(Duration::from_secs(120), stream.next())
                .await
                .context("no live event within 120 s")?
                .context("stream ended")??;
            anyhow::ensure!(
                e.kind == EventKind::ReporterJoined as i32,
                "got {:?}",
                e.kind
            );
            seen.lock().await.push((w % tickets_n, Instant::now()));
            Ok::<_, anyhow::Error>(())
        }));
    }
    let _ = ready.acquire_many(u32::try_from(watchers)?).await?;
    let open_time = opened.elapsed();
    // Let the server settle, then read its memory with every stream open.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_open = server.rss_bytes().unwrap_or(0);

    // A duplicate 20 m north of every ticket: each original gets a live event.
    let fired = Instant::now();
    let mut sent_at = Vec::with_capacity(tickets);
    let mut client = IntakeServiceClient::new(server.channel().await?);
    for i in 0..tickets {
        let (lat, lng) = spot(i);
        sent_at.push(Instant::now());
        client
            .submit_incident(authed(
                &other,
                SubmitIncidentRequest {
                    request_id: format!("d-{i}"),
                    category_code: "E0104".into(),
                    description: "道路不洁".into(),
                    location: at(lat + 0.00018, lng),
                    ..Default::default()
                },
            ))
            .await?;
    }
    let submitted = fired.elapsed();
    let mut failed = 0;
    for t in tasks {
        if t.await?.is_err() {
            failed += 1;
        }
    }
    // From the duplicate's submission to the watcher's receipt of the event it caused.
    let mut delays: Vec<Duration> = seen
        .lock()
        .await
        .iter()
        .map(|(i, t)| t.saturating_duration_since(sent_at[*i]))
        .collect();
    let delivered = delays.len();
    let s = summarise(&mut delays);
    println!(
        "store: {}",
        if pg_url.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    );
    println!("watchers: {watchers} on {tickets} tickets over {CONNECTIONS} connections");
    println!("opened (history read) in {:.2} s", open_time.as_secs_f64());
    println!(
        "server RSS: {:.1} MiB before, {:.1} MiB with the streams open: {:.1} KiB per watcher",
        rss_before as f64 / 1048576.0,
        rss_open as f64 / 1048576.0,
        (rss_open.saturating_sub(rss_before)) as f64 / 1024.0 / watchers as f64
    );
    println!(
        "live event delivered to {delivered}/{watchers} (failed {failed}); {tickets} duplicates \
         submitted in {:.2} s; from a duplicate's submission to each watcher: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        submitted.as_secs_f64(),
        s.p50_ns / 1e6,
        s.p99_ns / 1e6,
        s.max_ns / 1e6
    );
    Ok(())
}
