//! Working calendars: the shipped ones with the years the administrator set laid over
//! them, and the `SetCalendar` / `GetCalendar` conversions.

use time::{Date, Month, Time};
use wuzhang_app::ApiError;
use wuzhang_domain::FieldError;
use wuzhang_domain::calendar::{CalendarYear, WorkingPeriod};
use wuzhang_domain::deadline::Calendars;
use wuzhang_proto::convert;
use wuzhang_proto::v1::{Calendar, LocalDate, LocalTime, SetCalendarRequest};
use wuzhang_store::{Store, StoredCalendarYear};

/// The shipped calendars with every stored year over them.
pub async fn load(store: &dyn Store) -> Result<Calendars, ApiError> {
    let mut years = Vec::new();
    for stored in store.list_calendar_years().await? {
        years.push(CalendarYear::from_document(&stored.document).map_err(|e| {
            ApiError::internal(format!(
                "stored calendar {} {} is unreadable: {e}",
                stored.code, stored.year
            ))
        })?);
    }
    Calendars::with_years(years).map_err(|e| ApiError::internal(e.to_string()))
}

fn date(field: String, d: &LocalDate) -> Result<Date, FieldError> {
    let month = u8::try_from(d.month)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or_else(|| FieldError::new(format!("{field}.month"), "must be 1 to 12"))?;
    let day = u8::try_from(d.day)
        .map_err(|_| FieldError::new(format!("{field}.day"), "must be 1 to 31"))?;
    Date::from_calendar_date(d.year, month, day).map_err(|_| {
        FieldError::new(
            field,
            format!("{}-{}-{} is not a date", d.year, d.month, d.day),
        )
    })
}

fn time_of_day(field: String, t: &Option<LocalTime>) -> Result<Time, FieldError> {
    let t = t
        .as_ref()
        .ok_or_else(|| FieldError::new(field.clone(), "is required"))?;
    let h = u8::try_from(t.hours).ok().filter(|h| *h < 24);
    let m = u8::try_from(t.minutes).ok().filter(|m| *m < 60);
    match (h, m) {
        (Some(h), Some(m)) => Ok(Time::from_hms(h, m, 0).expect("checked ranges")),
        _ => Err(FieldError::new(field, "must be 00:00 to 23:59")),
    }
}

/// A year from the request, checked field by field.
pub fn year_of(r: &SetCalendarRequest) -> Result<CalendarYear, FieldError> {
    let dates = |name: &str, list: &[LocalDate]| {
        list.iter()
            .enumerate()
            .map(|(i, d)| date(format!("{name}[{i}]"), d))
            .collect::<Result<Vec<_>, _>>()
    };
    let holidays = dates("holidays", &r.holidays)?;
    let makeup = dates("makeup_workdays", &r.makeup_workdays)?;
    let hours = r
        .working_hours
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Ok(WorkingPeriod::new(
                time_of_day(format!("working_hours[{i}].start"), &p.start)?,
                time_of_day(format!("working_hours[{i}].end"), &p.end)?,
            ))
        })
        .collect::<Result<Vec<_>, FieldError>>()?;
    CalendarYear::from_lists(
        r.calendar_code.clone(),
        r.year,
        &holidays,
        &makeup,
        hours,
        r.time_zone.clone(),
    )
}

/// A year as the API shows it.
pub fn to_wire(y: &CalendarYear, updated_at: Option<time::OffsetDateTime>) -> Calendar {
    let d = |d: &Date| LocalDate {
        year: d.year(),
        month: i32::from(u8::from(d.month())),
        day: i32::from(d.day()),
    };
    let t = |t: &Time| LocalTime {
        hours: i32::from(t.hour()),
        minutes: i32::from(t.minute()),
    };
    Calendar {
        code: y.code.clone(),
        year: y.year,
        holidays: y.holidays.iter().map(d).collect(),
        makeup_workdays: y.makeup_workdays.iter().map(d).collect(),
        working_hours: y
            .working_hours
            .iter()
            .map(|p| wuzhang_proto::v1::WorkingPeriod {
                start: Some(t(&p.start)),
                end: Some(t(&p.end)),
            })
            .collect(),
        time_zone: y.time_zone.clone(),
        updated_at: updated_at.map(convert::timestamp),
    }
}

/// The record the store keeps for a year.
pub fn stored(y: &CalendarYear, at: time::OffsetDateTime) -> StoredCalendarYear {
    StoredCalendarYear {
        code: y.code.clone(),
        year: y.year,
        document: y.to_document(),
        updated_at: at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wuzhang_proto::v1::WorkingPeriod as WirePeriod;

    fn day(year: i32, month: i32, day: i32) -> LocalDate {
        LocalDate { year, month, day }
    }

    fn at(hours: i32, minutes: i32) -> Option<LocalTime> {
        Some(LocalTime { hours, minutes })
    }

    fn request() -> SetCalendarRequest {
        SetCalendarRequest {
            request_id: "r1".into(),
            calendar_code: "changchun".into(),
            year: 2027,
            holidays: vec![day(2027, 10, 1), day(2027, 10, 4)],
            makeup_workdays: vec![day(2027, 10, 9)],
            working_hours: vec![WirePeriod {
                start: at(8, 30),
                end: at(17, 0),
            }],
            time_zone: "Asia/Shanghai".into(),
        }
    }

    #[test]
    fn a_year_round_trips_through_the_wire() {
        let year = year_of(&request()).unwrap();
        assert_eq!(year.holidays.len(), 2);
        let wire = to_wire(&year, None);
        let back = year_of(&SetCalendarRequest {
            request_id: "r2".into(),
            calendar_code: wire.code,
            year: wire.year,
            holidays: wire.holidays,
            makeup_workdays: wire.makeup_workdays,
            working_hours: wire.working_hours,
            time_zone: wire.time_zone,
        })
        .unwrap();
        assert_eq!(back, year);
        let kept = stored(&year, time::macros::datetime!(2027-01-01 0:00 UTC));
        assert_eq!(CalendarYear::from_document(&kept.document).unwrap(), year);
    }

    #[test]
    fn each_bad_value_names_its_field() {
        type Spoil = fn(&mut SetCalendarRequest);
        let cases: [(&str, Spoil); 5] = [
            ("holidays[1].month", |r| r.holidays[1].month = 13),
            // 31 November: each part in range, the date not there.
            ("holidays[0]", |r| r.holidays[0] = day(2027, 11, 31)),
            ("makeup_workdays[0].day", |r| r.makeup_workdays[0].day = -1),
            ("working_hours[0].end", |r| {
                r.working_hours[0].end = at(24, 0)
            }),
            ("working_hours[0].start", |r| {
                r.working_hours[0].start = None
            }),
        ];
        for (field, spoil) in cases {
            let mut r = request();
            spoil(&mut r);
            let err = year_of(&r).unwrap_err();
            assert_eq!(err.field, field, "{err}");
        }
    }
}
