//! Writers: the areas as an RFC 7946 GeoJSON FeatureCollection, the roster as CSV. Both
//! stream record by record, so a tree of millions of areas is written without building
//! it a second time in memory.

use std::collections::HashMap;
use std::io::{self, BufWriter, Write};

use geo_traits::{
    CoordTrait, GeometryTrait, GeometryType, LineStringTrait, MultiPolygonTrait, PolygonTrait,
};
use time::format_description::well_known::Rfc3339;
use wuzhang_domain::chief::Person;
use wuzhang_store::AreaRecord;

use crate::Tree;

/// The header of [`write_roster_csv`].
pub const ROSTER_HEADER: [&str; 9] = [
    "area_code",
    "person_id",
    "person_name",
    "phone",
    "deputy_person_id",
    "deputy_name",
    "deputy_phone",
    "leave_starts_at",
    "leave_ends_at",
];

/// Writes every area as a GeoJSON Feature with properties `code`, `name`, `level`,
/// `parent_code` and `community` (null where absent) and its footprint as a MultiPolygon
/// (null for units), in the order of `tree.areas` (parents before children).
/// Coordinates are written in full (shortest round-trip form), so cells that share an
/// edge still share it bit for bit after a round trip.
pub fn write_geojson(tree: &Tree, out: impl Write) -> io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 16, out);
    w.write_all(br#"{"type":"FeatureCollection","features":["#)?;
    for (i, r) in tree.areas.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        w.write_all(b"\n")?;
        feature(&mut w, r)?;
    }
    w.write_all(b"\n]}\n")?;
    w.flush()
}

fn feature(w: &mut impl Write, r: &AreaRecord) -> io::Result<()> {
    let a = &r.area;
    w.write_all(br#"{"type":"Feature","id":"#)?;
    string(w, a.code.as_str())?;
    w.write_all(br#","properties":{"code":"#)?;
    string(w, a.code.as_str())?;
    w.write_all(br#","name":"#)?;
    string(w, &a.name)?;
    w.write_all(br#","level":"#)?;
    string(w, a.level.as_str())?;
    w.write_all(br#","parent_code":"#)?;
    optional(w, a.parent_code.as_ref().map(|c| c.as_str()))?;
    w.write_all(br#","community":"#)?;
    optional(w, a.community.as_deref())?;
    w.write_all(br#"},"geometry":"#)?;
    match &r.geometry_wkb {
        Some(wkb) => geometry(w, wkb)?,
        None => w.write_all(b"null")?,
    }
    w.write_all(b"}")
}

fn string(w: &mut impl Write, s: &str) -> io::Result<()> {
    serde_json::to_writer(&mut *w, s).map_err(io::Error::from)
}

fn optional(w: &mut impl Write, s: Option<&str>) -> io::Result<()> {
    match s {
        Some(s) => string(w, s),
        None => w.write_all(b"null"),
    }
}

/// A WKB Polygon or MultiPolygon as a GeoJSON MultiPolygon, read in place.
fn geometry(w: &mut impl Write, wkb: &[u8]) -> io::Result<()> {
    let invalid = |reason: String| io::Error::new(io::ErrorKind::InvalidData, reason);
    let g = wkb::reader::read_wkb(wkb).map_err(|e| invalid(format!("invalid wkb: {e}")))?;
    w.write_all(br#"{"type":"MultiPolygon","coordinates":["#)?;
    match g.as_type() {
        GeometryType::MultiPolygon(mp) => {
            for (i, p) in mp.polygons().enumerate() {
                if i > 0 {
                    w.write_all(b",")?;
                }
                polygon(w, &p)?;
            }
        }
        GeometryType::Polygon(p) => polygon(w, p)?,
        _ => return Err(invalid("area geometry is not a polygon".into())),
    }
    w.write_all(b"]}")
}

fn polygon(w: &mut impl Write, p: &impl PolygonTrait<T = f64>) -> io::Result<()> {
    w.write_all(b"[")?;
    for (i, ring) in p.exterior().into_iter().chain(p.interiors()).enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        w.write_all(b"[")?;
        for (j, c) in ring.coords().enumerate() {
            if j > 0 {
                w.write_all(b",")?;
            }
            write!(w, "[{},{}]", c.x(), c.y())?;
        }
        w.write_all(b"]")?;
    }
    w.write_all(b"]")
}

/// Writes one row per post under [`ROSTER_HEADER`]: the holder (empty `person_id` for a
/// vacancy), the deputy if any, and the first leave period if any, as RFC 3339 times.
pub fn write_roster_csv(tree: &Tree, out: impl Write) -> io::Result<()> {
    let people = PersonLookup::new(&tree.persons);
    let mut w = csv::Writer::from_writer(BufWriter::with_capacity(1 << 16, out));
    w.write_record(ROSTER_HEADER)?;
    let unknown = |id: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("post names person {id}, who is not in the roster"),
        )
    };
    let person = |id: Option<&str>| -> io::Result<[&str; 3]> {
        let Some(id) = id else {
            return Ok(["", "", ""]);
        };
        let p = people.get(id).ok_or_else(|| unknown(id))?;
        Ok([p.id.as_str(), &p.name, p.phone.as_deref().unwrap_or("")])
    };
    for post in &tree.posts {
        let holder = person(post.holder.as_ref().map(|p| p.as_str()))?;
        let deputy = person(post.deputy.as_ref().map(|p| p.as_str()))?;
        let (from, until) = match post.leave.first() {
            Some(l) => (rfc3339(l.from)?, rfc3339(l.until)?),
            None => (String::new(), String::new()),
        };
        w.write_field(post.area_code.as_str())?;
        for f in holder.iter().chain(&deputy) {
            w.write_field(f)?;
        }
        w.write_field(&from)?;
        w.write_field(&until)?;
        w.write_record(None::<&[u8]>)?;
    }
    w.flush()
}

/// Persons by id. Ids made by this crate are `P` and the person's position from 1, so
/// those are found by position; only persons not where their id says (a roster edited
/// after generation) go into a map, which keeps a roster of millions cheap to look up.
struct PersonLookup<'a> {
    persons: &'a [Person],
    elsewhere: HashMap<&'a str, &'a Person>,
}

impl<'a> PersonLookup<'a> {
    fn new(persons: &'a [Person]) -> Self {
        let elsewhere = persons
            .iter()
            .enumerate()
            .filter(|&(i, p)| position(p.id.as_str()) != Some(i))
            .map(|(_, p)| (p.id.as_str(), p))
            .collect();
        Self { persons, elsewhere }
    }

    fn get(&self, id: &str) -> Option<&'a Person> {
        position(id)
            .and_then(|i| self.persons.get(i))
            .filter(|p| p.id.as_str() == id)
            .or_else(|| self.elsewhere.get(id).copied())
    }
}

/// The position an id of the form `P000123` points at (122), if it has that form.
fn position(id: &str) -> Option<usize> {
    let n: usize = id.strip_prefix('P')?.parse().ok()?;
    n.checked_sub(1)
}

fn rfc3339(t: time::OffsetDateTime) -> io::Result<String> {
    t.format(&Rfc3339)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}
