//! Conversions between `wuzhang-domain` types and the generated ones. Outbound (domain →
//! wire) is `From` or a function when the caller decides something (what a viewer may see);
//! inbound (wire → domain) returns a [`FieldError`] naming the bad field, which the edge
//! turns into a `google.rpc.BadRequest`.

use prost_types::{Duration as PbDuration, Timestamp};
use time::{Duration, OffsetDateTime};
use wuzhang_domain::FieldError;
use wuzhang_domain::area::{Area, AreaLevel, BBox};
use wuzhang_domain::category::{Category, CategoryCode, CategoryKind, DeadlineKind};
use wuzhang_domain::chief::ChiefLevel;
use wuzhang_domain::event::{EventKind, TicketEvent};
use wuzhang_domain::organization::{Organization, OrganizationKind};
use wuzhang_domain::point::{Crs, GeoPoint};
use wuzhang_domain::ticket::{Pause, Severity, Ticket, TicketState};

use crate::v1;

// ------------------------------------------------------------------ time

pub fn timestamp(t: OffsetDateTime) -> Timestamp {
    Timestamp {
        seconds: t.unix_timestamp(),
        nanos: t.nanosecond() as i32,
    }
}

pub fn opt_timestamp(t: Option<OffsetDateTime>) -> Option<Timestamp> {
    t.map(timestamp)
}

/// A wire timestamp as a time, or an error naming `field`.
pub fn from_timestamp(field: &str, t: &Timestamp) -> Result<OffsetDateTime, FieldError> {
    let nanos = u32::try_from(t.nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)
        .ok_or_else(|| FieldError::new(field, "nanos must be within [0, 1e9)"))?;
    OffsetDateTime::from_unix_timestamp(t.seconds)
        .ok()
        .and_then(|s| s.replace_nanosecond(nanos).ok())
        .map(wuzhang_domain::clock::truncate_to_micros)
        .ok_or_else(|| FieldError::new(field, "is out of range"))
}

pub fn duration(d: Duration) -> PbDuration {
    PbDuration {
        seconds: d.whole_seconds(),
        nanos: d.subsec_nanoseconds(),
    }
}

pub fn from_duration(field: &str, d: &PbDuration) -> Result<Duration, FieldError> {
    if d.nanos.abs() >= 1_000_000_000
        || (d.seconds != 0 && d.nanos != 0 && (d.seconds < 0) != (d.nanos < 0))
    {
        return Err(FieldError::new(field, "is not a valid duration"));
    }
    Ok(Duration::new(d.seconds, d.nanos))
}

// ------------------------------------------------------------------ enums

/// Generates the two-way mapping between a domain enum and a generated one. Wire value 0
/// (`*_UNSPECIFIED`) maps to `None`; unknown numbers are a field error.
macro_rules! enum_map {
    ($domain:ty, $wire:ty, $to_wire:ident, $from_wire:ident, { $($d:path => $w:path),+ $(,)? }) => {
        pub fn $to_wire(v: $domain) -> $wire {
            match v { $($d => $w),+ }
        }

        /// `None` for the unspecified value; an error naming `field` for an unknown number.
        pub fn $from_wire(field: &str, v: i32) -> Result<Option<$domain>, FieldError> {
            match <$wire>::try_from(v) {
                $(Ok($w) => Ok(Some($d)),)+
                Ok(_) => Ok(None),
                Err(_) => Err(FieldError::new(field, format!("unknown value {v}"))),
            }
        }
    };
}

/// A repeated enum field from the wire, each value through `one` (a `*_from_wire`):
/// unknown numbers and the unspecified value are errors naming `field[i]`.
pub fn all_set<T>(
    field: &str,
    values: &[i32],
    one: impl Fn(&str, i32) -> Result<Option<T>, FieldError>,
) -> Result<Vec<T>, FieldError> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let name = format!("{field}[{i}]");
            one(&name, *v)?.ok_or_else(|| FieldError::new(name, "must be set, not unspecified"))
        })
        .collect()
}

enum_map!(Crs, v1::Crs, crs, crs_from_wire, {
    Crs::Wgs84 => v1::Crs::Wgs84,
    Crs::Gcj02 => v1::Crs::Gcj02,
    Crs::Bd09 => v1::Crs::Bd09,
    Crs::Cgcs2000 => v1::Crs::Cgcs2000,
});

enum_map!(AreaLevel, v1::AreaLevel, area_level, area_level_from_wire, {
    AreaLevel::District => v1::AreaLevel::District,
    AreaLevel::Subdistrict => v1::AreaLevel::Subdistrict,
    AreaLevel::Street => v1::AreaLevel::Street,
    AreaLevel::Lane => v1::AreaLevel::Lane,
    AreaLevel::Grid => v1::AreaLevel::Grid,
    AreaLevel::Building => v1::AreaLevel::Building,
    AreaLevel::Unit => v1::AreaLevel::Unit,
});

