//! Lookup latency and memory of `GridIndex` over synthetic 100 m unit grids around
//! Changchun (5-vertex closed squares, 15-character codes), printed as Markdown.
//!
//! ```text
//! cargo bench -p wuzhang-spatial --bench locate
//! WUZHANG_BENCH_SIZES=100000 WUZHANG_BENCH_QUERIES=200000 cargo bench -p wuzhang-spatial --bench locate
//! ```
//!
//! Every lookup is timed on its own with `Instant` (the timer's own cost is measured
//! and printed; it is included in the per-call figures), so p99 and max are real
//! per-call latencies. "batch mean" times the same queries back to back without
//! per-call timers. Memory is `GridIndex::memory_bytes()` cross-checked against the
//! growth of the process's resident set (`VmRSS` in /proc/self/status) over the build;
//! each size runs in a fresh child process, so memory freed by one size cannot hide the
//! next one's growth.

use std::hint::black_box;
use std::time::{Duration, Instant};

use geo::{BoundingRect, Coord, Intersects, LineString, MultiPolygon, Polygon, Rect};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wuzhang_domain::area::AreaCode;
use wuzhang_spatial::GridIndex;
use wuzhang_spatial::distance::METRES_PER_DEGREE;
use wuzhang_spatial::synth::{
    UnitLattice, changchun_grids, changchun_lattice, sequential_codes, unit_grids_clipped,
};

/// Set in the child processes, which measure one size and print tagged rows.
const CHILD: &str = "WUZHANG_BENCH_CHILD";

fn main() {
    let sizes = env_list("WUZHANG_BENCH_SIZES", &[100_000, 1_000_000]);
    let queries = env_list("WUZHANG_BENCH_QUERIES", &[1_000_000])[0];
    if std::env::var_os(CHILD).is_some() {
        child(&sizes, queries);
        return;
    }
    let overhead = timer_overhead();

    let mut memory_rows = Vec::new();
    let mut latency_rows = Vec::new();
    for &n in &sizes {
        let exe = std::env::current_exe().expect("the bench knows its own path");
        let out = std::process::Command::new(exe)
            .env(CHILD, "1")
            .env("WUZHANG_BENCH_SIZES", n.to_string())
            .env("WUZHANG_BENCH_QUERIES", queries.to_string())
            .output()
            .expect("run the bench for one size");
        assert!(out.status.success(), "child for {n} grids failed: {out:?}");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(row) = line.strip_prefix("MEM ") {
                memory_rows.push(row.to_owned());
            } else if let Some(row) = line.strip_prefix("LAT ") {
                latency_rows.push(row.to_owned());
            }
        }
    }

    // Changchun's 10 real district boundaries (1,182–6,784 vertices each): the band
    // structure keeps lookups inside them about as fast as in a square. geo's
    // `Intersects` over the same polygons (bounding boxes first) for comparison.
    let districts = real_districts();
    let big = GridIndex::build(districts.iter().cloned());
    let rects: Vec<Rect<f64>> = districts
        .iter()
        .map(|(_, g)| g.bounding_rect().unwrap())
        .collect();
    let all = rects.iter().fold(rects[0], |a, r| {
        Rect::new(
            Coord {
                x: a.min().x.min(r.min().x),
                y: a.min().y.min(r.min().y),
            },
            Coord {
                x: a.max().x.max(r.max().x),
                y: a.max().y.max(r.max().y),
            },
        )
    });
    let mut rng = StdRng::seed_from_u64(7);
    let pts: Vec<[f64; 2]> = (0..queries.min(200_000))
        .map(|_| {
            [
                rng.random_range(all.min().x..all.max().x),
                rng.random_range(all.min().y..all.max().y),
            ]
        })
        .collect();
    latency_rows.push(measure(
        "10 real districts (33k vertices)",
        "random in their bbox",
        &pts,
        |x, y| big.locate(x, y).is_some(),
    ));
    latency_rows.push(measure(
        "same, geo `Intersects` (no index)",
        "random in their bbox",
        &pts[..pts.len().min(20_000)],
        |x, y| {
            let c = Coord { x, y };
            districts
                .iter()
                .zip(&rects)
                .any(|((_, g), r)| r.intersects(&c) && g.intersects(&c))
        },
    ));

    // Filling a real district with unit grids (the demo's job), then indexing them.
    let nanguan = districts
        .iter()
        .find(|(c, _)| c.as_str() == "220102")
        .unwrap();
    let t = Instant::now();
    let cells = unit_grids_clipped(&nanguan.1, 100.0, sequential_codes("220102", 6));
    let synth_time = t.elapsed();
    let n_cells = cells.len();
    let t = Instant::now();
    let idx = GridIndex::build(cells);
    let index_time = t.elapsed();
    let synth_line = format!(
        "synth: 100 m unit grids clipped to 南关区 (2,578-vertex boundary): {n_cells} grids in {:.2} s, indexed in {:.3} s ({:.1} bytes/grid)",
        synth_time.as_secs_f64(),
        index_time.as_secs_f64(),
        idx.memory_bytes() as f64 / n_cells as f64,
    );

    println!();
    println!("### GridIndex build and memory (5-vertex grids, 15-character codes)");
    println!();
    println!("| grids | build (s) | memory_bytes() | bytes/grid | RSS growth | RSS bytes/grid |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for r in &memory_rows {
        println!("{r}");
    }
    println!();
    println!(
        "### GridIndex lookup latency (ns per call; each call timed alone, timer cost ≈ {} ns included)",
        overhead
    );
    println!();
    println!("| index | queries | lookups | found | batch mean | mean | p50 | p99 | p99.9 | max |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &latency_rows {
        println!("{r}");
    }
    println!();
    println!("{synth_line}");
}

