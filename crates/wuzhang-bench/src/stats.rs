//! Latency summaries in nanoseconds.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub n: usize,
    pub mean_ns: f64,
    pub p50_ns: f64,
    pub p95_ns: f64,
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
        p95_ns: at(0.95),
        p99_ns: at(0.99),
        max_ns: samples.last().map_or(0.0, |d| ns(*d)),
    }
}

/// A process's command name and CPU time so far (user + system, its own and that of its
/// children that have exited and been waited for) from its `/proc/<pid>/stat` line
/// (Linux; the kernel counts in 10 ms clock ticks). The children count because a client
/// that connects per run (pgbench) is served by Postgres backends that exit before the
/// run is read: their time is then the postmaster's.
pub fn proc_stat_cpu(stat: &str) -> Option<(&str, Duration)> {
    // The command name is in parentheses and may hold spaces.
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let mut fields = stat.get(close + 1..)?.split_whitespace().skip(11);
    let mut ticks = 0u64;
    // utime, stime, cutime, cstime.
    for _ in 0..4 {
        ticks += fields.next()?.parse::<u64>().ok()?;
    }
    Some((
        stat.get(open + 1..close)?,
        Duration::from_millis(ticks * 10),
    ))
}

/// CPU time used so far by every process named `postgres` on this machine: the
/// database's side of a load, steadier than a rate on a shared machine as long as
/// nothing else uses this Postgres meanwhile.
pub fn postgres_cpu_time() -> Option<Duration> {
    let mut total = Duration::ZERO;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some(("postgres", cpu)) = proc_stat_cpu(&stat) {
            total += cpu;
        }
    }
    Some(total)
}

/// CPU time used so far by this process (all its threads): a load tool that embeds a part
/// of the service (the timer worker) reports that part's cost this way.
pub fn own_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    proc_stat_cpu(&stat).map(|(_, cpu)| cpu)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_name_and_cpu_from_a_stat_line() {
        // A name with a space and a parenthesis, as `comm` may have.
        let line = "4242 (tokio rt) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0";
        assert_eq!(
            proc_stat_cpu(line),
            Some(("tokio rt) x", Duration::from_millis(3000)))
        );
        // Exited children's time counts too.
        let line = "7 (postgres) S 1 7 7 0 -1 4194560 100 0 0 0 250 50 100 20 20 0 4 0";
        assert_eq!(
            proc_stat_cpu(line),
            Some(("postgres", Duration::from_millis(4200)))
        );
        assert_eq!(proc_stat_cpu("garbage"), None);
    }
}
