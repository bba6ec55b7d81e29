//! Working calendars: which days are worked and when, and the deadline arithmetic of the
//! four [`DeadlineKind`]s on top of them.
//!
//! A day is worked by the rule of the State Council's holiday notices
//! (国务院办公厅关于节假日安排的通知): Monday to Friday unless it is a public holiday,
//! Saturday and Sunday only when it is a make-up working day (调休). On a working day,
//! working time is the [`WorkingPeriod`]s of its year, read as wall time in the calendar's
//! IANA time zone. One [`CalendarYear`] holds one year of that data, the domain side of
//! the admin API's `Calendar` message; a [`WorkingCalendar`] is all the years of one
//! calendar code.
//!
//! A year the calendar has no data for falls back to the plain Monday-to-Friday rule with
//! [`DEFAULT_WORKING_HOURS`]: no holidays are known, so a deadline running into such a
//! year can land on a day off. [`WorkingCalendar::covers`] tells callers when to warn.
//!
//! Time zones come from the IANA database compiled into the binary (jiff's bundled copy),
//! so a deadline computed in a slim container equals one computed on a developer's machine.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use serde::Deserialize;
use time::macros::{format_description, time};
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset, Weekday};

use crate::FieldError;
use crate::area::validate_code;
use crate::category::DeadlineKind;
use crate::clock::truncate_to_micros;

#[cfg(test)]
mod tests;

/// The zone of a calendar that names none (the admin API's empty `time_zone`).
pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";

/// The working periods of a calendar that names none, and of every year without data.
pub const DEFAULT_WORKING_HOURS: [WorkingPeriod; 2] = [
    WorkingPeriod {
        start: time!(8:30),
        end: time!(12:00),
    },
    WorkingPeriod {
        start: time!(13:00),
        end: time!(17:30),
    },
];

/// The years a calendar may hold data for.
pub const MIN_YEAR: i32 = 2000;
pub const MAX_YEAR: i32 = 2100;

/// At most this many working periods a day: enough for split shifts, small enough that a
/// day's periods are checked at a glance.
pub const MAX_WORKING_PERIODS: usize = 8;

/// At most this many dates in one list (a year has no more days).
pub const MAX_DATES: usize = 366;

/// How many days ahead deadline arithmetic searches before giving up. A category's
/// durations are at most a year, and a year of working hours (8784 h at 8 h a day) takes
/// four and a half years of working days; ten years leaves room, while a calendar of
/// nothing but holidays still ends in an error instead of a long loop.
pub const SEARCH_LIMIT_DAYS: u32 = 3660;

/// The shipped PRC calendar (code `cn`): the State Council's holiday arrangements for the
/// years it lists. Services seed the default calendar from it.
pub const CN_CALENDAR_JSON: &str = include_str!("../../../data/calendars/cn.json");

/// One stretch of working time within a working day, e.g. 08:30–12:00, in the calendar's
/// local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WorkingPeriod {
    /// Inclusive.
    pub start: Time,
    /// Exclusive; after `start` on the same day.
    pub end: Time,
}

impl WorkingPeriod {
    pub fn new(start: Time, end: Time) -> Self {
        Self { start, end }
    }
}

/// One year of a calendar: which days are worked and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarYear {
    pub code: String,
    pub year: i32,
    /// Public holidays and the days off around them: not worked even on weekdays.
    pub holidays: BTreeSet<Date>,
    /// Make-up working days (调休): worked even on weekends.
    pub makeup_workdays: BTreeSet<Date>,
    /// The working periods of every working day of the year, in order, not overlapping.
    pub working_hours: Vec<WorkingPeriod>,
    /// IANA name of the zone the dates and periods are in.
    pub time_zone: String,
}

impl CalendarYear {
    /// A year with no holidays or make-up days, the default hours and zone.
    pub fn plain(code: impl Into<String>, year: i32) -> Self {
        Self {
            code: code.into(),
            year,
            holidays: BTreeSet::new(),
            makeup_workdays: BTreeSet::new(),
            working_hours: DEFAULT_WORKING_HOURS.to_vec(),
            time_zone: DEFAULT_TIME_ZONE.to_owned(),
        }
    }