/// Builds and measures each size in this process, printing tagged rows.
fn child(sizes: &[usize], queries: usize) {
    for &n in sizes {
        let rss_before = rss_bytes();
        let t = Instant::now();
        let idx = GridIndex::build(changchun_grids(n));
        let build = t.elapsed();
        let rss_after = rss_bytes();
        assert_eq!(idx.len(), n);
        let mem = idx.memory_bytes();
        let rss = rss_after.saturating_sub(rss_before);
        println!(
            "MEM {}",
            format_args!(
                "| {n} | {:.2} | {:.1} MB | {:.1} | {:.1} MB | {:.1} |",
                build.as_secs_f64(),
                mem as f64 / 1e6,
                mem as f64 / n as f64,
                rss as f64 / 1e6,
                rss as f64 / n as f64,
            )
        );

        let lattice = changchun_lattice(n);
        let cols = (n as f64).sqrt().ceil() as u32;
        let rows = n.div_ceil(cols as usize) as u32;
        // Full rows only, so every query in the box is over a grid.
        let full_rows = (n / cols as usize) as u32;
        let area = Area {
            lattice,
            cols,
            rows: full_rows,
        };
        let mut rng = StdRng::seed_from_u64(n as u64);
        // (name, query points, nearest-fallback tolerance)
        let workloads: [Workload; 4] = [
            ("random", area.random(&mut rng, queries), None),
            ("walk (25 m steps)", area.walk(&mut rng, queries), None),
            (
                "on shared edges/corners",
                area.border(&mut rng, queries),
                None,
            ),
            (
                "outside → nearest ≤100 m",
                area.outside(&mut rng, queries, rows),
                Some(100.0),
            ),
        ];
        for (name, points, tolerance) in workloads {
            let row = match tolerance {
                None => measure(&format!("{n}"), name, &points, |x, y| {
                    idx.locate(x, y).is_some()
                }),
                Some(t) => measure(&format!("{n}"), name, &points, |x, y| {
                    idx.locate_or_nearest(x, y, t).is_some()
                }),
            };
            println!("LAT {row}");
        }
    }
}

