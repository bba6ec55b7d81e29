//! Conversions between domain values and the column values both backends store, so the
//! two implementations differ only in SQL and in how a column's type is spelled (uuid vs
//! text, timestamptz vs integer microseconds), never in what a value means.
//!
//! Layout: here, the `*Columns` of each table and the conversions of single values;
//! `wkb`, checking and normalising geometry; `macros`, the row decoders and the ticket
//! binder each backend expands for its own row and query types.

use std::fmt::Display;
use std::str::FromStr;

use time::{Duration, OffsetDateTime};
use uuid::Uuid;
use wuzhang_domain::area::{Area, AreaCode, AreaLevel, BBox};
use wuzhang_domain::category::{Category, CategoryCode, CategoryKind, DeadlineKind};
use wuzhang_domain::chief::{ChiefLevel, LeavePeriod, Person, PersonId, Post};
use wuzhang_domain::clock::truncate_to_micros;
use wuzhang_domain::emergency::ClockRate;
use wuzhang_domain::event::{EventFacts, EventKind, NewEvent, TicketEvent};
use wuzhang_domain::organization::{Organization, OrganizationKind};
use wuzhang_domain::point::GeoPoint;
use wuzhang_domain::ticket::{Assignment, Pause, Rating, Report, Ticket, TicketId, TicketState};
use wuzhang_domain::timer::{Timer, TimerKind};

use crate::error::{Result, StoreError};
use crate::model::{IdempotencyRecord, StoredCalendarYear};

/// Parses a stored TEXT value; a value the domain does not know means corrupt data.
pub(crate) fn parse<T>(column: &'static str, value: &str) -> Result<T>
where
    T: FromStr,
    T::Err: Display,
{
    value
        .parse()
        .map_err(|e| StoreError::internal(format!("column {column}: {e}")))
}

pub(crate) fn parse_opt<T>(column: &'static str, value: Option<&str>) -> Result<Option<T>>
where
    T: FromStr,
    T::Err: Display,
{
    value.map(|v| parse(column, v)).transpose()
}

/// Unix microseconds: how SQLite keeps instants (Postgres' precision, so both agree).
pub(crate) fn to_micros(t: OffsetDateTime) -> i64 {
    // Years 1..9999 in microseconds fit in an i64 many times over.
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000)).unwrap_or(i64::MAX)
}

pub(crate) fn from_micros(column: &'static str, micros: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|e| StoreError::internal(format!("column {column}: {e}")))
}

/// Whole seconds of a category duration; sub-second parts would not survive the store.
fn whole_seconds(field: &'static str, d: Duration) -> Result<i64> {
    if d.subsec_nanoseconds() != 0 {
        return Err(StoreError::invalid(
            field,
            "must be a whole number of seconds",
        ));
    }
    Ok(d.whole_seconds())
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(StoreError::internal)
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    column: &'static str,
    text: &str,
) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::internal(format!("column {column}: {e}")))
}

