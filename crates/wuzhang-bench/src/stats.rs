//! Latency summaries in nanoseconds.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub n: usize,
    pub mean_ns: f64,
    pub p50_ns: f64,
    pub p99_ns: f64,
    pub max_ns: f64,
}

pub fn summarise(samples: &mut [Duration]) -> Summary {
    samples.sort_unstable();
    let n = samples.len().max(1);
    let ns = |d: Duration| d.as_nanos() as f64;
    let at = |q: f64| ns(samples[((n as f64 * q) as usize).min(n - 1)]);
    Summary {
        n: samples.len(),
        mean_ns: samples.iter().map(|d| ns(*d)).sum::<f64>() / n as f64,
        p50_ns: at(0.50),
        p99_ns: at(0.99),
        max_ns: samples.last().map_or(0.0, |d| ns(*d)),
    }
}
