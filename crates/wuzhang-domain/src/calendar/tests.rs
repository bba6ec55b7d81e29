use super::*;
use proptest::prelude::*;
use std::sync::LazyLock;
use time::macros::{date, datetime, time};

static CN: LazyLock<WorkingCalendar> = LazyLock::new(WorkingCalendar::cn);

fn due(start: OffsetDateTime, within: Duration, kind: DeadlineKind) -> OffsetDateTime {
    CN.due_at(start, within, kind).unwrap()
}

fn days(n: i64) -> Duration {
    Duration::days(n)
}

#[test]
fn shipped_cn_calendar_parses_and_matches_the_notices() {
    // The same file services seed from; the test keeps `WorkingCalendar::cn` from panicking.
    let cal = WorkingCalendar::from_json(CN_CALENDAR_JSON).unwrap();
    assert_eq!(cal.code(), "cn");
    assert_eq!(cal.time_zone(), "Asia/Shanghai");
    assert!(cal.covers(2025) && cal.covers(2026));
    let y25 = cal.year(2025).unwrap();
    let y26 = cal.year(2026).unwrap();
    assert_eq!(y25.working_hours, DEFAULT_WORKING_HOURS.to_vec());
    // Days off per notice: 2025 is 1+8+3+5+3+8, 2026 is 3+9+3+5+3+3+7.
    assert_eq!(y25.holidays.len(), 28);
    assert_eq!(y26.holidays.len(), 33);
    assert_eq!(y25.makeup_workdays.len(), 5);
    assert_eq!(y26.makeup_workdays.len(), 6);
    // 调休 only ever moves work onto a weekend.
    for d in y25.makeup_workdays.iter().chain(&y26.makeup_workdays) {
        assert!(!is_weekday(*d), "{d} is a weekday");
        assert!(cal.is_working_day(*d));
    }
    for d in y25.holidays.iter().chain(&y26.holidays) {
        assert!(!cal.is_working_day(*d));
    }
}

#[test]
fn working_days_around_national_day_2026() {
    // 2026-09-30 is a Wednesday. 1–7 October are off (国庆节), Thursday 8 and Friday 9 are
    // ordinary working days and Saturday 10 is a make-up working day (调休), so the
    // 1st, 2nd and 3rd working days after 30 September are 8, 9 and 10 October; the
    // clock keeps the wall time it started at.
    let start = datetime!(2026-09-30 10:00 +8);
    let k = DeadlineKind::WorkingDays;
    assert_eq!(due(start, days(1), k), datetime!(2026-10-08 10:00 +8));
    assert_eq!(due(start, days(2), k), datetime!(2026-10-09 10:00 +8));
    assert_eq!(due(start, days(3), k), datetime!(2026-10-10 10:00 +8));
    // Sunday 11 October is off again.
    assert_eq!(due(start, days(4), k), datetime!(2026-10-12 10:00 +8));
    // The same instant given in UTC is the same deadline, returned in UTC.
    let utc = due(datetime!(2026-09-30 2:00 UTC), days(3), k);
    assert_eq!(utc, datetime!(2026-10-10 2:00 UTC));
    assert_eq!(utc.offset(), UtcOffset::UTC);
}

#[test]
fn spring_festival_makeup_saturdays_count() {
    let k = DeadlineKind::WorkingDays;
    // 2026: Saturday 14 February is worked, 15–23 February are off.
    assert!(CN.is_working_day(date!(2026 - 02 - 14)));
    assert!(!CN.is_working_day(date!(2026 - 02 - 16)));
    let start = datetime!(2026-02-13 10:00 +8);
    assert_eq!(due(start, days(1), k), datetime!(2026-02-14 10:00 +8));
    assert_eq!(due(start, days(2), k), datetime!(2026-02-24 10:00 +8));
    // 2025: Sunday 26 January is worked before the break of 28 January – 4 February.
    assert!(CN.is_working_day(date!(2025 - 01 - 26)));
    let start = datetime!(2025-01-24 15:00 +8);
    assert_eq!(due(start, days(1), k), datetime!(2025-01-26 15:00 +8));
    assert_eq!(due(start, days(2), k), datetime!(2025-01-27 15:00 +8));
    assert_eq!(due(start, days(3), k), datetime!(2025-02-05 15:00 +8));
    // Working hours run on the make-up Saturday too.
    let start = datetime!(2026-02-13 17:00 +8);
    assert_eq!(
        due(start, Duration::hours(1), DeadlineKind::WorkingHours),
        datetime!(2026-02-14 9:00 +8)
    );
}