/// A named set of query points, with a tolerance when lookups may fall back to the
/// nearest grid.
type Workload = (&'static str, Vec<[f64; 2]>, Option<f64>);

/// Where queries go: the block of full rows of the Changchun lattice.
#[derive(Debug)]
struct Area {
    lattice: UnitLattice,
    cols: u32,
    rows: u32,
}

impl Area {
    fn x_range(&self) -> (f64, f64) {
        (self.lattice.lng(0), self.lattice.lng(self.cols))
    }

    fn y_range(&self) -> (f64, f64) {
        (self.lattice.lat(0), self.lattice.lat(self.rows))
    }

    fn random(&self, rng: &mut StdRng, n: usize) -> Vec<[f64; 2]> {
        let ((x0, x1), (y0, y1)) = (self.x_range(), self.y_range());
        (0..n)
            .map(|_| [rng.random_range(x0..x1), rng.random_range(y0..y1)])
            .collect()
    }

    /// A random walk of 25 m steps, reflected at the edges: each query is next to the
    /// previous one, as when reports cluster or a batch is sorted spatially.
    fn walk(&self, rng: &mut StdRng, n: usize) -> Vec<[f64; 2]> {
        let ((x0, x1), (y0, y1)) = (self.x_range(), self.y_range());
        let step_y = 25.0 / METRES_PER_DEGREE;
        let step_x = step_y / self.lattice.origin_lat.to_radians().cos();
        let mut p = [(x0 + x1) / 2.0, (y0 + y1) / 2.0];
        (0..n)
            .map(|_| {
                let a: f64 = rng.random_range(0.0..std::f64::consts::TAU);
                p[0] = reflect(p[0] + step_x * a.cos(), x0, x1);
                p[1] = reflect(p[1] + step_y * a.sin(), y0, y1);
                p
            })
            .collect()
    }

    /// Points exactly on lattice lines (two candidate grids) or crossings (four).
    fn border(&self, rng: &mut StdRng, n: usize) -> Vec<[f64; 2]> {
        (0..n)
            .map(|i| {
                let c = rng.random_range(1..self.cols);
                let r = rng.random_range(1..self.rows);
                let f: f64 = rng.random();
                match i % 3 {
                    0 => [self.lattice.lng(c), self.lattice.lat(r)],
                    1 => [
                        self.lattice.lng(c),
                        self.lattice.lat(r) + f * self.lattice.dlat,
                    ],
                    _ => [
                        self.lattice.lng(c) + f * self.lattice.dlng,
                        self.lattice.lat(r),
                    ],
                }
            })
            .collect()
    }

    /// Points 1–80 m outside the block's west or east edge.
    fn outside(&self, rng: &mut StdRng, n: usize, all_rows: u32) -> Vec<[f64; 2]> {
        let (x0, x1) = self.x_range();
        let (y0, _) = self.y_range();
        let y1 = self.lattice.lat(all_rows);
        let deg = 1.0 / (METRES_PER_DEGREE * self.lattice.origin_lat.to_radians().cos());
        (0..n)
            .map(|i| {
                let d = rng.random_range(1.0..80.0) * deg;
                let x = if i % 2 == 0 { x0 - d } else { x1 + d };
                [x, rng.random_range(y0..y1)]
            })
            .collect()
    }
}

fn reflect(v: f64, lo: f64, hi: f64) -> f64 {
    if v < lo {
        2.0 * lo - v
    } else if v >= hi {
        2.0 * hi - v - 1e-12
    } else {
        v
    }
}

/// Times `lookup` (which says whether it found something) over `points`.
fn measure(
    index: &str,
    workload: &str,
    points: &[[f64; 2]],
    lookup: impl Fn(f64, f64) -> bool,
) -> String {
    let run = |p: &[f64; 2]| {
        let [x, y] = *black_box(p);
        lookup(x, y)
    };
    // Warm up branch predictors and the upper levels of the tree.
    for p in points.iter().take(10_000) {
        black_box(run(p));
    }

    let t = Instant::now();
    let mut found = 0usize;
    for p in points {
        found += usize::from(black_box(run(p)));
    }
    let batch_mean = t.elapsed().as_nanos() as f64 / points.len() as f64;

    let mut ns: Vec<u32> = Vec::with_capacity(points.len());
    for p in points {
        let t = Instant::now();
        let hit = run(p);
        let dt = t.elapsed();
        black_box(hit);
        ns.push(u32::try_from(dt.as_nanos()).unwrap_or(u32::MAX));
    }
    ns.sort_unstable();
    let pct = |q: f64| ns[((ns.len() - 1) as f64 * q).round() as usize];
    let mean = ns.iter().map(|&v| f64::from(v)).sum::<f64>() / ns.len() as f64;
    format!(
        "| {index} | {workload} | {} | {:.1}% | {batch_mean:.0} | {mean:.0} | {} | {} | {} | {} |",
        points.len(),
        100.0 * found as f64 / points.len() as f64,
        pct(0.5),
        pct(0.99),
        pct(0.999),
        ns[ns.len() - 1],
    )
}

/// The cost of one `Instant::now()` + `elapsed()` pair, in ns (median of many).
fn timer_overhead() -> u128 {
    let mut v: Vec<Duration> = (0..100_000)
        .map(|_| {
            let t = Instant::now();
            black_box(());
            t.elapsed()
        })
        .collect();
    v.sort_unstable();
    v[v.len() / 2].as_nanos()
}

/// Changchun's district boundaries from `data/changchun/districts.geojson`.
fn real_districts() -> Vec<(AreaCode, MultiPolygon<f64>)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/changchun/districts.geojson"
    );
    let text = std::fs::read_to_string(path).expect("read districts.geojson");
    let json: serde_json::Value = serde_json::from_str(&text).expect("parse districts.geojson");
    let ring = |r: &serde_json::Value| {
        LineString::new(
            r.as_array()
                .unwrap()
                .iter()
                .map(|c| Coord {
                    x: c[0].as_f64().unwrap(),
                    y: c[1].as_f64().unwrap(),
                })
                .collect(),
        )
    };
    let polygon = |p: &serde_json::Value| {
        let rings = p.as_array().unwrap();
        Polygon::new(ring(&rings[0]), rings[1..].iter().map(ring).collect())
    };
    json["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let g = &f["geometry"];
            let polys = match g["type"].as_str().unwrap() {
                "Polygon" => vec![polygon(&g["coordinates"])],
                _ => g["coordinates"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(polygon)
                    .collect(),
            };
            (
                AreaCode::new(f["id"].as_str().unwrap()).unwrap(),
                MultiPolygon::new(polys),
            )
        })
        .collect()
}

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .unwrap_or_else(|e| panic!("{name}: {s:?}: {e}"))
            })
            .collect(),
        Err(_) => default.to_vec(),
    }
}