enum_map!(OrganizationKind, v1::OrganizationKind, organization_kind, organization_kind_from_wire, {
    OrganizationKind::Department => v1::OrganizationKind::Department,
    OrganizationKind::PropertyCompany => v1::OrganizationKind::PropertyCompany,
    OrganizationKind::AllianceUnit => v1::OrganizationKind::AllianceUnit,
});

impl From<&Organization> for v1::Organization {
    fn from(o: &Organization) -> Self {
        v1::Organization {
            code: o.code.to_string(),
            name: o.name.clone(),
            kind: organization_kind(o.kind) as i32,
            org_type: o.org_type.clone(),
            red_heart: o.red_heart,
            area_codes: o.areas.iter().map(ToString::to_string).collect(),
            staff_person_ids: o.staff.iter().map(ToString::to_string).collect(),
            calendar_code: o.calendar_code.clone().unwrap_or_default(),
        }
    }
}

enum_map!(ChiefLevel, v1::ChiefLevel, chief_level, chief_level_from_wire, {
    ChiefLevel::Unit => v1::ChiefLevel::Unit,
    ChiefLevel::Building => v1::ChiefLevel::Building,
    ChiefLevel::Grid => v1::ChiefLevel::Grid,
    ChiefLevel::Lane => v1::ChiefLevel::Lane,
    ChiefLevel::Street => v1::ChiefLevel::Street,
    ChiefLevel::CommandCenter => v1::ChiefLevel::CommandCenter,
});

enum_map!(TicketState, v1::TicketState, ticket_state, ticket_state_from_wire, {
    TicketState::Submitted => v1::TicketState::Submitted,
    TicketState::Assigned => v1::TicketState::Assigned,
    TicketState::Accepted => v1::TicketState::Accepted,
    TicketState::Resolved => v1::TicketState::Resolved,
    TicketState::Closed => v1::TicketState::Closed,
    TicketState::Rejected => v1::TicketState::Rejected,
    TicketState::Cancelled => v1::TicketState::Cancelled,
    TicketState::Merged => v1::TicketState::Merged,
});

enum_map!(EventKind, v1::EventKind, event_kind, event_kind_from_wire, {
    EventKind::Submitted => v1::EventKind::Submitted,
    EventKind::Assigned => v1::EventKind::Assigned,
    EventKind::Accepted => v1::EventKind::Accepted,
    EventKind::Resolved => v1::EventKind::Resolved,
    EventKind::Closed => v1::EventKind::Closed,
    EventKind::Rejected => v1::EventKind::Rejected,
    EventKind::Cancelled => v1::EventKind::Cancelled,
    EventKind::Merged => v1::EventKind::Merged,
    EventKind::Reopened => v1::EventKind::Reopened,
    EventKind::Escalated => v1::EventKind::Escalated,
    EventKind::AutoEscalated => v1::EventKind::AutoEscalated,
    EventKind::DeadlineWarning => v1::EventKind::DeadlineWarning,
    EventKind::Note => v1::EventKind::Note,
    EventKind::Supervised => v1::EventKind::Supervised,
    EventKind::Verified => v1::EventKind::Verified,
    EventKind::Reassigned => v1::EventKind::Reassigned,
    EventKind::Rated => v1::EventKind::Rated,
    EventKind::PauseRequested => v1::EventKind::PauseRequested,
    EventKind::PauseApproved => v1::EventKind::PauseApproved,
    EventKind::PauseRefused => v1::EventKind::PauseRefused,
    EventKind::Resumed => v1::EventKind::Resumed,
    EventKind::ReporterJoined => v1::EventKind::ReporterJoined,
    EventKind::ClockRateChanged => v1::EventKind::ClockRateChanged,
    EventKind::Dispatched => v1::EventKind::Dispatched,
    EventKind::Returned => v1::EventKind::Returned,
});

enum_map!(Pause, v1::PauseState, pause, pause_from_wire, {
    Pause::None => v1::PauseState::None,
    Pause::Requested => v1::PauseState::Requested,
    Pause::Paused => v1::PauseState::Paused,
});

enum_map!(Severity, v1::SupervisionSeverity, severity, severity_from_wire, {
    Severity::Normal => v1::SupervisionSeverity::Normal,
    Severity::Serious => v1::SupervisionSeverity::Serious,
    Severity::Critical => v1::SupervisionSeverity::Critical,
});

enum_map!(CategoryKind, v1::CategoryKind, category_kind, category_kind_from_wire, {
    CategoryKind::Component => v1::CategoryKind::Component,
    CategoryKind::Event => v1::CategoryKind::Event,
});

