//! Query points: random over a box, a clustered walk, and points exactly on lattice lines
//! (shared edges and corners), the cases where a wrong border rule shows.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wuzhang_spatial::synth::UnitLattice;

/// Uniform points over `[min, max]`.
pub fn random(n: usize, min: (f64, f64), max: (f64, f64), seed: u64) -> Vec<(f64, f64)> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            (
                rng.random_range(min.0..=max.0),
                rng.random_range(min.1..=max.1),
            )
        })
        .collect()
}

/// A random walk with steps of about `step_m` metres: consecutive queries are neighbours,
/// as reports from one neighbourhood arrive together.
pub fn walk(n: usize, min: (f64, f64), max: (f64, f64), step_m: f64, seed: u64) -> Vec<(f64, f64)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let step = step_m / 111_000.0;
    let mut p = ((min.0 + max.0) / 2.0, (min.1 + max.1) / 2.0);
    (0..n)
        .map(|_| {
            p.0 = (p.0 + rng.random_range(-step..=step)).clamp(min.0, max.0);
            p.1 = (p.1 + rng.random_range(-step..=step)).clamp(min.1, max.1);
            p
        })
        .collect()
}

/// Points on the lattice's lines: vertices (where four cells meet) and edge midpoints
/// of shared edges, for `rows × cols` cells.
pub fn on_lattice(
    n: usize,
    lattice: &UnitLattice,
    rows: u32,
    cols: u32,
    seed: u64,
) -> Vec<(f64, f64)> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let r = rng.random_range(1..rows.max(2));
            let c = rng.random_range(1..cols.max(2));
            if i % 2 == 0 {
                (lattice.lng(c), lattice.lat(r))
            } else {
                (lattice.lng(c), (lattice.lat(r) + lattice.lat(r - 1)) / 2.0)
            }
        })
        .collect()
}
