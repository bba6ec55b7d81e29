//! Values the cases build with the domain API.

use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use wuzhang_domain::area::{Area, AreaCode, AreaLevel, BBox};
use wuzhang_domain::category::{
    Category, CategoryCode, CategoryKind, DEFAULT_CALENDAR, DeadlineKind,
};
use wuzhang_domain::chief::{ChiefLevel, PersonId};
use wuzhang_domain::point::{Crs, GeoPoint};
use wuzhang_domain::ticket::{Assignment, Command, Report, Ticket, TicketId};
use wuzhang_domain::timer::{Timer, TimerKind};
use wuzhang_store::{AreaRecord, IdempotencyRecord, NewTicket, TicketChange};

pub(crate) const SUB1: &str = "220102001";
pub(crate) const SUB2: &str = "220102002";
pub(crate) const ST1: &str = "220102001-s1";
pub(crate) const LN1: &str = "220102001-l1";
pub(crate) const G1: &str = "220102001-g1";
pub(crate) const G2: &str = "220102001-g2";
pub(crate) const B1: &str = "220102001-b1";
pub(crate) const U1: &str = "220102001-u1";
pub(crate) const ST2: &str = "220102002-s1";
pub(crate) const LN2: &str = "220102002-l1";
pub(crate) const G3: &str = "220102002-g1";

/// Not on a whole second, and not in UTC: both must survive the store.
pub(crate) const T0: OffsetDateTime = datetime!(2026-03-02 09:00:00.123_456 +8);

pub(crate) fn code(s: &str) -> AreaCode {
    AreaCode::new(s).unwrap()
}

pub(crate) fn pid(s: &str) -> PersonId {
    PersonId::new(s).unwrap()
}

pub(crate) fn area(code_: &str, level: AreaLevel, parent: Option<&str>) -> Area {
    Area {
        code: code(code_),
        name: format!("区域 {code_}"),
        level,
        parent_code: parent.map(code),
        community: None,
        bbox: None,
    }
}

pub(crate) fn record(area: Area, geometry_wkb: Option<Vec<u8>>) -> AreaRecord {
    AreaRecord { area, geometry_wkb }
}

