//! Emergency mode (战时, of 平战结合): a subdistrict's clocks run faster.
//!
//! The command center (or an administrator) switches a subdistrict into emergency mode
//! with a factor, and back. The rule, written once here and in `docs/emergency.md`:
//!
//! - **A ticket's clocks run at its rate** ([`ClockRate`], on the ticket): at rate `f` an
//!   owner has `1/f` of the category's time to accept and to resolve. New clocks (a new
//!   ticket, an escalation, a reassignment, a reopen) start at the ticket's rate.
//! - **A switch changes the rate of every open ticket of the subdistrict** and, with it,
//!   what is left of each running owner clock (warning, accept, resolve): the time left
//!   is multiplied by `old / new` (counted on the category's calendar, as the clocks are).
//!   Switching on and back off again therefore gives back the peacetime clock but for the
//!   time spent in emergency, which counted `f` times. A deadline already passed stays
//!   passed. A command center's supervision deadline and a pause's end are dates someone
//!   chose, not clocks: they do not move. A paused ticket's clocks stand still; it takes
//!   the new rate for the clocks it starts later.
//! - **While the mode is on, pauses are refused** (挂起 is a peacetime courtesy).
//! - Every change of rate is an event on the ticket (`CLOCK_RATE_CHANGED`, carrying the
//!   deadlines after it), so the event log alone says which deadline was in force.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::FieldError;

/// How fast a ticket's owner clocks run, in hundredths: 100 is peacetime, 200 twice as
/// fast (half the time). Kept in hundredths so that rescaling is exact integer arithmetic
/// and a rate compares equal to itself after a round trip through any store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ClockRate(u16);

impl Default for ClockRate {
    fn default() -> Self {
        Self::PEACETIME
    }
}

impl ClockRate {
    pub const PEACETIME: ClockRate = ClockRate(100);
    /// The fastest a city may make its clocks: a tenth of the time.
    pub const MAX_HUNDREDTHS: u16 = 1_000;

    /// A rate from hundredths, 100 (peacetime) to [`MAX_HUNDREDTHS`](Self::MAX_HUNDREDTHS).
    pub fn from_hundredths(field: &str, h: i64) -> Result<Self, FieldError> {
        if !(100..=i64::from(Self::MAX_HUNDREDTHS)).contains(&h) {
            return Err(FieldError::new(
                field,
                format!(
                    "must be from 1.00 to {}.00 (the deadlines are divided by it)",
                    Self::MAX_HUNDREDTHS / 100
                ),
            ));
        }
        Ok(Self(h as u16))
    }

    /// An emergency factor as given by a caller: greater than 1 (else it is no
    /// emergency), at most 10, to two decimals.
    pub fn emergency_factor(field: &str, factor: f64) -> Result<Self, FieldError> {
        if !factor.is_finite() || factor <= 1.0 {
            return Err(FieldError::new(
                field,
                "must be greater than 1 (the deadlines are divided by it)",
            ));
        }
        let h = (factor * 100.0).round();
        if h > f64::from(Self::MAX_HUNDREDTHS) {
            return Err(FieldError::new(
                field,
                format!("must be at most {}", Self::MAX_HUNDREDTHS / 100),
            ));
        }
        Self::from_hundredths(field, h as i64)
    }

    pub fn hundredths(self) -> u16 {
        self.0
    }

    /// The factor as a number (2.0 for twice as fast).
    pub fn factor(self) -> f64 {
        f64::from(self.0) / 100.0
    }

    pub fn is_peacetime(self) -> bool {
        self == Self::PEACETIME
    }

    /// What is left of a clock when the rate changes from `self` to `to`: the time left
    /// times `self / to`, to the microsecond (never less than one second).
    pub fn rescale_left(self, to: ClockRate, left: Duration) -> Duration {
        if self == to {
            return left;
        }
        let micros = left.whole_microseconds() * i128::from(self.0) / i128::from(to.0);
        let micros = i64::try_from(micros).unwrap_or(i64::MAX);
        Duration::microseconds(micros).max(Duration::SECOND)
    }
}

impl std::fmt::Display for ClockRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:02}×", self.0 / 100, self.0 % 100)
    }
}

