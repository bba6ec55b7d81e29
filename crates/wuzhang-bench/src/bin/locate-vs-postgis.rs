//! Locate in process against PostGIS, on the same synthetic grids and the same points, in
//! one run. Prints Markdown tables for BENCHMARKS.md.
//!
//! ```text
//! cargo run --release -p wuzhang-bench --bin locate-vs-postgis -- [SIZES] [QUERIES] [PG_QUERIES]
//! ```
//! SIZES is a comma-separated list of grid counts (default `100000,1000000`); QUERIES the
//! in-process lookups per order (default 1000000); PG_QUERIES the PostGIS lookups per
//! order (default 20000). The database is `WUZHANG_BENCH_PG_URL`, else
//! `WUZHANG_TEST_PG_URL`, else the local test database; a scratch schema is dropped at
//! the end.

#![allow(clippy::print_stdout, clippy::print_stderr)] // a report tool: it prints its report

use std::time::{Duration, Instant};
use wuzhang_bench::points;
use wuzhang_bench::postgis::Scratch;
use wuzhang_bench::stats::{Summary, summarise};
use wuzhang_spatial::GridIndex;
use wuzhang_spatial::synth::{changchun_grids, changchun_lattice};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sizes: Vec<usize> = args
        .first()
        .map_or("100000,1000000", String::as_str)
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let queries: usize = args.get(1).map_or(Ok(1_000_000), |s| s.parse())?;
    let pg_queries: usize = args.get(2).map_or(Ok(20_000), |s| s.parse())?;
    let url = std::env::var("WUZHANG_BENCH_PG_URL")
        .or_else(|_| std::env::var("WUZHANG_TEST_PG_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/wuzhang_test".into());

    println!(
        "| grids | order | in-process mean | p50 | p99 | PostGIS per query (rule) | ST_Contains per query | PostGIS batched, per point | ratio per query | ratio batched | answers agree |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for n in sizes {
        let grids: Vec<_> = changchun_grids(n).collect();
        let t = Instant::now();
        let index = GridIndex::build(grids.iter().cloned());
        let build = t.elapsed();
        let scratch = Scratch::create(&url, 2).await?;
        let t = Instant::now();
        scratch.load(grids).await?;
        let load = t.elapsed();
        eprintln!(
            "{n} grids: index built in {build:?} ({} B/grid), PostGIS loaded and indexed in {load:?}",
            index.memory_bytes() / n
        );

        let lattice = changchun_lattice(n);
        let cols = (n as f64).sqrt().ceil() as u32;
        let rows = (n as u32).div_ceil(cols);
        let min = (lattice.lng(0), lattice.lat(0));
        let max = (lattice.lng(cols), lattice.lat(rows));
        let orders = [
            ("random", points::random(queries, min, max, 1)),
            ("clustered walk", points::walk(queries, min, max, 25.0, 2)),
            (
                "on shared edges",
                points::on_lattice(queries, &lattice, rows, cols, 3),
            ),
        ];
        for (name, pts) in orders {
            let ours = in_process(&index, &pts);
            let pg_pts = &pts[..pg_queries.min(pts.len())];
            let rule = per_query(&scratch, pg_pts, false).await?;
            let contains = per_query(&scratch, pg_pts, true).await?;
            let (batched, agree) = batched(&scratch, &index, pg_pts).await?;
            println!(
                "| {n} | {name} | {} | {} | {} | {} | {} | {} | {:.0}× | {:.1}× | {} |",
                fmt(ours.mean_ns),
                fmt(ours.p50_ns),
                fmt(ours.p99_ns),
                fmt(rule.mean_ns),
                fmt(contains.mean_ns),
                fmt(batched),
                rule.mean_ns / ours.mean_ns,
                batched / ours.mean_ns,
                if agree == pg_pts.len() {
                    "all".to_owned()
                } else {
                    format!("{agree}/{}", pg_pts.len())
                },
            );
        }
        scratch.drop_schema().await?;
    }
    Ok(())
}

fn fmt(ns: f64) -> String {
    if ns >= 1_000_000.0 {
        format!("{:.2} ms", ns / 1_000_000.0)
    } else if ns >= 1_000.0 {
        format!("{:.2} µs", ns / 1_000.0)
    } else {
        format!("{ns:.0} ns")
    }
}

/// Each lookup timed on its own (about 20 ns of timer cost included).
fn in_process(index: &GridIndex, pts: &[(f64, f64)]) -> Summary {
    let mut samples = Vec::with_capacity(pts.len());
    let mut found = 0usize;
    for &(lng, lat) in pts {
        let t = Instant::now();
        let hit = index.locate(lng, lat);
        samples.push(t.elapsed());
        found += usize::from(std::hint::black_box(hit).is_some());
    }
    std::hint::black_box(found);
    summarise(&mut samples)
}

/// One statement and round trip per lookup, on one connection, sequentially.
async fn per_query(
    scratch: &Scratch,
    pts: &[(f64, f64)],
    contains: bool,
) -> anyhow::Result<Summary> {
    let mut samples: Vec<Duration> = Vec::with_capacity(pts.len());
    for &(lng, lat) in pts {
        let t = Instant::now();
        std::hint::black_box(scratch.locate(lng, lat, contains).await?);
        samples.push(t.elapsed());
    }
    Ok(summarise(&mut samples))
}

/// All lookups in statements of 10,000 points: PostGIS's own work per point. Also counts
/// how many answers agree with the index.
async fn batched(
    scratch: &Scratch,
    index: &GridIndex,
    pts: &[(f64, f64)],
) -> anyhow::Result<(f64, usize)> {
    let t = Instant::now();
    let mut answers = Vec::with_capacity(pts.len());
    for chunk in pts.chunks(10_000) {
        answers.extend(scratch.locate_many(chunk).await?);
    }
    let per_point = t.elapsed().as_nanos() as f64 / pts.len().max(1) as f64;
    let agree = pts
        .iter()
        .zip(&answers)
        .filter(|((lng, lat), pg)| index.locate(*lng, *lat).map(|h| h.code) == pg.as_deref())
        .count();
    Ok((per_point, agree))
}