    /// Builds a year from lists as a `SetCalendarRequest` carries them: empty
    /// `working_hours` means [`DEFAULT_WORKING_HOURS`], an empty `time_zone` means
    /// [`DEFAULT_TIME_ZONE`]. Bad dates are named by their index in the list given (a
    /// set could not report a duplicate, nor the index the caller sent).
    pub fn from_lists(
        code: impl Into<String>,
        year: i32,
        holidays: &[Date],
        makeup_workdays: &[Date],
        working_hours: Vec<WorkingPeriod>,
        time_zone: impl Into<String>,
    ) -> Result<Self, FieldError> {
        let code = code.into();
        validate_code_and_year(&code, year)?;
        let holidays = date_set("holidays", year, holidays)?;
        let makeup_workdays = date_set("makeup_workdays", year, makeup_workdays)?;
        let time_zone = time_zone.into();
        let y = Self {
            code,
            year,
            holidays,
            makeup_workdays,
            working_hours: if working_hours.is_empty() {
                DEFAULT_WORKING_HOURS.to_vec()
            } else {
                working_hours
            },
            time_zone: if time_zone.is_empty() {
                DEFAULT_TIME_ZONE.to_owned()
            } else {
                time_zone
            },
        };
        y.validate()?;
        Ok(y)
    }

    /// This year alone as a calendar document (the shape of `data/calendars/cn.json`),
    /// as the store keeps what the administrator set.
    pub fn to_document(&self) -> String {
        let date = |d: &Date| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day());
        let hm = |t: &Time| format!("{:02}:{:02}", t.hour(), t.minute());
        serde_json::json!({
            "code": self.code,
            "time_zone": self.time_zone,
            "working_hours": self.working_hours.iter()
                .map(|p| serde_json::json!({"start": hm(&p.start), "end": hm(&p.end)}))
                .collect::<Vec<_>>(),
            "years": [{
                "year": self.year,
                "holidays": self.holidays.iter().map(date).collect::<Vec<_>>(),
                "makeup_workdays": self.makeup_workdays.iter().map(date).collect::<Vec<_>>(),
            }],
        })
        .to_string()
    }

    /// The one year of a document made by [`to_document`](Self::to_document).
    pub fn from_document(document: &str) -> Result<Self, FieldError> {
        let cal = WorkingCalendar::from_json(document)?;
        let mut years = cal.years.into_values();
        match (years.next(), years.next()) {
            (Some(y), None) => Ok(y),
            _ => Err(FieldError::new("years", "must hold exactly one year")),
        }
    }

    /// Checks the year as `SetCalendarRequest` would, naming fields as it does. Dates are
    /// named by their position in the (sorted) set.
    pub fn validate(&self) -> Result<(), FieldError> {
        validate_code_and_year(&self.code, self.year)?;
        for (field, dates) in [
            ("holidays", &self.holidays),
            ("makeup_workdays", &self.makeup_workdays),
        ] {
            if dates.len() > MAX_DATES {
                return Err(FieldError::new(
                    field,
                    format!("must have at most {MAX_DATES} dates"),
                ));
            }
            if let Some((i, d)) = dates
                .iter()
                .enumerate()
                .find(|(_, d)| d.year() != self.year)
            {
                return Err(FieldError::new(
                    format!("{field}[{i}]"),
                    format!("{d} is not in {}", self.year),
                ));
            }
        }
        if let Some((i, d)) = self
            .makeup_workdays
            .iter()
            .enumerate()
            .find(|(_, d)| self.holidays.contains(d))
        {
            return Err(FieldError::new(
                format!("makeup_workdays[{i}]"),
                format!("{d} is also a holiday"),
            ));
        }
        validate_working_hours(&self.working_hours)?;
        resolve_zone(&self.time_zone).map_err(|reason| FieldError::new("time_zone", reason))?;
        Ok(())
    }

    /// Whether `date` is worked by this year's rule. Only meaningful for dates in the year.
    pub fn is_working_day(&self, date: Date) -> bool {
        if self.holidays.contains(&date) {
            return false;
        }
        self.makeup_workdays.contains(&date) || is_weekday(date)
    }
}