#[test]
fn working_hours_skip_lunch_weekends_and_holidays() {
    let k = DeadlineKind::WorkingHours;
    // Across lunch: 11:00–12:00 is one hour, the second starts at 13:00.
    assert_eq!(
        due(datetime!(2026-03-16 11:00 +8), Duration::hours(2), k),
        datetime!(2026-03-16 14:00 +8)
    );
    // Across a weekend: 1.5 h on Friday, 1.5 h on Monday morning.
    assert_eq!(
        due(datetime!(2026-03-13 16:00 +8), Duration::hours(3), k),
        datetime!(2026-03-16 10:00 +8)
    );
    // Across 劳动节 (1–5 May, Friday to Tuesday): 1.5 h on Thursday 30 April, 3.5 h on
    // the morning of Wednesday 6 May, 3 h after lunch.
    assert_eq!(
        due(datetime!(2026-04-30 16:00 +8), Duration::hours(8), k),
        datetime!(2026-05-06 16:00 +8)
    );
    // Minutes count too.
    assert_eq!(
        due(datetime!(2026-03-16 11:50 +8), Duration::minutes(20), k),
        datetime!(2026-03-16 13:10 +8)
    );
}

#[test]
fn starts_outside_working_time_begin_at_the_next_period() {
    let wh = DeadlineKind::WorkingHours;
    let wd = DeadlineKind::WorkingDays;
    // 20:00 on a Tuesday: counting starts Wednesday 08:30.
    let evening = datetime!(2026-03-17 20:00 +8);
    assert_eq!(
        due(evening, Duration::hours(1), wh),
        datetime!(2026-03-18 9:30 +8)
    );
    assert_eq!(due(evening, days(1), wd), datetime!(2026-03-19 8:30 +8));
    // A Sunday: counting starts Monday 08:30.
    let sunday = datetime!(2026-03-15 10:00 +8);
    assert_eq!(
        due(sunday, Duration::hours(1), wh),
        datetime!(2026-03-16 9:30 +8)
    );
    assert_eq!(due(sunday, days(1), wd), datetime!(2026-03-17 8:30 +8));
    // Lunch: counting starts at 13:00 the same day.
    let lunch = datetime!(2026-03-16 12:30 +8);
    assert_eq!(due(lunch, days(1), wd), datetime!(2026-03-17 13:00 +8));
    assert_eq!(
        due(lunch, Duration::hours(1), wh),
        datetime!(2026-03-16 14:00 +8)
    );
    // A period's end is not inside it.
    assert!(!CN.is_working_time(datetime!(2026-03-16 12:00 +8)));
    assert!(CN.is_working_time(datetime!(2026-03-16 8:30 +8)));
    assert_eq!(
        CN.next_working_time(datetime!(2026-03-16 12:00 +8))
            .unwrap(),
        datetime!(2026-03-16 13:00 +8)
    );
}

#[test]
fn a_deadline_that_uses_up_a_period_is_its_end() {
    let k = DeadlineKind::WorkingHours;
    let monday = datetime!(2026-03-16 8:30 +8);
    assert_eq!(
        due(monday, Duration::minutes(210), k),
        datetime!(2026-03-16 12:00 +8)
    );
    assert_eq!(
        due(monday, Duration::hours(8), k),
        datetime!(2026-03-16 17:30 +8)
    );
    assert_eq!(
        due(monday, Duration::hours(8) + Duration::MICROSECOND, k),
        datetime!(2026-03-17 8:30:00.000_001 +8)
    );
}

#[test]
fn natural_and_urgent_deadlines_ignore_the_calendar() {
    let start = datetime!(2026-09-30 10:00 +8);
    assert_eq!(
        due(start, days(3), DeadlineKind::Natural),
        datetime!(2026-10-03 10:00 +8)
    );
    assert_eq!(
        due(
            datetime!(2026-10-01 23:00 +8),
            Duration::hours(2),
            DeadlineKind::UrgentHours
        ),
        datetime!(2026-10-02 1:00 +8)
    );
}