/// A canonical little-endian WKB MultiPolygon of one axis-aligned rectangle, which
/// PostGIS' `ST_AsBinary` gives back byte for byte.
pub(crate) fn rect_wkb(min_lng: f64, min_lat: f64, max_lng: f64, max_lat: f64) -> Vec<u8> {
    let mut out = vec![1u8];
    out.extend_from_slice(&6u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out.push(1);
    out.extend_from_slice(&3u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&5u32.to_le_bytes());
    for (x, y) in [
        (min_lng, min_lat),
        (max_lng, min_lat),
        (max_lng, max_lat),
        (min_lng, max_lat),
        (min_lng, min_lat),
    ] {
        out.extend_from_slice(&x.to_le_bytes());
        out.extend_from_slice(&y.to_le_bytes());
    }
    out
}

/// A little-endian WKB Polygon with one ring as given (closed by the caller).
pub(crate) fn wkb_polygon(ring: &[(f64, f64)]) -> Vec<u8> {
    let mut out = vec![1u8];
    out.extend_from_slice(&3u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&(ring.len() as u32).to_le_bytes());
    for (x, y) in ring {
        out.extend_from_slice(&x.to_le_bytes());
        out.extend_from_slice(&y.to_le_bytes());
    }
    out
}

/// A big-endian WKB Polygon (not Multi) of a rectangle.
pub(crate) fn rect_polygon_wkb_be(
    min_lng: f64,
    min_lat: f64,
    max_lng: f64,
    max_lat: f64,
) -> Vec<u8> {
    let mut out = vec![0u8];
    out.extend_from_slice(&3u32.to_be_bytes());
    out.extend_from_slice(&1u32.to_be_bytes());
    out.extend_from_slice(&5u32.to_be_bytes());
    for (x, y) in [
        (min_lng, min_lat),
        (min_lng, max_lat),
        (max_lng, max_lat),
        (max_lng, min_lat),
        (min_lng, min_lat),
    ] {
        out.extend_from_slice(&x.to_be_bytes());
        out.extend_from_slice(&y.to_be_bytes());
    }
    out
}

/// (geometry type, every point) of a WKB Polygon or MultiPolygon, either byte order.
pub(crate) fn decode_wkb(wkb: &[u8]) -> (u32, Vec<(f64, f64)>) {
    struct R<'a>(&'a [u8], usize, bool);
    impl R<'_> {
        fn order(&mut self) {
            self.2 = self.0[self.1] == 1;
            self.1 += 1;
        }
        fn u32(&mut self) -> u32 {
            let b: [u8; 4] = self.0[self.1..self.1 + 4].try_into().unwrap();
            self.1 += 4;
            if self.2 {
                u32::from_le_bytes(b)
            } else {
                u32::from_be_bytes(b)
            }
        }
        fn f64(&mut self) -> f64 {
            let b: [u8; 8] = self.0[self.1..self.1 + 8].try_into().unwrap();
            self.1 += 8;
            if self.2 {
                f64::from_le_bytes(b)
            } else {
                f64::from_be_bytes(b)
            }
        }
        fn polygon(&mut self, points: &mut Vec<(f64, f64)>) {
            for _ in 0..self.u32() {
                for _ in 0..self.u32() {
                    points.push((self.f64(), self.f64()));
                }
            }
        }
    }
    let mut r = R(wkb, 0, true);
    r.order();
    let kind = r.u32();
    let mut points = Vec::new();
    if kind == 6 {
        for _ in 0..r.u32() {
            r.order();
            assert_eq!(r.u32(), 3);
            r.polygon(&mut points);
        }
    } else {
        r.polygon(&mut points);
    }
    assert_eq!(r.1, wkb.len(), "no trailing bytes");
    (kind, points)
}

pub(crate) fn bbox(min_lng: f64, min_lat: f64, max_lng: f64, max_lat: f64) -> BBox {
    BBox {
        min_lng,
        min_lat,
        max_lng,
        max_lat,
    }
}

/// Two subdistricts, one with a full chain down to a unit. Grids have footprints;
/// their bboxes are left for the store to fill in.
pub(crate) fn tree() -> Vec<AreaRecord> {
    use AreaLevel as L;
    vec![
        record(area(SUB1, L::Subdistrict, None), None),
        record(area(ST1, L::Street, Some(SUB1)), None),
        record(area(LN1, L::Lane, Some(ST1)), None),
        record(
            Area {
                community: Some("南湖社区".into()),
                ..area(G1, L::Grid, Some(LN1))
            },
            Some(rect_wkb(125.30, 43.80, 125.31, 43.81)),
        ),
        record(
            area(G2, L::Grid, Some(LN1)),
            Some(rect_wkb(125.31, 43.80, 125.32, 43.81)),
        ),
        record(area(B1, L::Building, Some(G1)), None),
        record(area(U1, L::Unit, Some(B1)), None),
        record(area(SUB2, L::Subdistrict, None), None),
        record(area(ST2, L::Street, Some(SUB2)), None),
        record(area(LN2, L::Lane, Some(ST2)), None),
        record(
            area(G3, L::Grid, Some(LN2)),
            Some(rect_wkb(125.40, 43.90, 125.41, 43.91)),
        ),
    ]
}

pub(crate) fn category(code_: &str) -> Category {
    Category {
        code: CategoryCode::new(code_).unwrap(),
        name: format!("类别 {code_}"),
        parent_code: Some(CategoryCode::new("01").unwrap()),
        kind: CategoryKind::Event,
        start_level: ChiefLevel::Grid,
        accept_within: Duration::hours(2),
        resolve_within: Duration::hours(24),
        deadline_kind: DeadlineKind::WorkingHours,
        urgent: false,
        calendar_code: DEFAULT_CALENDAR.into(),
        duplicate_radius_m: 50.5,
        duplicate_window: Duration::minutes(90),
        active: true,
        reopen_on_not_solved: false,
        organization_type: None,
    }
}