/// All the years of one calendar, in one time zone. A year it holds no data for follows
/// the plain Monday-to-Friday rule with [`DEFAULT_WORKING_HOURS`] and knows no holidays;
/// see [`covers`](Self::covers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingCalendar {
    code: String,
    time_zone: String,
    /// `time_zone` resolved once, since every deadline converts through it.
    tz: jiff::tz::TimeZone,
    years: BTreeMap<i32, CalendarYear>,
}

impl WorkingCalendar {
    /// A calendar with no years yet: every year follows the plain Monday-to-Friday rule
    /// until [`set_year`](Self::set_year) gives it data.
    pub fn new(code: impl Into<String>, time_zone: impl Into<String>) -> Result<Self, FieldError> {
        let code = code.into();
        validate_code(&code).map_err(|reason| FieldError::new("calendar_code", reason))?;
        let time_zone = time_zone.into();
        let tz = resolve_zone(&time_zone).map_err(|reason| FieldError::new("time_zone", reason))?;
        Ok(Self {
            code,
            time_zone,
            tz,
            years: BTreeMap::new(),
        })
    }

    /// The shipped PRC calendar, [`CN_CALENDAR_JSON`].
    pub fn cn() -> Self {
        // The file is compiled in and parsed by a unit test, so this cannot fail at run time.
        Self::from_json(CN_CALENDAR_JSON).expect("the shipped cn calendar is valid")
    }

    /// Parses a calendar file (the shape of `data/calendars/cn.json`):
    ///
    /// ```json
    /// {"code": "cn", "time_zone": "Asia/Shanghai", "source": "where the dates come from",
    ///  "working_hours": [{"start": "08:30", "end": "12:00"}, {"start": "13:00", "end": "17:30"}],
    ///  "years": [{"year": 2026, "holidays": ["2026-01-01"], "makeup_workdays": ["2026-01-04"]}]}
    /// ```
    ///
    /// `time_zone` and `working_hours` may be left out for the defaults; a year may carry
    /// its own `working_hours`. Errors name the bad field, e.g. `years[1].holidays[3]`.
    pub fn from_json(json: &str) -> Result<Self, FieldError> {
        let file: CalendarFile =
            serde_json::from_str(json).map_err(|e| FieldError::new("calendar", e.to_string()))?;
        let time_zone = file
            .time_zone
            .unwrap_or_else(|| DEFAULT_TIME_ZONE.to_owned());
        let mut cal = Self::new(file.code, time_zone).map_err(|e| {
            if e.field == "calendar_code" {
                FieldError::new("code", e.reason)
            } else {
                e
            }
        })?;
        let hours = match file.working_hours {
            Some(h) => {
                let hours = parse_periods("working_hours", &h)?;
                validate_working_hours(&hours)?;
                hours
            }
            None => DEFAULT_WORKING_HOURS.to_vec(),
        };
        for (i, y) in file.years.iter().enumerate() {
            let at = format!("years[{i}]");
            if cal.years.contains_key(&y.year) {
                return Err(FieldError::new(
                    format!("{at}.year"),
                    format!("{} is listed twice", y.year),
                ));
            }
            let year = parse_year(&cal, y, &hours).map_err(|e| e.within(&at))?;
            cal.set_year(year).map_err(|e| e.within(&at))?;
        }
        Ok(cal)
    }

