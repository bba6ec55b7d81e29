//! Geometry as both backends take it: OGC WKB read with the `wkb` crate (the one WKB
//! reader of the workspace; `wuzhang-spatial` reads the store's geometry with it too),
//! checked against what both backends must refuse alike, and normalised to a MultiPolygon
//! with its envelope.

use geo_traits::{
    CoordTrait, Dimensions, GeometryTrait, GeometryType, LineStringTrait, MultiPolygonTrait,
    PolygonTrait,
};
use wuzhang_domain::area::BBox;

/// Checks that `wkb` is a well-formed 2D Polygon or MultiPolygon (ISO WKB, either byte
/// order, nothing after it) with finite coordinates and rings of at least 4 points, and
/// returns it as a MultiPolygon (a Polygon is wrapped; a MultiPolygon's bytes are kept as
/// sent) with its envelope. Both backends store the result, so both accept and refuse the
/// same input and read back the same geometry type; Postgres re-encodes it in its own byte
/// order.
pub(crate) fn normalize_wkb(wkb: &[u8]) -> std::result::Result<(Vec<u8>, BBox), String> {
    let geom = wkb::reader::read_wkb(wkb).map_err(|e| format!("not well-formed wkb: {e}"))?;
    if geom.dim() != Dimensions::Xy {
        return Err("geometry must be 2D (no Z or M values)".into());
    }
    // An EWKB SRID or bytes left over make the input longer than the geometry read.
    let read = wkb::writer::geometry_wkb_size(&geom);
    if read != wkb.len() {
        return Err(format!(
            "{} bytes after the geometry (or an EWKB SRID)",
            wkb.len().saturating_sub(read)
        ));
    }
    let mut bbox = None;
    let multi = match geom.as_type() {
        GeometryType::MultiPolygon(mp) => {
            if mp.num_polygons() == 0 {
                return Err("multipolygon has no polygons".into());
            }
            for p in mp.polygons() {
                check_polygon(&p, &mut bbox)?;
            }
            wkb.to_vec()
        }
        GeometryType::Polygon(p) => {
            check_polygon(p, &mut bbox)?;
            wrap_in_multi(wkb)
        }
        other => {
            let code = match other {
                GeometryType::Point(_) => 1,
                GeometryType::LineString(_) | GeometryType::Line(_) => 2,
                GeometryType::MultiPoint(_) => 4,
                GeometryType::MultiLineString(_) => 5,
                GeometryType::GeometryCollection(_) => 7,
                GeometryType::Triangle(_) => 17,
                _ => 0,
            };
            return Err(format!(
                "geometry type {code} is not a 2D Polygon (3) or MultiPolygon (6)"
            ));
        }
    };
    let bbox = bbox.ok_or("geometry has no points")?;
    Ok((multi, bbox))
}

/// Every ring of `p` has at least 4 points, all finite; grows `bbox` over them.
fn check_polygon(
    p: &impl PolygonTrait<T = f64>,
    bbox: &mut Option<BBox>,
) -> std::result::Result<(), String> {
    let exterior = p.exterior().ok_or("polygon has no rings")?;
    for ring in std::iter::once(exterior).chain(p.interiors()) {
        if ring.num_coords() < 4 {
            return Err("a ring needs at least 4 points".into());
        }
        for c in ring.coords() {
            let (x, y) = (c.x(), c.y());
            if !x.is_finite() || !y.is_finite() {
                return Err("coordinates must be finite".into());
            }
            let b = bbox.get_or_insert(BBox {
                min_lng: x,
                min_lat: y,
                max_lng: x,
                max_lat: y,
            });
            b.min_lng = b.min_lng.min(x);
            b.min_lat = b.min_lat.min(y);
            b.max_lng = b.max_lng.max(x);
            b.max_lat = b.max_lat.max(y);
        }
    }
    Ok(())
}

/// A Polygon's WKB as a MultiPolygon of one, in the Polygon's byte order: a header and a
/// count, then the Polygon's own bytes unchanged.
fn wrap_in_multi(polygon: &[u8]) -> Vec<u8> {
    let little = polygon.first() == Some(&1);
    let word = |v: u32| {
        if little {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    };
    let mut out = Vec::with_capacity(polygon.len() + 9);
    out.push(u8::from(little));
    out.extend_from_slice(&word(6));
    out.extend_from_slice(&word(1));
    out.extend_from_slice(polygon);
    out
}