#[test]
fn zero_negative_and_fractional_durations() {
    let start = datetime!(2026-03-15 10:00 +8);
    for k in [
        DeadlineKind::Natural,
        DeadlineKind::UrgentHours,
        DeadlineKind::WorkingHours,
        DeadlineKind::WorkingDays,
    ] {
        assert_eq!(due(start, Duration::ZERO, k), start);
        assert_eq!(
            CN.due_at(start, -Duration::SECOND, k),
            Err(CalendarError::NegativeDuration)
        );
    }
    assert_eq!(
        CN.due_at(start, Duration::hours(36), DeadlineKind::WorkingDays),
        Err(CalendarError::NotWholeDays(Duration::hours(36)))
    );
    // Sub-microsecond parts are dropped, as everywhere a time is made.
    assert_eq!(
        due(
            datetime!(2026-03-16 9:00:00.000_000_900 +8),
            Duration::nanoseconds(200),
            DeadlineKind::Natural
        ),
        datetime!(2026-03-16 9:00 +8)
    );
}

#[test]
fn share_points_are_linear_in_the_counted_time() {
    // Natural: 80% of 10 h of wall time is 8 h.
    let start = datetime!(2026-03-16 8:00 +8);
    let d = due(start, Duration::hours(10), DeadlineKind::Natural);
    assert_eq!(
        CN.share_point(start, d, 0.8, DeadlineKind::Natural),
        datetime!(2026-03-16 16:00 +8)
    );
    // Urgent hours on a holiday night: 80% of 2 h is 1 h 36 min.
    let start = datetime!(2026-10-01 0:00 +8);
    let d = due(start, Duration::hours(2), DeadlineKind::UrgentHours);
    assert_eq!(
        CN.share_point(start, d, 0.8, DeadlineKind::UrgentHours),
        datetime!(2026-10-01 1:36 +8)
    );
    // Working hours: 80% of 8 h is 6 h 24 min, 3.5 h before lunch and 2 h 54 min after.
    let start = datetime!(2026-03-16 8:30 +8);
    let d = due(start, Duration::hours(8), DeadlineKind::WorkingHours);
    assert_eq!(d, datetime!(2026-03-16 17:30 +8));
    assert_eq!(
        CN.share_point(start, d, 0.8, DeadlineKind::WorkingHours),
        datetime!(2026-03-16 15:54 +8)
    );
    // Working days: Monday 10:00 to Tuesday 10:00 holds 8 h of working time (2 h + 4.5 h
    // on Monday, 1.5 h on Tuesday); 80% is 6 h 24 min, Monday 17:24 — not Tuesday 05:12
    // as wall time would say.
    let start = datetime!(2026-03-16 10:00 +8);
    let d = due(start, days(1), DeadlineKind::WorkingDays);
    assert_eq!(d, datetime!(2026-03-17 10:00 +8));
    assert_eq!(CN.working_time_between(start, d), Duration::hours(8));
    assert_eq!(
        CN.share_point(start, d, 0.8, DeadlineKind::WorkingDays),
        datetime!(2026-03-16 17:24 +8)
    );
    // The ends, and shares out of range.
    for k in [DeadlineKind::WorkingDays, DeadlineKind::Natural] {
        assert_eq!(CN.share_point(start, d, 0.0, k), start);
        assert_eq!(CN.share_point(start, d, -1.0, k), start);
        assert_eq!(CN.share_point(start, d, 1.0, k), d);
        assert_eq!(CN.share_point(start, d, 7.0, k), d);
        assert_eq!(CN.share_point(start, d, f64::NAN, k), d);
        assert_eq!(CN.share_point(d, start, 0.5, k), start);
    }
    // No working time in between (a Saturday afternoon): linear in wall time.
    let sat = datetime!(2026-03-21 14:00 +8);
    assert_eq!(
        CN.share_point(
            sat,
            sat + Duration::hours(1),
            0.5,
            DeadlineKind::WorkingHours
        ),
        datetime!(2026-03-21 14:30 +8)
    );
}

#[test]
fn working_time_between_counts_only_working_periods() {
    let monday = datetime!(2026-03-16 0:00 +8);
    assert_eq!(
        CN.working_time_between(monday, monday + days(1)),
        Duration::hours(8)
    );
    assert_eq!(
        CN.working_time_between(monday, monday + days(7)),
        Duration::hours(40)
    );
    // The week of National Day 2026: three working days, then four days off.
    assert_eq!(
        CN.working_time_between(datetime!(2026-09-28 0:00 +8), datetime!(2026-10-05 0:00 +8)),
        Duration::hours(24)
    );
    assert_eq!(
        CN.working_time_between(monday + days(1), monday),
        Duration::ZERO
    );
}