    /// Adds or replaces one year, returning the one replaced. The year must be valid, of
    /// this calendar's code and of its time zone: a calendar has one zone, so a day is
    /// the same local day whichever year's data is asked.
    pub fn set_year(&mut self, year: CalendarYear) -> Result<Option<CalendarYear>, FieldError> {
        year.validate()?;
        if year.code != self.code {
            return Err(FieldError::new(
                "calendar_code",
                format!("{:?} is not this calendar ({:?})", year.code, self.code),
            ));
        }
        if year.time_zone != self.time_zone {
            return Err(FieldError::new(
                "time_zone",
                format!(
                    "{:?} differs from the calendar's zone {:?}",
                    year.time_zone, self.time_zone
                ),
            ));
        }
        Ok(self.years.insert(year.year, year))
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    pub fn time_zone(&self) -> &str {
        &self.time_zone
    }

    pub fn years(&self) -> &BTreeMap<i32, CalendarYear> {
        &self.years
    }

    pub fn year(&self, year: i32) -> Option<&CalendarYear> {
        self.years.get(&year)
    }

    /// Whether the calendar has data for `year`. Without it the year follows the plain
    /// Monday-to-Friday rule and knows no holidays, so callers should warn.
    pub fn covers(&self, year: i32) -> bool {
        self.years.contains_key(&year)
    }

    /// Whether `date` (a local date of the calendar's zone) is a working day.
    pub fn is_working_day(&self, date: Date) -> bool {
        match self.years.get(&date.year()) {
            Some(y) => y.is_working_day(date),
            None => is_weekday(date),
        }
    }

    /// The working periods of `date`: its year's hours on a working day, none on a day off.
    pub fn working_periods(&self, date: Date) -> &[WorkingPeriod] {
        if !self.is_working_day(date) {
            return &[];
        }
        match self.years.get(&date.year()) {
            Some(y) => &y.working_hours,
            None => &DEFAULT_WORKING_HOURS,
        }
    }

    /// Whether `t` falls inside a working period of a working day.
    pub fn is_working_time(&self, t: OffsetDateTime) -> bool {
        self.next_working_time(t).is_ok_and(|next| next == t)
    }

    /// `t` itself if it is working time, else the start of the next working period.
    pub fn next_working_time(&self, t: OffsetDateTime) -> Result<OffsetDateTime, CalendarError> {
        let next = self.scan(t, |start, _| ControlFlow::Break(start))?;
        Ok(in_offset_of(next, t))
    }

    /// When a clock started at `start` and allowed `within` runs out, counted as `kind`
    /// says:
    ///
    /// - [`Natural`](DeadlineKind::Natural), [`UrgentHours`](DeadlineKind::UrgentHours):
    ///   `start + within`, nights and holidays included.
    /// - [`WorkingHours`](DeadlineKind::WorkingHours): the first instant at which `within`
    ///   of working time has passed since `start`. Counting begins at the next working
    ///   period when `start` is outside one; a deadline that uses up a period exactly is
    ///   that period's end, not the next period's start.
    /// - [`WorkingDays`](DeadlineKind::WorkingDays): `within` must be whole days. N days
    ///   is the same local wall time on the Nth working day after the day the clock starts
    ///   (the clock starts at `start` if it is working time, else at the next working
    ///   period), but no later than that day's last period end.
    ///
    /// A zero `within` is due at `start` whatever the kind. The result is truncated to
    /// microseconds and carries `start`'s offset.
    pub fn due_at(
        &self,
        start: OffsetDateTime,
        within: Duration,
        kind: DeadlineKind,
    ) -> Result<OffsetDateTime, CalendarError> {
        if within.is_negative() {
            return Err(CalendarError::NegativeDuration);
        }
        let start = truncate_to_micros(start);
        let due = match kind {
            DeadlineKind::Natural | DeadlineKind::UrgentHours => {
                start.checked_add(within).ok_or(CalendarError::OutOfRange)?
            }
            DeadlineKind::WorkingHours => self.add_working_time(start, within)?,
            DeadlineKind::WorkingDays => {
                let days = within.whole_days();
                if within != Duration::days(days) {
                    return Err(CalendarError::NotWholeDays(within));
                }
                self.add_working_days(start, days)?
            }
        };
        Ok(in_offset_of(truncate_to_micros(due), start))
    }

    /// The instant at which `share` (clamped to 0..=1) of the time counted between `start`
    /// and `due` has passed, e.g. when to warn at 80%: linear in wall time for the natural
    /// kinds, linear in working time for the working kinds. Where no working time lies
    /// between the two, it is linear in wall time too. A `due` not after `start` is
    /// returned as it is, a NaN share counts as 1 (warn at the deadline rather than at
    /// once). Truncated to microseconds, in `start`'s offset.
    pub fn share_point(
        &self,
        start: OffsetDateTime,
        due: OffsetDateTime,
        share: f64,
        kind: DeadlineKind,
    ) -> OffsetDateTime {
        let share = if share.is_nan() {
            1.0
        } else {
            share.clamp(0.0, 1.0)
        };
        if due <= start {
            return truncate_to_micros(due);
        }
        let wall = || start + scale(due - start, share);
        let point = match kind {
            DeadlineKind::Natural | DeadlineKind::UrgentHours => wall(),
            DeadlineKind::WorkingHours | DeadlineKind::WorkingDays => {
                let total = self.working_time_between(start, due);
                if total.is_zero() {
                    wall()
                } else {
                    // Within [start, due] by construction; the fallback is for the
                    // out-of-range edge of the time crate only.
                    self.add_working_time(start, scale(total, share))
                        .map_or(due, |t| t.min(due))
                }
            }
        };
        in_offset_of(truncate_to_micros(point), start)
    }

    /// Working time between `a` and `b` (zero unless `a < b`): the part of `[a, b)` inside
    /// working periods of working days.
    pub fn working_time_between(&self, a: OffsetDateTime, b: OffsetDateTime) -> Duration {
        if b <= a {
            return Duration::ZERO;
        }
        let (Ok(first), Ok(last)) = (self.local(a), self.local(b)) else {
            return Duration::ZERO;
        };
        let mut total = Duration::ZERO;
        // Periods of a day lie within that local day, so days after b's hold none of [a, b).
        let mut day = first.date();
        while day <= last.date() {
            for (s, e) in self.intervals(day).unwrap_or_default() {
                let (s, e) = (s.max(a), e.min(b));
                if e > s {
                    total += e - s;
                }
            }
            match day.next_day() {
                Some(d) => day = d,
                None => break,
            }
        }
        total
    }

    /// The first instant at which `amount` of working time has passed since `start`.
    fn add_working_time(
        &self,
        start: OffsetDateTime,
        amount: Duration,
    ) -> Result<OffsetDateTime, CalendarError> {
        if amount.is_zero() {
            return Ok(start);
        }
        let mut left = amount;
        self.scan(start, |s, e| {
            let len = e - s;
            // `>=`: a deadline that uses up a period exactly is that period's end.
            if len >= left {
                ControlFlow::Break(s + left)
            } else {
                left -= len;
                ControlFlow::Continue(())
            }
        })
    }

    fn add_working_days(
        &self,
        start: OffsetDateTime,
        days: i64,
    ) -> Result<OffsetDateTime, CalendarError> {
        if days == 0 {
            return Ok(start);
        }
        let from = self.next_working_time(start)?;
        let local = self.local(from)?;
        let mut day = local.date();
        let mut counted = 0;
        for _ in 0..SEARCH_LIMIT_DAYS {
            day = day.next_day().ok_or(CalendarError::OutOfRange)?;
            if !self.is_working_day(day) {
                continue;
            }
            counted += 1;
            if counted == days {
                let wall = match self.working_periods(day).last() {
                    Some(last) => local.time().min(last.end),
                    None => local.time(),
                };
                return self.instant(day, wall);
            }
        }
        Err(CalendarError::TooFar)
    }

    /// Calls `f` with each stretch of working time from `from` on, clipped to start no
    /// earlier than `from`, until it breaks or [`SEARCH_LIMIT_DAYS`] have been searched.
    fn scan<B>(
        &self,
        from: OffsetDateTime,
        mut f: impl FnMut(OffsetDateTime, OffsetDateTime) -> ControlFlow<B>,
    ) -> Result<B, CalendarError> {
        let mut day = self.local(from)?.date();
        for _ in 0..SEARCH_LIMIT_DAYS {
            for (s, e) in self.intervals(day)? {
                if e <= from {
                    continue;
                }
                if let ControlFlow::Break(b) = f(s.max(from), e) {
                    return Ok(b);
                }
            }
            day = day.next_day().ok_or(CalendarError::OutOfRange)?;
        }
        Err(CalendarError::TooFar)
    }

    /// The working periods of `date` as instants.
    fn intervals(
        &self,
        date: Date,
    ) -> Result<Vec<(OffsetDateTime, OffsetDateTime)>, CalendarError> {
        let mut out = Vec::with_capacity(MAX_WORKING_PERIODS);
        for p in self.working_periods(date) {
            let (s, e) = (self.instant(date, p.start)?, self.instant(date, p.end)?);
            // A period cut short by a daylight-saving jump can come out empty.
            if e > s {
                out.push((s, e));
            }
        }
        Ok(out)
    }

    /// The start of `t`'s day in the calendar's zone ("today" on a dashboard).
    pub fn start_of_day(&self, t: OffsetDateTime) -> Result<OffsetDateTime, CalendarError> {
        let local = self.local(t)?;
        self.instant(local.date(), Time::MIDNIGHT)
    }

    /// Local wall time of `t` in the calendar's zone.
    fn local(&self, t: OffsetDateTime) -> Result<PrimitiveDateTime, CalendarError> {
        let ts = jiff::Timestamp::from_nanosecond(t.unix_timestamp_nanos())
            .map_err(|_| CalendarError::OutOfRange)?;
        let offset = UtcOffset::from_whole_seconds(self.tz.to_offset(ts).seconds())
            .map_err(|_| CalendarError::OutOfRange)?;
        let local = t
            .checked_to_offset(offset)
            .ok_or(CalendarError::OutOfRange)?;
        Ok(PrimitiveDateTime::new(local.date(), local.time()))
    }

    /// The instant of a local wall time. A wall time skipped by a daylight-saving jump
    /// is read as if the clock had not jumped; one that happens twice is the earlier
    /// (RFC 5545's and Temporal's "compatible" choice).
    fn instant(&self, date: Date, wall: Time) -> Result<OffsetDateTime, CalendarError> {
        let year = i16::try_from(date.year()).map_err(|_| CalendarError::OutOfRange)?;
        // Every narrowing below is of a value already in range (month 1–12, hour 0–23, …).
        let dt = jiff::civil::DateTime::new(
            year,
            u8::from(date.month()) as i8,
            date.day() as i8,
            wall.hour() as i8,
            wall.minute() as i8,
            wall.second() as i8,
            wall.nanosecond() as i32,
        )
        .map_err(|_| CalendarError::OutOfRange)?;
        let ts = self
            .tz
            .to_ambiguous_timestamp(dt)
            .compatible()
            .map_err(|_| CalendarError::OutOfRange)?;
        OffsetDateTime::from_unix_timestamp_nanos(ts.as_nanosecond())
            .map_err(|_| CalendarError::OutOfRange)
    }
}

/// Why a deadline could not be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("deadline duration must not be negative")]
    NegativeDuration,
    #[error("working-day deadline must be whole days, got {0}")]
    NotWholeDays(Duration),
    #[error("no deadline within {SEARCH_LIMIT_DAYS} days of the start")]
    TooFar,
    #[error("time out of range")]
    OutOfRange,
}

