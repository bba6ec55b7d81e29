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

/// CPU time (user + system) used so far by every process named `postgres` on this
/// machine (Linux, in 10 ms clock ticks): the database's side of a load, steadier than a
/// rate on a shared machine as long as nothing else uses this Postgres meanwhile.
pub fn postgres_cpu_time() -> Option<std::time::Duration> {
    let mut ticks = 0u64;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if &stat[open + 1..close] != "postgres" {
            continue;
        }
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        let mut fields = stat[close + 1..].split_whitespace().skip(11);
        let utime: u64 = fields.next().and_then(|f| f.parse().ok()).unwrap_or(0);
        let stime: u64 = fields.next().and_then(|f| f.parse().ok()).unwrap_or(0);
        ticks += utime + stime;
    }
    Some(std::time::Duration::from_millis(ticks * 10))
}
