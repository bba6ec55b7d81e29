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