fn is_weekday(date: Date) -> bool {
    !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// `t` shown in `like`'s offset, so a caller gets back the offset it gave.
fn in_offset_of(t: OffsetDateTime, like: OffsetDateTime) -> OffsetDateTime {
    t.checked_to_offset(like.offset()).unwrap_or(t)
}

/// `d × share` to the microsecond, in integers where f64 would lose nanoseconds.
fn scale(d: Duration, share: f64) -> Duration {
    // Microseconds of any duration we handle (≤ centuries) are exact in an f64.
    let micros = (d.whole_microseconds() as f64 * share).round();
    Duration::microseconds(micros as i64).min(d)
}

fn resolve_zone(name: &str) -> Result<jiff::tz::TimeZone, String> {
    let unknown = || format!("unknown IANA time zone {name:?}");
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    let tz = jiff::tz::db().get(name).map_err(|_| unknown())?;
    // The database matches names case-insensitively; keep one spelling per zone so that
    // years of one calendar compare equal.
    match tz.iana_name() {
        Some(canonical) if canonical == name => Ok(tz),
        Some(canonical) => Err(format!("must be spelled {canonical:?}")),
        None => Err(unknown()),
    }
}

fn validate_code_and_year(code: &str, year: i32) -> Result<(), FieldError> {
    validate_code(code).map_err(|reason| FieldError::new("calendar_code", reason))?;
    if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
        return Err(FieldError::new(
            "year",
            format!("must be within {MIN_YEAR} to {MAX_YEAR}"),
        ));
    }
    Ok(())
}