pub(crate) fn report(reporter: &str, category: &str) -> Report {
    let p = GeoPoint::new(43.805, 125.305, Crs::Wgs84).unwrap();
    Report {
        category_code: CategoryCode::new(category).unwrap(),
        description: "垃圾满溢".into(),
        location: p,
        original_location: p,
        address: String::new(),
        building_code: None,
        unit_code: None,
        media_urls: vec![],
        contact_phone: None,
        reporter_id: reporter.into(),
        urgent: false,
    }
}

pub(crate) fn assignment(level: ChiefLevel, area: &str, person: Option<&str>) -> Assignment {
    Assignment {
        level,
        area_code: code(area),
        person_id: person.map(pid),
        organization: None,
    }
}

pub(crate) fn grid_chief(grid: &str) -> Assignment {
    assignment(ChiefLevel::Grid, grid, Some("p-grid"))
}

/// A ticket just submitted: one event, no timers.
pub(crate) fn submitted(sub: &str, grid: &str, reporter: &str, at: OffsetDateTime) -> NewTicket {
    submitted_in(sub, grid, reporter, "0101", at)
}

pub(crate) fn submitted_in(
    sub: &str,
    grid: &str,
    reporter: &str,
    category: &str,
    at: OffsetDateTime,
) -> NewTicket {
    let (ticket, event) = Ticket::submit(
        TicketId::new(at),
        report(reporter, category),
        code(grid),
        code(sub),
        at,
    );
    NewTicket {
        ticket,
        events: vec![event],
        timers: vec![],
        idempotency: None,
        followed: None,
    }
}

/// A ticket submitted and assigned at `at`: two events, accept (2 h) and resolve (24 h)
/// deadlines with their timers.
pub(crate) fn assigned(
    sub: &str,
    grid: &str,
    reporter: &str,
    at: OffsetDateTime,
    to: Assignment,
) -> NewTicket {
    let mut new = submitted(sub, grid, reporter, at);
    let level = to.level;
    let e = new
        .ticket
        .apply(Command::Assign(to), "system:routing", "", at)
        .unwrap();
    new.events.push(e.event);
    new.ticket.accept_due_at = Some(at + Duration::hours(2));
    new.ticket.resolve_due_at = Some(at + Duration::hours(24));
    new.timers = vec![
        timer(
            &new.ticket,
            TimerKind::Accept,
            at + Duration::hours(2),
            level,
        ),
        timer(
            &new.ticket,
            TimerKind::Resolve,
            at + Duration::hours(24),
            level,
        ),
    ];
    new
}

pub(crate) fn timer(
    t: &Ticket,
    kind: TimerKind,
    due_at: OffsetDateTime,
    level: ChiefLevel,
) -> Timer {
    Timer {
        ticket_id: t.id,
        subdistrict_code: t.subdistrict_code.clone(),
        kind,
        due_at,
        level,
    }
}

/// `command` applied to (a copy of) `t`, as a change that keeps the timers.
pub(crate) fn change(t: &Ticket, command: Command, at: OffsetDateTime) -> TicketChange {
    let mut next = t.clone();
    let event = next.apply(command, "tester", "备注", at).unwrap();
    TicketChange {
        ticket: next,
        events: vec![event.event],
        timers: None,
        idempotency: None,
        add_follower: None,
        task_result: None,
    }
}

pub(crate) fn idempotency(scope: &str, request_id: &str, at: OffsetDateTime) -> IdempotencyRecord {
    IdempotencyRecord {
        scope: scope.into(),
        request_id: request_id.into(),
        request_hash: vec![1, 2, 3, 0, 255],
        response: format!("response to {request_id}").into_bytes(),
        created_at: at,
    }
}