pub(crate) fn code<T>(column: &'static str, value: String) -> Result<T>
where
    T: TryFrom<String>,
    T::Error: Display,
{
    T::try_from(value).map_err(|e| StoreError::internal(format!("column {column}: {e}")))
}

fn code_opt<T>(column: &'static str, value: Option<String>) -> Result<Option<T>>
where
    T: TryFrom<String>,
    T::Error: Display,
{
    value.map(|v| code(column, v)).transpose()
}

fn point(column: &'static str, lat: f64, lng: f64, crs: &str) -> Result<GeoPoint> {
    GeoPoint::new(lat, lng, parse(column, crs)?)
        .map_err(|e| StoreError::internal(format!("column {column}: {e}")))
}

// ------------------------------------------------------------------------ areas

/// The columns of one `areas` row, geometry as WKB.
#[derive(Debug, Clone)]
pub(crate) struct AreaColumns {
    pub(crate) code: String,
    pub(crate) name: String,
    pub(crate) level: String,
    pub(crate) parent_code: Option<String>,
    pub(crate) community: Option<String>,
    pub(crate) min_lng: Option<f64>,
    pub(crate) min_lat: Option<f64>,
    pub(crate) max_lng: Option<f64>,
    pub(crate) max_lat: Option<f64>,
    pub(crate) geom: Option<Vec<u8>>,
}

impl AreaColumns {
    pub(crate) fn new(area: &Area, geom: Option<Vec<u8>>) -> Self {
        Self {
            code: area.code.as_str().to_owned(),
            name: area.name.clone(),
            level: area.level.as_str().to_owned(),
            parent_code: area.parent_code.as_ref().map(|c| c.as_str().to_owned()),
            community: area.community.clone(),
            min_lng: area.bbox.map(|b| b.min_lng),
            min_lat: area.bbox.map(|b| b.min_lat),
            max_lng: area.bbox.map(|b| b.max_lng),
            max_lat: area.bbox.map(|b| b.max_lat),
            geom,
        }
    }

    pub(crate) fn into_area(self) -> Result<Area> {
        let bbox = match (self.min_lng, self.min_lat, self.max_lng, self.max_lat) {
            (Some(min_lng), Some(min_lat), Some(max_lng), Some(max_lat)) => Some(BBox {
                min_lng,
                min_lat,
                max_lng,
                max_lat,
            }),
            _ => None,
        };
        Ok(Area {
            code: code("code", self.code)?,
            name: self.name,
            level: parse::<AreaLevel>("level", &self.level)?,
            parent_code: code_opt("parent_code", self.parent_code)?,
            community: self.community,
            bbox,
        })
    }
}

// ------------------------------------------------------------------------ roster

pub(crate) struct PostColumns {
    pub(crate) area_code: String,
    pub(crate) level: String,
    pub(crate) holder: Option<String>,
    pub(crate) deputy: Option<String>,
    pub(crate) leave: String,
}

impl PostColumns {
    pub(crate) fn new(post: &Post) -> Result<Self> {
        Ok(Self {
            area_code: post.area_code.as_str().to_owned(),
            level: post.level.as_str().to_owned(),
            holder: post.holder.as_ref().map(|p| p.as_str().to_owned()),
            deputy: post.deputy.as_ref().map(|p| p.as_str().to_owned()),
            leave: to_json(&post.leave)?,
        })
    }

    pub(crate) fn into_post(self) -> Result<Post> {
        Ok(Post {
            area_code: code("area_code", self.area_code)?,
            level: parse::<ChiefLevel>("level", &self.level)?,
            holder: code_opt::<PersonId>("holder", self.holder)?,
            deputy: code_opt::<PersonId>("deputy", self.deputy)?,
            leave: from_json::<Vec<LeavePeriod>>("leave", &self.leave)?,
        })
    }
}

pub(crate) fn person(id: String, name: String, phone: Option<String>) -> Result<Person> {
    Ok(Person {
        id: code("id", id)?,
        name,
        phone,
    })
}

// ------------------------------------------------------------------------ categories

pub(crate) struct CategoryColumns {
    pub(crate) code: String,
    pub(crate) name: String,
    pub(crate) parent_code: Option<String>,
    pub(crate) kind: String,
    pub(crate) start_level: String,
    pub(crate) accept_within_s: i64,
    pub(crate) resolve_within_s: i64,
    pub(crate) deadline_kind: String,
    pub(crate) urgent: bool,
    pub(crate) calendar_code: String,
    pub(crate) duplicate_radius_m: f64,
    pub(crate) duplicate_window_s: i64,
    pub(crate) active: bool,
    pub(crate) reopen_on_not_solved: bool,
    pub(crate) organization_type: Option<String>,
}

impl CategoryColumns {
    /// Validates the category (domain rules plus whole-second durations) and flattens it.
    pub(crate) fn new(c: &Category) -> Result<Self> {
        c.validate()
            .map_err(|e| StoreError::invalid(e.field, e.reason))?;
        Ok(Self {
            code: c.code.as_str().to_owned(),
            name: c.name.clone(),
            parent_code: c.parent_code.as_ref().map(|p| p.as_str().to_owned()),
            kind: c.kind.as_str().to_owned(),
            start_level: c.start_level.as_str().to_owned(),
            accept_within_s: whole_seconds("accept_within", c.accept_within)?,
            resolve_within_s: whole_seconds("resolve_within", c.resolve_within)?,
            deadline_kind: c.deadline_kind.as_str().to_owned(),
            urgent: c.urgent,
            calendar_code: c.calendar_code.clone(),
            duplicate_radius_m: c.duplicate_radius_m,
            duplicate_window_s: whole_seconds("duplicate_window", c.duplicate_window)?,
            active: c.active,
            reopen_on_not_solved: c.reopen_on_not_solved,
            organization_type: c.organization_type.clone(),
        })
    }

    pub(crate) fn into_category(self) -> Result<Category> {
        Ok(Category {
            code: code::<CategoryCode>("code", self.code)?,
            name: self.name,
            parent_code: code_opt::<CategoryCode>("parent_code", self.parent_code)?,
            kind: parse::<CategoryKind>("kind", &self.kind)?,
            start_level: parse::<ChiefLevel>("start_level", &self.start_level)?,
            accept_within: Duration::seconds(self.accept_within_s),
            resolve_within: Duration::seconds(self.resolve_within_s),
            deadline_kind: parse::<DeadlineKind>("deadline_kind", &self.deadline_kind)?,
            urgent: self.urgent,
            calendar_code: self.calendar_code,
            duplicate_radius_m: self.duplicate_radius_m,
            duplicate_window: Duration::seconds(self.duplicate_window_s),
            active: self.active,
            reopen_on_not_solved: self.reopen_on_not_solved,
            organization_type: self.organization_type,
        })
    }
}

// ------------------------------------------------------------------------ organizations

/// An `organizations` row: its lists as JSON.
pub(crate) struct OrganizationColumns {
    pub(crate) code: String,
    pub(crate) name: String,
    pub(crate) kind: String,
    pub(crate) org_type: String,
    pub(crate) red_heart: bool,
    pub(crate) areas: String,
    pub(crate) staff: String,
    pub(crate) calendar_code: Option<String>,
}

impl OrganizationColumns {
    pub(crate) fn new(o: &Organization) -> Result<Self> {
        o.validate()
            .map_err(|e| StoreError::invalid(e.field, e.reason))?;
        Ok(Self {
            code: o.code.as_str().to_owned(),
            name: o.name.clone(),
            kind: o.kind.as_str().to_owned(),
            org_type: o.org_type.clone(),
            red_heart: o.red_heart,
            areas: to_json(&o.areas)?,
            staff: to_json(&o.staff)?,
            calendar_code: o.calendar_code.clone(),
        })
    }

    pub(crate) fn into_organization(self) -> Result<Organization> {
        Ok(Organization {
            code: code("code", self.code)?,
            name: self.name,
            kind: parse::<OrganizationKind>("kind", &self.kind)?,
            org_type: self.org_type,
            red_heart: self.red_heart,
            areas: from_json("areas", &self.areas)?,
            staff: from_json("staff", &self.staff)?,
            calendar_code: self.calendar_code,
        })
    }
}

// ------------------------------------------------------------------------ tickets

/// The `tickets` columns in bind order. Both backends build their INSERT and UPDATE from
/// this list, so a column added here is added everywhere. The first two are the key.
pub(crate) const TICKET_COLUMNS: [&str; 36] = [
    "subdistrict_code",
    "id",
    "grid_code",
    "state",
    "level",
    "assignee_area_code",
    "assignee_person_id",
    "category_code",
    "description",
    "lat",
    "lng",
    "crs",
    "original_lat",
    "original_lng",
    "original_crs",
    "address",
    "building_code",
    "unit_code",
    "media_urls",
    "contact_phone",
    "reporter_id",
    "urgent",
    "accept_due_at",
    "resolve_due_at",
    "created_at",
    "updated_at",
    "duplicate_of",
    "pause",
    "rating_stars",
    "rating_not_solved",
    "rating_comment",
    "version",
    "supervision",
    "supervision_count",
    "clock_rate",
    "assignee_org_code",
];

/// `INSERT INTO tickets (…) VALUES (…)` with placeholders made by `ph(n)` (1-based).
pub(crate) fn ticket_insert_sql(ph: impl Fn(usize) -> String) -> String {
    let values: Vec<String> = (1..=TICKET_COLUMNS.len()).map(ph).collect();
    format!(
        "INSERT INTO tickets ({}) VALUES ({})",
        TICKET_COLUMNS.join(", "),
        values.join(", ")
    )
}

/// `UPDATE tickets SET … WHERE subdistrict_code = ph(1) AND id = ph(2) AND version = ph(35)`:
/// the same binds as the insert, plus the expected version last.
pub(crate) fn ticket_update_sql(ph: impl Fn(usize) -> String) -> String {
    let sets: Vec<String> = TICKET_COLUMNS
        .iter()
        .enumerate()
        .skip(2)
        .map(|(i, c)| format!("{c} = {}", ph(i + 1)))
        .collect();
    format!(
        "UPDATE tickets SET {} WHERE subdistrict_code = {} AND id = {} AND version = {}",
        sets.join(", "),
        ph(1),
        ph(2),
        ph(TICKET_COLUMNS.len() + 1)
    )
}

/// A ticket flattened into its columns, times and ids in their natural types; each
/// backend converts those two to its own spelling when binding.
#[derive(Debug, Clone)]
pub(crate) struct TicketColumns {
    pub(crate) subdistrict_code: String,
    pub(crate) id: Uuid,
    pub(crate) grid_code: String,
    pub(crate) state: String,
    pub(crate) level: Option<String>,
    pub(crate) assignee_area_code: Option<String>,
    pub(crate) assignee_person_id: Option<String>,
    pub(crate) category_code: String,
    pub(crate) description: String,
    pub(crate) lat: f64,
    pub(crate) lng: f64,
    pub(crate) crs: String,
    pub(crate) original_lat: f64,
    pub(crate) original_lng: f64,
    pub(crate) original_crs: String,
    pub(crate) address: String,
    pub(crate) building_code: Option<String>,
    pub(crate) unit_code: Option<String>,
    pub(crate) media_urls: String,
    pub(crate) contact_phone: Option<String>,
    pub(crate) reporter_id: String,
    pub(crate) urgent: bool,
    pub(crate) accept_due_at: Option<OffsetDateTime>,
    pub(crate) resolve_due_at: Option<OffsetDateTime>,
    pub(crate) created_at: OffsetDateTime,
    pub(crate) updated_at: OffsetDateTime,
    pub(crate) duplicate_of: Option<Uuid>,
    pub(crate) pause: String,
    pub(crate) rating_stars: Option<i16>,
    pub(crate) rating_not_solved: Option<bool>,
    pub(crate) rating_comment: Option<String>,
    pub(crate) version: i64,
    /// The latest supervision order as JSON (migration 0012 / sqlite 0009).
    pub(crate) supervision: Option<String>,
    pub(crate) supervision_count: i32,
    /// How fast its clocks run, in hundredths (migration 0019 / sqlite 0016).
    pub(crate) clock_rate: i16,
    /// The organization holding it (migration 0021 / sqlite 0018).
    pub(crate) assignee_org_code: Option<String>,
}

impl TicketColumns {
    pub(crate) fn new(t: &Ticket) -> Result<Self> {
        let r = &t.report;
        let a = t.assignment.as_ref();
        Ok(Self {
            subdistrict_code: t.subdistrict_code.as_str().to_owned(),
            id: t.id.as_uuid(),
            grid_code: t.grid_code.as_str().to_owned(),
            state: t.state.as_str().to_owned(),
            level: a.map(|a| a.level.as_str().to_owned()),
            assignee_area_code: a.map(|a| a.area_code.as_str().to_owned()),
            assignee_person_id: a.and_then(|a| a.person_id.as_ref().map(|p| p.as_str().to_owned())),
            category_code: r.category_code.as_str().to_owned(),
            description: r.description.clone(),
            lat: r.location.lat(),
            lng: r.location.lng(),
            crs: r.location.crs().as_str().to_owned(),
            original_lat: r.original_location.lat(),
            original_lng: r.original_location.lng(),
            original_crs: r.original_location.crs().as_str().to_owned(),
            address: r.address.clone(),
            building_code: r.building_code.as_ref().map(|c| c.as_str().to_owned()),
            unit_code: r.unit_code.as_ref().map(|c| c.as_str().to_owned()),
            media_urls: to_json(&r.media_urls)?,
            contact_phone: r.contact_phone.clone(),
            reporter_id: r.reporter_id.clone(),
            urgent: r.urgent,
            accept_due_at: t.accept_due_at,
            resolve_due_at: t.resolve_due_at,
            created_at: t.created_at,
            updated_at: t.updated_at,
            duplicate_of: t.duplicate_of.map(|d| d.as_uuid()),
            pause: t.pause.as_str().to_owned(),
            rating_stars: t.rating.as_ref().map(|r| i16::from(r.stars)),
            rating_not_solved: t.rating.as_ref().map(|r| r.not_solved),
            rating_comment: t.rating.as_ref().map(|r| r.comment.clone()),
            version: t.version,
            supervision: t.supervision.as_ref().map(to_json).transpose()?,
            supervision_count: i32::try_from(t.supervision_count)
                .map_err(|_| StoreError::invalid("supervision_count", "too large"))?,
            clock_rate: i16::try_from(t.clock_rate.hundredths())
                .map_err(|_| StoreError::invalid("clock_rate", "too large"))?,
            assignee_org_code: a
                .and_then(|a| a.organization.as_ref().map(|o| o.as_str().to_owned())),
        })
    }

    pub(crate) fn into_ticket(self) -> Result<Ticket> {
        let assignment = match (self.level, self.assignee_area_code) {
            (Some(level), Some(area)) => Some(Assignment {
                level: parse::<ChiefLevel>("level", &level)?,
                area_code: code("assignee_area_code", area)?,
                person_id: code_opt("assignee_person_id", self.assignee_person_id)?,
                organization: code_opt("assignee_org_code", self.assignee_org_code)?,
            }),
            _ => None,
        };
        let rating = match (
            self.rating_stars,
            self.rating_not_solved,
            self.rating_comment,
        ) {
            (Some(stars), Some(not_solved), Some(comment)) => Some(Rating {
                stars: u8::try_from(stars)
                    .map_err(|e| StoreError::internal(format!("column rating_stars: {e}")))?,
                not_solved,
                comment,
            }),
            _ => None,
        };
        Ok(Ticket {
            id: TicketId::from_uuid(self.id),
            subdistrict_code: code("subdistrict_code", self.subdistrict_code)?,
            grid_code: code("grid_code", self.grid_code)?,
            state: parse::<TicketState>("state", &self.state)?,
            assignment,
            report: Report {
                category_code: code("category_code", self.category_code)?,
                description: self.description,
                location: point("crs", self.lat, self.lng, &self.crs)?,
                original_location: point(
                    "original_crs",
                    self.original_lat,
                    self.original_lng,
                    &self.original_crs,
                )?,
                address: self.address,
                building_code: code_opt("building_code", self.building_code)?,
                unit_code: code_opt("unit_code", self.unit_code)?,
                media_urls: from_json("media_urls", &self.media_urls)?,
                contact_phone: self.contact_phone,
                reporter_id: self.reporter_id,
                urgent: self.urgent,
            },
            accept_due_at: self.accept_due_at,
            resolve_due_at: self.resolve_due_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            duplicate_of: self.duplicate_of.map(TicketId::from_uuid),
            pause: parse::<Pause>("pause", &self.pause)?,
            rating,
            version: self.version,
            supervision: self
                .supervision
                .as_deref()
                .map(|j| from_json("supervision", j))
                .transpose()?,
            supervision_count: u32::try_from(self.supervision_count)
                .map_err(|e| StoreError::internal(format!("column supervision_count: {e}")))?,
            clock_rate: ClockRate::from_hundredths("clock_rate", i64::from(self.clock_rate))
                .map_err(|e| StoreError::internal(format!("column clock_rate: {}", e.reason)))?,
        })
    }
}

/// The ticket as it will read back: times cut to microseconds, as both stores keep them.
pub(crate) fn normalize_ticket(t: &Ticket) -> Ticket {
    let mut t = t.clone();
    t.accept_due_at = t.accept_due_at.map(truncate_to_micros);
    t.resolve_due_at = t.resolve_due_at.map(truncate_to_micros);
    t.created_at = truncate_to_micros(t.created_at);
    t.updated_at = truncate_to_micros(t.updated_at);
    t
}

pub(crate) fn normalize_idempotency(r: &IdempotencyRecord) -> IdempotencyRecord {
    IdempotencyRecord {
        created_at: truncate_to_micros(r.created_at),
        ..r.clone()
    }
}

// ------------------------------------------------------------------------ events

/// One `ticket_events` row.
#[derive(Debug, Clone)]
pub(crate) struct EventColumns {
    pub(crate) cursor: i64,
    pub(crate) subdistrict_code: String,
    pub(crate) ticket_id: Uuid,
    pub(crate) seq: i64,
    pub(crate) kind: String,
    pub(crate) actor: String,
    pub(crate) from_state: Option<String>,
    pub(crate) to_state: String,
    pub(crate) level: Option<String>,
    pub(crate) assignee_person_id: Option<String>,
    pub(crate) note: String,
    pub(crate) at: OffsetDateTime,
    /// [`EventFacts`]: the ticket's deadlines after the event, and a rating's.
    pub(crate) accept_due_at: Option<OffsetDateTime>,
    pub(crate) resolve_due_at: Option<OffsetDateTime>,
    pub(crate) rating_stars: Option<i16>,
    pub(crate) rating_not_solved: Option<bool>,
    /// The organization holding the ticket after the event (migration 0021 / sqlite 0018).
    pub(crate) assignee_org_code: Option<String>,
}

impl EventColumns {
    /// An event about to be stored; the cursor is the database's to give.
    pub(crate) fn new(ticket: &Ticket, seq: i64, e: &NewEvent) -> Self {
        let rating = ticket
            .rating
            .as_ref()
            .filter(|_| e.kind == EventKind::Rated);
        Self {
            cursor: 0,
            subdistrict_code: ticket.subdistrict_code.as_str().to_owned(),
            ticket_id: ticket.id.as_uuid(),
            seq,
            kind: e.kind.as_str().to_owned(),
            actor: e.actor.clone(),
            from_state: e.from_state.map(|s| s.as_str().to_owned()),
            to_state: e.to_state.as_str().to_owned(),
            level: e.level.map(|l| l.as_str().to_owned()),
            assignee_person_id: e.assignee_person_id.as_ref().map(|p| p.as_str().to_owned()),
            note: e.note.clone(),
            at: truncate_to_micros(e.at),
            // Every event of a write records the ticket as written: the deadlines in force
            // after the last of them (what evaluation reads as "in force after this one").
            accept_due_at: ticket.accept_due_at.map(truncate_to_micros),
            resolve_due_at: ticket.resolve_due_at.map(truncate_to_micros),
            rating_stars: rating.map(|r| i16::from(r.stars)),
            rating_not_solved: rating.map(|r| r.not_solved),
            assignee_org_code: e.assignee_org_code.as_ref().map(|o| o.as_str().to_owned()),
        }
    }

    /// A ticket's new events, numbered in order after its event `last` (0 for a new ticket).
    pub(crate) fn numbered<'a>(
        ticket: &'a Ticket,
        events: &'a [NewEvent],
        last: i64,
    ) -> impl Iterator<Item = Self> + 'a {
        events
            .iter()
            .zip(last + 1..)
            .map(move |(e, seq)| Self::new(ticket, seq, e))
    }

    pub(crate) fn into_event(self) -> Result<(i64, TicketEvent)> {
        let event = TicketEvent {
            ticket_id: TicketId::from_uuid(self.ticket_id),
            subdistrict_code: code("subdistrict_code", self.subdistrict_code)?,
            seq: self.seq,
            event: NewEvent {
                kind: parse::<EventKind>("kind", &self.kind)?,
                actor: self.actor,
                from_state: parse_opt::<TicketState>("from_state", self.from_state.as_deref())?,
                to_state: parse::<TicketState>("to_state", &self.to_state)?,
                level: parse_opt::<ChiefLevel>("level", self.level.as_deref())?,
                assignee_person_id: code_opt("assignee_person_id", self.assignee_person_id)?,
                assignee_org_code: code_opt("assignee_org_code", self.assignee_org_code)?,
                note: self.note,
                at: self.at,
            },
            facts: EventFacts {
                accept_due_at: self.accept_due_at,
                resolve_due_at: self.resolve_due_at,
                rating_stars: self
                    .rating_stars
                    .map(|s| {
                        u8::try_from(s)
                            .map_err(|e| StoreError::internal(format!("column rating_stars: {e}")))
                    })
                    .transpose()?,
                rating_not_solved: self.rating_not_solved,
            },
        };
        Ok((self.cursor, event))
    }
}