/// A list of dates as a set, naming a date outside `year` or a duplicate by its index.
fn date_set(field: &str, year: i32, dates: &[Date]) -> Result<BTreeSet<Date>, FieldError> {
    if dates.len() > MAX_DATES {
        return Err(FieldError::new(
            field,
            format!("must have at most {MAX_DATES} dates"),
        ));
    }
    let mut seen = BTreeMap::new();
    for (i, d) in dates.iter().enumerate() {
        if d.year() != year {
            return Err(FieldError::new(
                format!("{field}[{i}]"),
                format!("{d} is not in {year}"),
            ));
        }
        if let Some(first) = seen.insert(*d, i) {
            return Err(FieldError::new(
                format!("{field}[{i}]"),
                format!("{d} is a duplicate of {field}[{first}]"),
            ));
        }
    }
    Ok(seen.into_keys().collect())
}

fn validate_working_hours(hours: &[WorkingPeriod]) -> Result<(), FieldError> {
    if hours.is_empty() || hours.len() > MAX_WORKING_PERIODS {
        return Err(FieldError::new(
            "working_hours",
            format!("must have 1 to {MAX_WORKING_PERIODS} periods"),
        ));
    }
    for (i, p) in hours.iter().enumerate() {
        if p.end <= p.start {
            return Err(FieldError::new(
                format!("working_hours[{i}]"),
                format!("ends at {} but starts at {}", p.end, p.start),
            ));
        }
        if i > 0 && p.start < hours[i - 1].end {
            return Err(FieldError::new(
                format!("working_hours[{i}]"),
                format!(
                    "starts at {} before working_hours[{}] ends at {}",
                    p.start,
                    i - 1,
                    hours[i - 1].end
                ),
            ));
        }
    }
    Ok(())
}

