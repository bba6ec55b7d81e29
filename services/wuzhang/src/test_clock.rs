//! The process's clock: the wall clock, or — for end-to-end tests that script days and
//! months against the started binary — a clock read from a file.
//!
//! With `WUZHANG_TEST_CLOCK_FILE` set to a file holding an RFC 3339 time, every `now()` of
//! the process (deadlines, the timer worker, evaluation days, token times, the `token`
//! command) reads that file, so a test moves the whole process through a month by writing
//! it. A read that fails (the file half-written) keeps the last time read. Never for
//! production: the server says so on start, and there is no configuration key for it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use wuzhang_domain::clock::{Clock, SystemClock, truncate_to_micros};

/// The variable naming the clock file.
pub const TEST_CLOCK_ENV: &str = "WUZHANG_TEST_CLOCK_FILE";

/// A clock whose time is the content of a file.
#[derive(Debug)]
pub struct FileClock {
    path: PathBuf,
    last: Mutex<OffsetDateTime>,
}

impl FileClock {
    pub fn open(path: PathBuf) -> anyhow::Result<Self> {
        let first = read(&path)
            .with_context(|| format!("{TEST_CLOCK_ENV}={} is not a clock", path.display()))?;
        Ok(Self {
            path,
            last: Mutex::new(first),
        })
    }
}

fn read(path: &std::path::Path) -> anyhow::Result<OffsetDateTime> {
    let text = std::fs::read_to_string(path)?;
    let t = OffsetDateTime::parse(text.trim(), &Rfc3339)
        .with_context(|| format!("{:?} is not an RFC 3339 time", text.trim()))?;
    Ok(truncate_to_micros(t))
}

impl Clock for FileClock {
    fn now(&self) -> OffsetDateTime {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Ok(t) = read(&self.path) {
            *last = t;
        }
        *last
    }
}

/// The process's clock: the file clock when [`TEST_CLOCK_ENV`] is set, else the wall
/// clock.
pub fn process_clock() -> anyhow::Result<Arc<dyn Clock>> {
    match std::env::var_os(TEST_CLOCK_ENV) {
        Some(path) => {
            let clock = FileClock::open(PathBuf::from(path))?;
            tracing::warn!(
                file = %clock.path.display(),
                "the clock is read from a file ({TEST_CLOCK_ENV}): for tests only"
            );
            Ok(Arc::new(clock))
        }
        None => Ok(Arc::new(SystemClock)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_file_is_the_time_and_a_bad_write_keeps_the_last() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("now");
        std::fs::write(&path, "2026-11-02T09:00:00+08:00\n").unwrap();
        let clock = FileClock::open(path.clone()).unwrap();
        assert_eq!(clock.now(), datetime!(2026-11-02 01:00 UTC));
        std::fs::write(&path, "2026-11-30T18:30:00.5Z").unwrap();
        assert_eq!(clock.now(), datetime!(2026-11-30 18:30:00.5 UTC));
        std::fs::write(&path, "soon").unwrap();
        assert_eq!(clock.now(), datetime!(2026-11-30 18:30:00.5 UTC));
        std::fs::write(&path, "yesterday").unwrap();
        assert!(FileClock::open(path).is_err());
    }
}