// ------------------------------------------------------------------------ timers

pub(crate) fn timer(
    ticket_id: Uuid,
    subdistrict_code: String,
    kind: &str,
    due_at: OffsetDateTime,
    level: &str,
) -> Result<Timer> {
    Ok(Timer {
        ticket_id: TicketId::from_uuid(ticket_id),
        subdistrict_code: code::<AreaCode>("subdistrict_code", subdistrict_code)?,
        kind: parse::<TimerKind>("kind", kind)?,
        due_at,
        level: parse::<ChiefLevel>("level", level)?,
    })
}

pub(crate) fn parse_uuid(column: &'static str, text: &str) -> Result<Uuid> {
    Uuid::parse_str(text).map_err(|e| StoreError::internal(format!("column {column}: {e}")))
}

/// The text form of an id in SQLite: hyphenated lowercase, which sorts like the bytes.
pub(crate) fn uuid_text(id: Uuid) -> String {
    id.hyphenated().to_string()
}

/// A `calendar_years` row (code, year, document, updated_at in microseconds).
pub(crate) fn calendar_year(
    (code, year, document, at): (String, i32, String, i64),
) -> Result<StoredCalendarYear> {
    Ok(StoredCalendarYear {
        code,
        year,
        document,
        updated_at: from_micros("updated_at", at)?,
    })
}

/// Area codes as stored; one that is not a valid code is the store's fault (Internal).
pub(crate) fn area_codes(codes: Vec<String>) -> Result<Vec<AreaCode>> {
    codes
        .into_iter()
        .map(|c| AreaCode::new(c).map_err(StoreError::internal))
        .collect()
}

mod macros;
mod wkb;

pub(crate) use macros::{row_decoders, ticket_binder};
pub(crate) use wkb::normalize_wkb;

#[cfg(test)]
mod tests;