enum_map!(DeadlineKind, v1::DeadlineKind, deadline_kind, deadline_kind_from_wire, {
    DeadlineKind::Natural => v1::DeadlineKind::Natural,
    DeadlineKind::UrgentHours => v1::DeadlineKind::UrgentHours,
    DeadlineKind::WorkingHours => v1::DeadlineKind::WorkingHours,
    DeadlineKind::WorkingDays => v1::DeadlineKind::WorkingDays,
});

fn required<T>(field: &str, v: Option<T>) -> Result<T, FieldError> {
    v.ok_or_else(|| FieldError::new(field, "is required"))
}

// ------------------------------------------------------------------ messages

impl From<GeoPoint> for v1::GeoPoint {
    fn from(p: GeoPoint) -> Self {
        v1::GeoPoint {
            lat: p.lat(),
            lng: p.lng(),
            crs: crs(p.crs()) as i32,
        }
    }
}

impl TryFrom<&v1::GeoPoint> for GeoPoint {
    type Error = FieldError;
    /// Unspecified CRS means WGS84, as DESIGN.md says.
    fn try_from(p: &v1::GeoPoint) -> Result<Self, FieldError> {
        let c = crs_from_wire("crs", p.crs)?.unwrap_or_default();
        GeoPoint::new(p.lat, p.lng, c)
    }
}

impl From<BBox> for v1::BBox {
    fn from(b: BBox) -> Self {
        v1::BBox {
            min_lat: b.min_lat,
            min_lng: b.min_lng,
            max_lat: b.max_lat,
            max_lng: b.max_lng,
        }
    }
}

impl TryFrom<&v1::BBox> for BBox {
    type Error = FieldError;
    fn try_from(b: &v1::BBox) -> Result<Self, FieldError> {
        let bbox = BBox {
            min_lng: b.min_lng,
            min_lat: b.min_lat,
            max_lng: b.max_lng,
            max_lat: b.max_lat,
        };
        bbox.validate()?;
        Ok(bbox)
    }
}

impl From<&Area> for v1::Area {
    fn from(a: &Area) -> Self {
        v1::Area {
            code: a.code.to_string(),
            name: a.name.clone(),
            level: area_level(a.level) as i32,
            parent_code: a
                .parent_code
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            community: a.community.clone().unwrap_or_default(),
            bbox: a.bbox.map(Into::into),
            centroid: a.bbox.and_then(|b| {
                GeoPoint::new(
                    (b.min_lat + b.max_lat) / 2.0,
                    (b.min_lng + b.max_lng) / 2.0,
                    Crs::Wgs84,
                )
                .ok()
                .map(Into::into)
            }),
            updated_at: None,
            geojson: String::new(),
        }
    }
}

impl From<&TicketEvent> for v1::TicketEvent {
    fn from(e: &TicketEvent) -> Self {
        let ev = &e.event;
        v1::TicketEvent {
            ticket_id: e.ticket_id.to_string(),
            seq: e.seq,
            kind: event_kind(ev.kind) as i32,
            actor: ev.actor.clone(),
            from_state: ev.from_state.map_or(0, |s| ticket_state(s) as i32),
            to_state: ticket_state(ev.to_state) as i32,
            level: ev.level.map_or(0, |l| chief_level(l) as i32),
            note: ev.note.clone(),
            at: Some(timestamp(ev.at)),
            assignee_person_id: ev
                .assignee_person_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            subdistrict_code: e.subdistrict_code.to_string(),
            cursor: String::new(),
            organization_code: ev
                .assignee_org_code
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        }
    }
}

/// Who is looking at a ticket decides what of it they see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneVisibility {
    /// The assigned chief and the command center call the resident back.
    Full,
    /// Everyone else sees only the last four digits.
    Masked,
}

/// Masks all but the last four characters of a phone number: `138****5678`.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 4 {
        return "*".repeat(chars.len());
    }
    let keep_head = if chars.len() >= 11 { 3 } else { 0 };
    let tail = chars.len() - 4;
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < keep_head || i >= tail { *c } else { '*' })
        .collect()
}