#[test]
fn years_without_data_fall_back_to_monday_to_friday() {
    assert!(!CN.covers(2027));
    // 1 January 2027 is a Friday. It will be 元旦, but the calendar does not know yet.
    assert!(CN.is_working_day(date!(2027 - 01 - 01)));
    assert!(!CN.is_working_day(date!(2027 - 01 - 02)));
    assert_eq!(
        CN.working_periods(date!(2027 - 01 - 01)),
        &DEFAULT_WORKING_HOURS
    );
    assert_eq!(
        due(
            datetime!(2026-12-31 16:00 +8),
            days(1),
            DeadlineKind::WorkingDays
        ),
        datetime!(2027-01-01 16:00 +8)
    );
    // A calendar with no years at all is the plain rule throughout.
    let plain = WorkingCalendar::new("plain", DEFAULT_TIME_ZONE).unwrap();
    assert!(plain.is_working_day(date!(2026 - 10 - 01)));
    assert_eq!(
        plain
            .due_at(
                datetime!(2026-09-30 10:00 +8),
                days(3),
                DeadlineKind::WorkingDays
            )
            .unwrap(),
        datetime!(2026-10-05 10:00 +8)
    );
}

#[test]
fn working_days_clamp_to_the_last_period_of_the_day() {
    // 2027 works mornings only: 15:00 on its first working day is past its last period.
    let mut cal = WorkingCalendar::new("mornings", DEFAULT_TIME_ZONE).unwrap();
    cal.set_year(CalendarYear::plain("mornings", 2026)).unwrap();
    let mornings = vec![WorkingPeriod::new(time!(8:00), time!(12:00))];
    cal.set_year(CalendarYear::from_lists("mornings", 2027, &[], &[], mornings, "").unwrap())
        .unwrap();
    assert_eq!(
        cal.due_at(
            datetime!(2026-12-31 15:00 +8),
            days(1),
            DeadlineKind::WorkingDays
        )
        .unwrap(),
        datetime!(2027-01-01 12:00 +8)
    );
}

#[test]
fn other_time_zones_follow_their_own_rules() {
    // Berlin moves to summer time on Sunday 29 March 2026: Friday's last half hour is at
    // +01:00, Monday's first at +02:00.
    let cal = WorkingCalendar::new("de", "Europe/Berlin").unwrap();
    assert_eq!(
        cal.due_at(
            datetime!(2026-03-27 17:00 +1),
            Duration::hours(1),
            DeadlineKind::WorkingHours
        )
        .unwrap(),
        datetime!(2026-03-30 9:00 +2)
    );
    // A Shanghai working day seen from UTC: 00:30–04:00 and 05:00–09:30.
    assert!(CN.is_working_time(datetime!(2026-03-16 0:30 UTC)));
    assert!(!CN.is_working_time(datetime!(2026-03-16 4:30 UTC)));
}

#[test]
fn searches_are_bounded() {
    // Eleven years of nothing but holidays outlast the search.
    let mut cal = WorkingCalendar::new("never", DEFAULT_TIME_ZONE).unwrap();
    for year in 2026..=2036 {
        let mut all = Vec::new();
        let mut d = Date::from_ordinal_date(year, 1).unwrap();
        while d.year() == year {
            all.push(d);
            d = d.next_day().unwrap();
        }
        cal.set_year(CalendarYear::from_lists("never", year, &all, &[], vec![], "").unwrap())
            .unwrap();
    }
    let start = datetime!(2026-01-01 0:00 +8);
    for k in [DeadlineKind::WorkingHours, DeadlineKind::WorkingDays] {
        assert_eq!(cal.due_at(start, days(1), k), Err(CalendarError::TooFar));
    }
    assert_eq!(
        CN.due_at(start, days(365 * 20), DeadlineKind::WorkingHours),
        Err(CalendarError::TooFar)
    );
    // The longest a category allows still fits.
    assert!(
        CN.due_at(start, days(366), DeadlineKind::WorkingHours)
            .is_ok()
    );
}

fn field_of<T: std::fmt::Debug>(r: Result<T, FieldError>) -> String {
    r.unwrap_err().field
}

fn year_with(
    holidays: &[Date],
    makeup: &[Date],
    hours: Vec<WorkingPeriod>,
    zone: &str,
) -> Result<CalendarYear, FieldError> {
    CalendarYear::from_lists("cn", 2026, holidays, makeup, hours, zone)
}