/// The file format of [`WorkingCalendar::from_json`]. Unknown keys are rejected so that a
/// misspelt `makeup_workdays` is an error rather than a year without 调休.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    code: String,
    time_zone: Option<String>,
    working_hours: Option<Vec<PeriodJson>>,
    /// Where the dates come from, for people reading the file.
    #[serde(rename = "source", default)]
    _source: Option<String>,
    years: Vec<YearJson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YearJson {
    year: i32,
    #[serde(default)]
    holidays: Vec<String>,
    #[serde(default)]
    makeup_workdays: Vec<String>,
    working_hours: Option<Vec<PeriodJson>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PeriodJson {
    start: String,
    end: String,
}

fn parse_year(
    cal: &WorkingCalendar,
    y: &YearJson,
    default_hours: &[WorkingPeriod],
) -> Result<CalendarYear, FieldError> {
    let hours = match &y.working_hours {
        Some(h) => parse_periods("working_hours", h)?,
        None => default_hours.to_vec(),
    };
    CalendarYear::from_lists(
        cal.code.clone(),
        y.year,
        &parse_dates("holidays", &y.holidays)?,
        &parse_dates("makeup_workdays", &y.makeup_workdays)?,
        hours,
        cal.time_zone.clone(),
    )
}

fn parse_dates(field: &str, dates: &[String]) -> Result<Vec<Date>, FieldError> {
    let format = format_description!("[year]-[month]-[day]");
    dates
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Date::parse(s, format).map_err(|_| {
                FieldError::new(
                    format!("{field}[{i}]"),
                    format!("{s:?} is not a date like 2026-10-01"),
                )
            })
        })
        .collect()
}

/// Periods as `HH:MM` pairs.
fn parse_periods(field: &str, periods: &[PeriodJson]) -> Result<Vec<WorkingPeriod>, FieldError> {
    let format = format_description!("[hour]:[minute]");
    let parse = |i: usize, which: &str, s: &str| {
        Time::parse(s, format).map_err(|_| {
            FieldError::new(
                format!("{field}[{i}].{which}"),
                format!("{s:?} is not a time like 08:30"),
            )
        })
    };
    periods
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Ok(WorkingPeriod::new(
                parse(i, "start", &p.start)?,
                parse(i, "end", &p.end)?,
            ))
        })
        .collect()
}