/// A ticket as a viewer sees it. `now` decides `overdue`.
pub fn ticket(t: &Ticket, phone: PhoneVisibility, now: OffsetDateTime) -> v1::Ticket {
    let r = &t.report;
    let overdue = t.state.is_open() && t.next_deadline().is_some_and(|due| due < now);
    v1::Ticket {
        id: t.id.to_string(),
        state: ticket_state(t.state) as i32,
        category_code: r.category_code.to_string(),
        description: r.description.clone(),
        location: Some(r.location.into()),
        grid_code: t.grid_code.to_string(),
        subdistrict_code: t.subdistrict_code.to_string(),
        level: t.level().map_or(0, |l| chief_level(l) as i32),
        assignee_person_id: t
            .assignment
            .as_ref()
            .and_then(|a| a.person_id.as_ref())
            .map(ToString::to_string)
            .unwrap_or_default(),
        accept_due_at: opt_timestamp(t.accept_due_at),
        resolve_due_at: opt_timestamp(t.resolve_due_at),
        created_at: Some(timestamp(t.created_at)),
        updated_at: Some(timestamp(t.updated_at)),
        duplicate_of: t.duplicate_of.map(|d| d.to_string()).unwrap_or_default(),
        original_location: Some(r.original_location.into()),
        address: r.address.clone(),
        building_code: r
            .building_code
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        unit_code: r
            .unit_code
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        media_urls: r.media_urls.clone(),
        contact_phone: match (&r.contact_phone, phone) {
            (Some(p), PhoneVisibility::Full) => p.clone(),
            (Some(p), PhoneVisibility::Masked) => mask_phone(p),
            (None, _) => String::new(),
        },
        reporter_id: r.reporter_id.clone(),
        urgent: r.urgent,
        version: t.version,
        assignee_area_code: t
            .assignment
            .as_ref()
            .map(|a| a.area_code.to_string())
            .unwrap_or_default(),
        supervision_count: i32::try_from(t.supervision_count).unwrap_or(i32::MAX),
        rating: t.rating.as_ref().map(|r| v1::Rating {
            stars: i32::from(r.stars),
            not_solved: r.not_solved,
            comment: r.comment.clone(),
            rated_at: None,
        }),
        events: Vec::new(),
        pause: pause(t.pause) as i32,
        pause_until: None,
        supervision: t.supervision.as_ref().map(|o| v1::SupervisionOrder {
            severity: severity(o.severity) as i32,
            deadline: Some(timestamp(o.deadline)),
            note: o.note.clone(),
            issued_by: o.issued_by.clone(),
            issued_at: Some(timestamp(o.issued_at)),
        }),
        overdue,
        category_name: String::new(),
        clock_rate: t.clock_rate.factor(),
        organization_code: t
            .assignment
            .as_ref()
            .and_then(|a| a.organization.as_ref())
            .map(ToString::to_string)
            .unwrap_or_default(),
    }
}

impl From<&Category> for v1::Category {
    fn from(c: &Category) -> Self {
        v1::Category {
            code: c.code.to_string(),
            name: c.name.clone(),
            parent_code: c
                .parent_code
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            kind: category_kind(c.kind) as i32,
            start_level: chief_level(c.start_level) as i32,
            accept_within: Some(duration(c.accept_within)),
            resolve_within: Some(duration(c.resolve_within)),
            deadline_kind: deadline_kind(c.deadline_kind) as i32,
            urgent: c.urgent,
            calendar_code: c.calendar_code.clone(),
            duplicate_radius_m: c.duplicate_radius_m,
            duplicate_window: Some(duration(c.duplicate_window)),
            active: c.active,
            updated_at: None,
            reopen_on_not_solved: c.reopen_on_not_solved,
            organization_type: c.organization_type.clone().unwrap_or_default(),
        }
    }
}

impl TryFrom<&v1::Category> for Category {
    type Error = FieldError;
    /// A category from the wire, checked field by field and then as a whole.
    fn try_from(c: &v1::Category) -> Result<Self, FieldError> {
        let within = |field: &str, d: &Option<PbDuration>| {
            from_duration(field, required(field, d.as_ref())?)
        };
        let category = Category {
            code: CategoryCode::new(c.code.as_str())
                .map_err(|e| FieldError::new("code", e.reason))?,
            name: c.name.clone(),
            parent_code: match c.parent_code.as_str() {
                "" => None,
                p => Some(
                    CategoryCode::new(p).map_err(|e| FieldError::new("parent_code", e.reason))?,
                ),
            },
            kind: required("kind", category_kind_from_wire("kind", c.kind)?)?,
            start_level: required(
                "start_level",
                chief_level_from_wire("start_level", c.start_level)?,
            )?,
            accept_within: within("accept_within", &c.accept_within)?,
            resolve_within: within("resolve_within", &c.resolve_within)?,
            deadline_kind: deadline_kind_from_wire("deadline_kind", c.deadline_kind)?
                .unwrap_or(DeadlineKind::Natural),
            urgent: c.urgent,
            calendar_code: if c.calendar_code.is_empty() {
                wuzhang_domain::category::DEFAULT_CALENDAR.to_owned()
            } else {
                c.calendar_code.clone()
            },
            duplicate_radius_m: c.duplicate_radius_m,
            duplicate_window: match &c.duplicate_window {
                Some(d) => from_duration("duplicate_window", d)?,
                None => Duration::ZERO,
            },
            active: c.active,
            reopen_on_not_solved: c.reopen_on_not_solved,
            organization_type: Some(c.organization_type.clone()).filter(|t| !t.is_empty()),
        };
        category.validate()?;
        Ok(category)
    }
}

#[cfg(test)]
mod tests;