#[test]
fn validation_names_the_field() {
    let d = date!(2026 - 10 - 01);
    let p = WorkingPeriod::new;
    assert!(year_with(&[d], &[], vec![], "").is_ok());
    assert_eq!(
        field_of(CalendarYear::from_lists("", 2026, &[], &[], vec![], "")),
        "calendar_code"
    );
    assert_eq!(
        field_of(CalendarYear::from_lists("c n", 2026, &[], &[], vec![], "")),
        "calendar_code"
    );
    assert_eq!(
        field_of(CalendarYear::from_lists("cn", 1999, &[], &[], vec![], "")),
        "year"
    );
    assert_eq!(
        field_of(CalendarYear::from_lists("cn", 2101, &[], &[], vec![], "")),
        "year"
    );
    let outside = date!(2025 - 12 - 31);
    assert_eq!(
        field_of(year_with(&[d, d, d, outside], &[], vec![], "")),
        "holidays[1]"
    );
    let e = year_with(&[d, date!(2026 - 10 - 02), d], &[], vec![], "").unwrap_err();
    assert_eq!(e.field, "holidays[2]");
    assert_eq!(e.reason, "2026-10-01 is a duplicate of holidays[0]");
    let e = year_with(&[d, date!(2026 - 10 - 02), outside], &[], vec![], "").unwrap_err();
    assert_eq!(e.field, "holidays[2]");
    assert_eq!(e.reason, "2025-12-31 is not in 2026");
    assert_eq!(
        field_of(year_with(&[], &[outside], vec![], "")),
        "makeup_workdays[0]"
    );
    assert_eq!(
        field_of(year_with(&[d], &[date!(2026 - 10 - 10), d], vec![], "")),
        "makeup_workdays[0]"
    );
    assert_eq!(
        field_of(year_with(&[], &[], vec![p(time!(12:00), time!(8:00))], "")),
        "working_hours[0]"
    );
    assert_eq!(
        field_of(year_with(&[], &[], vec![p(time!(8:00), time!(8:00))], "")),
        "working_hours[0]"
    );
    assert_eq!(
        field_of(year_with(
            &[],
            &[],
            vec![p(time!(8:00), time!(12:00)), p(time!(11:00), time!(13:00))],
            ""
        )),
        "working_hours[1]"
    );
    let nine = (0..9)
        .map(|h| {
            p(
                Time::from_hms(h, 0, 0).unwrap(),
                Time::from_hms(h, 30, 0).unwrap(),
            )
        })
        .collect();
    assert_eq!(field_of(year_with(&[], &[], nine, "")), "working_hours");
    assert_eq!(
        field_of(year_with(&[], &[], vec![], "Mars/Olympus_Mons")),
        "time_zone"
    );
    let e = year_with(&[], &[], vec![], "asia/shanghai").unwrap_err();
    assert_eq!(e.field, "time_zone");
    assert_eq!(e.reason, "must be spelled \"Asia/Shanghai\"");
    assert!(year_with(&[], &[], vec![], "America/New_York").is_ok());

    // A year built by hand names dates by their place in the set.
    let mut y = CalendarYear::plain("cn", 2026);
    y.holidays = [d, date!(2027 - 01 - 01)].into();
    assert_eq!(field_of(y.validate()), "holidays[1]");
    let mut y = CalendarYear::plain("cn", 2026);
    y.working_hours.clear();
    assert_eq!(field_of(y.validate()), "working_hours");

    // A calendar takes only its own code and zone.
    let mut cal = WorkingCalendar::new("cn", DEFAULT_TIME_ZONE).unwrap();
    assert_eq!(
        field_of(cal.set_year(CalendarYear::plain("xx", 2026))),
        "calendar_code"
    );
    let mut y = CalendarYear::plain("cn", 2026);
    y.time_zone = "Europe/Berlin".into();
    assert_eq!(field_of(cal.set_year(y)), "time_zone");
    assert_eq!(field_of(WorkingCalendar::new("cn", "Nowhere")), "time_zone");
}

