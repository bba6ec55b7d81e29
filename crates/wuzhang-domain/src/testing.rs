//! Values the domain's tests share: a category with deadlines, a report, a grid ticket.

use time::{Duration, OffsetDateTime};

use crate::area::AreaCode;
use crate::category::{Category, CategoryCode, CategoryKind, DeadlineKind};
use crate::chief::{ChiefLevel, PersonId};
use crate::point::{Crs, GeoPoint};
use crate::ticket::{Assignment, Report, Ticket, TicketId};

/// 暴露垃圾: accept within 2 hours, resolve within 3 days, counted as `kind` on the
/// calendar `calendar_code` (an unknown one falls back to the default).
pub(crate) fn category(kind: DeadlineKind, calendar_code: &str) -> Category {
    Category {
        code: CategoryCode::new("E0102").unwrap(),
        name: "暴露垃圾".into(),
        parent_code: None,
        kind: CategoryKind::Event,
        start_level: ChiefLevel::Grid,
        accept_within: Duration::hours(2),
        resolve_within: Duration::days(3),
        deadline_kind: kind,
        urgent: false,
        calendar_code: calendar_code.into(),
        duplicate_radius_m: 0.0,
        duplicate_window: Duration::ZERO,
        active: true,
        reopen_on_not_solved: false,
        organization_type: None,
    }
}

/// A resident's report of that category in Changchun.
pub(crate) fn report() -> Report {
    let p = GeoPoint::new(43.88, 125.35, Crs::Wgs84).unwrap();
    Report {
        category_code: CategoryCode::new("E0102").unwrap(),
        description: "垃圾满溢".into(),
        location: p,
        original_location: p,
        address: String::new(),
        building_code: None,
        unit_code: None,
        media_urls: vec![],
        contact_phone: None,
        reporter_id: "resident-1".into(),
        urgent: false,
    }
}

/// The grid post of the test grid.
pub(crate) fn grid_post() -> Assignment {
    post(ChiefLevel::Grid, "220102001001001")
}

/// The post of `level` on `area`, held by `p-<area>`.
pub(crate) fn post(level: ChiefLevel, area: &str) -> Assignment {
    Assignment {
        level,
        area_code: AreaCode::new(area).unwrap(),
        person_id: Some(PersonId::new(format!("p-{area}")).unwrap()),
        organization: None,
    }
}

/// A ticket of [`report`] submitted at `now` in the test grid, owned by its grid post
/// (still SUBMITTED: set the state the test needs).
pub(crate) fn grid_ticket(now: OffsetDateTime) -> Ticket {
    let sub = AreaCode::new("220102001").unwrap();
    let grid = AreaCode::new("220102001001001").unwrap();
    let (mut ticket, _) = Ticket::submit(TicketId::new(now), report(), grid, sub, now);
    ticket.assignment = Some(grid_post());
    ticket
}