/// A subdistrict's mode as switched last: on (with its rate) or off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyMode {
    /// The rate of the subdistrict's clocks: [`ClockRate::PEACETIME`] when the mode is
    /// off.
    pub rate: ClockRate,
    /// When it was switched to this.
    pub since: OffsetDateTime,
    /// Who switched it (the caller's subject).
    pub switched_by: String,
    pub reason: String,
}

impl EmergencyMode {
    pub fn is_on(&self) -> bool {
        !self.rate.is_peacetime()
    }
}

/// A subdistrict's switches in time order, as evaluation reads them: which mode was in
/// force at an instant (the last switch at or before it; peacetime before the first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModeLog {
    switches: Vec<(OffsetDateTime, ClockRate)>,
}

impl ModeLog {
    pub fn new(switches: impl IntoIterator<Item = (OffsetDateTime, ClockRate)>) -> Self {
        let mut switches: Vec<_> = switches.into_iter().collect();
        // Stable: two switches at one instant keep their order, the later one wins.
        switches.sort_by_key(|(at, _)| *at);
        Self { switches }
    }

    /// Whether emergency mode was on at `at`.
    pub fn is_emergency_at(&self, at: OffsetDateTime) -> bool {
        let after = self.switches.partition_point(|(t, _)| *t <= at);
        after > 0 && !self.switches[after - 1].1.is_peacetime()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_checked_and_exact() {
        assert_eq!(ClockRate::default(), ClockRate::PEACETIME);
        let two = ClockRate::emergency_factor("factor", 2.0).unwrap();
        assert_eq!(two.hundredths(), 200);
        assert_eq!(two.to_string(), "2.00×");
        assert_eq!(
            ClockRate::emergency_factor("factor", 1.5).unwrap().factor(),
            1.5
        );
        for bad in [1.0, 0.5, -2.0, 10.5, f64::NAN, f64::INFINITY] {
            let e = ClockRate::emergency_factor("factor", bad).unwrap_err();
            assert_eq!(e.field, "factor", "{bad}");
        }
        assert!(ClockRate::from_hundredths("r", 99).is_err());
        assert!(ClockRate::from_hundredths("r", 1_001).is_err());
    }

    #[test]
    fn clocks_shrink_and_rescale() {
        let two = ClockRate::from_hundredths("r", 200).unwrap();
        let three = ClockRate::from_hundredths("r", 300).unwrap();
        let p = ClockRate::PEACETIME;
        assert_eq!(p.rescale_left(p, Duration::hours(2)), Duration::hours(2));
        assert_eq!(p.rescale_left(two, Duration::hours(2)), Duration::hours(1));
        assert_eq!(
            p.rescale_left(three, Duration::hours(2)),
            Duration::minutes(40)
        );
        assert_eq!(
            p.rescale_left(three, Duration::seconds(10)),
            Duration::microseconds(3_333_333),
            "to the microsecond"
        );
        // Half an hour left at peacetime: a quarter of an hour at twice the rate, and back.
        let left = p.rescale_left(two, Duration::minutes(30));
        assert_eq!(left, Duration::minutes(15));
        assert_eq!(two.rescale_left(p, left), Duration::minutes(30));
        assert_eq!(
            two.rescale_left(three, Duration::minutes(30)),
            Duration::minutes(20)
        );
        assert_eq!(
            two.rescale_left(two, Duration::minutes(7)),
            Duration::minutes(7)
        );
        assert_eq!(
            p.rescale_left(three, Duration::seconds(1)),
            Duration::seconds(1)
        );
    }

    #[test]
    fn the_mode_log_says_which_mode_was_in_force() {
        let t0 = time::macros::datetime!(2026-07-01 00:00 UTC);
        let two = ClockRate::from_hundredths("rate", 200).unwrap();
        let log = ModeLog::new([
            (t0 + Duration::hours(5), ClockRate::PEACETIME),
            (t0 + Duration::hours(1), two),
        ]);
        assert!(!log.is_emergency_at(t0));
        assert!(
            log.is_emergency_at(t0 + Duration::hours(1)),
            "from the switch on"
        );
        assert!(log.is_emergency_at(t0 + Duration::hours(3)));
        assert!(!log.is_emergency_at(t0 + Duration::hours(5)), "off again");
        assert!(!ModeLog::default().is_emergency_at(t0));
    }
}