#[test]
fn json_errors_name_the_field() {
    let parse = |years: &str| {
        WorkingCalendar::from_json(&format!(r#"{{"code": "t", "years": [{years}]}}"#))
    };
    assert!(parse(r#"{"year": 2026}"#).is_ok());
    assert_eq!(
        field_of(parse(
            r#"{"year": 2026, "holidays": ["2026-01-01", "2026-13-01"]}"#
        )),
        "years[0].holidays[1]"
    );
    assert_eq!(
        field_of(parse(
            r#"{"year": 2026}, {"year": 2027, "makeup_workdays": ["2026-01-04"]}"#
        )),
        "years[1].makeup_workdays[0]"
    );
    assert_eq!(
        field_of(parse(r#"{"year": 2026}, {"year": 2026}"#)),
        "years[1].year"
    );
    assert_eq!(
        field_of(parse(
            r#"{"year": 2026, "working_hours": [{"start": "09:00", "end": "25:00"}]}"#
        )),
        "years[0].working_hours[0].end"
    );
    // Misspelt keys are errors, not silently empty years.
    assert_eq!(
        field_of(parse(r#"{"year": 2026, "makeup_workday": []}"#)),
        "calendar"
    );
    assert_eq!(
        field_of(WorkingCalendar::from_json(r#"{"code": "", "years": []}"#)),
        "code"
    );
    assert_eq!(
        field_of(WorkingCalendar::from_json(
            r#"{"code": "t", "working_hours": [{"start": "13:00", "end": "12:00"}], "years": []}"#
        )),
        "working_hours[0]"
    );
    // Defaults for what a file leaves out; a year may bring its own hours.
    let cal = parse(
        r#"{"year": 2026}, {"year": 2027, "working_hours": [{"start": "09:00", "end": "17:00"}]}"#,
    )
    .unwrap();
    assert_eq!(cal.time_zone(), DEFAULT_TIME_ZONE);
    assert_eq!(
        cal.year(2026).unwrap().working_hours,
        DEFAULT_WORKING_HOURS.to_vec()
    );
    assert_eq!(
        cal.year(2027).unwrap().working_hours,
        vec![WorkingPeriod::new(time!(9:00), time!(17:00))]
    );
}

/// Instants from 2025 to the end of 2026 (the years the shipped data covers) and a little
/// beyond, to the microsecond.
fn instant() -> impl Strategy<Value = OffsetDateTime> {
    let from = datetime!(2025-01-01 0:00 UTC).unix_timestamp();
    let to = datetime!(2027-03-01 0:00 UTC).unix_timestamp();
    (from..to, 0..1_000_000i64).prop_map(|(s, us)| {
        OffsetDateTime::from_unix_timestamp(s).unwrap() + Duration::microseconds(us)
    })
}

/// Up to 400 working hours (about ten weeks), to the microsecond.
fn amount() -> impl Strategy<Value = Duration> {
    (0..400 * 3_600_000_000i64).prop_map(Duration::microseconds)
}

proptest! {
    #[test]
    fn working_hours_are_monotonic_and_exact(start in instant(), a in amount(), b in amount()) {
        let k = DeadlineKind::WorkingHours;
        let (lo, hi) = (a.min(b), a.max(b));
        let due_lo = CN.due_at(start, lo, k).unwrap();
        let due_hi = CN.due_at(start, hi, k).unwrap();
        prop_assert!(start <= due_lo);
        prop_assert!(due_lo <= due_hi);
        prop_assert_eq!(CN.working_time_between(start, due_lo), lo);
        prop_assert_eq!(CN.working_time_between(start, due_hi), hi);
        let warn = CN.share_point(start, due_hi, 0.8, k);
        prop_assert!(start <= warn && warn <= due_hi);
    }

    #[test]
    fn other_kinds_are_monotonic(start in instant(), a in 0..60i64, b in 0..60i64) {
        let (lo, hi) = (a.min(b), a.max(b));
        for k in [DeadlineKind::Natural, DeadlineKind::UrgentHours, DeadlineKind::WorkingDays] {
            let due_lo = CN.due_at(start, days(lo), k).unwrap();
            let due_hi = CN.due_at(start, days(hi), k).unwrap();
            prop_assert!(start <= due_lo, "{:?}: {} before {}", k, due_lo, start);
            prop_assert!(due_lo <= due_hi, "{:?}: {} days {} after {} days {}", k, lo, due_lo, hi, due_hi);
            let warn = CN.share_point(start, due_hi, 0.8, k);
            prop_assert!(start <= warn && warn <= due_hi);
        }
    }
}

#[test]
fn the_day_starts_at_local_midnight() {
    // 01:30 in Beijing is 17:30 UTC the day before; its day began at 16:00 UTC.
    let t = datetime!(2026-03-09 17:30 UTC);
    assert_eq!(CN.start_of_day(t).unwrap(), datetime!(2026-03-09 16:00 UTC));
    let noon = datetime!(2026-03-10 04:00 UTC);
    assert_eq!(
        CN.start_of_day(noon).unwrap(),
        datetime!(2026-03-09 16:00 UTC)
    );
}
