//! Area geometry as the store hands it over: OGC WKB (ISO or PostGIS EWKB, either byte
//! order; an embedded SRID is ignored, everything is WGS84), read with the `wkb` crate.

use geo::MultiPolygon;
use geo_traits::GeometryTrait;
use geo_traits::to_geo::{ToGeoMultiPolygon, ToGeoPolygon};
use wuzhang_domain::area::AreaCode;

/// Why a WKB blob could not become an area's footprint.
#[derive(Debug, thiserror::Error)]
pub enum WkbError {
    /// The bytes are not WKB.
    #[error("invalid wkb: {0}")]
    Invalid(#[from] wkb::error::WkbError),
    /// Valid WKB, but not an areal geometry.
    #[error("expected a Polygon or MultiPolygon, found a {found}")]
    NotPolygonal { found: &'static str },
}

/// Reads a WKB `MultiPolygon` (or a `Polygon`, promoted to one) into the pair
/// [`GridIndex::build`](crate::index::GridIndex::build) takes. Z and M values are
/// dropped.
pub fn from_wkb(code: AreaCode, wkb: &[u8]) -> Result<(AreaCode, MultiPolygon<f64>), WkbError> {
    Ok((code, multipolygon_from_wkb(wkb)?))
}

/// Reads a WKB `MultiPolygon` or `Polygon` as a `MultiPolygon`.
pub fn multipolygon_from_wkb(wkb: &[u8]) -> Result<MultiPolygon<f64>, WkbError> {
    use geo_traits::GeometryType as G;
    let geom = wkb::reader::read_wkb(wkb)?;
    let found = match geom.as_type() {
        G::MultiPolygon(mp) => return Ok(mp.to_multi_polygon()),
        G::Polygon(p) => return Ok(MultiPolygon::new(vec![p.to_polygon()])),
        G::Point(_) => "Point",
        G::LineString(_) => "LineString",
        G::MultiPoint(_) => "MultiPoint",
        G::MultiLineString(_) => "MultiLineString",
        G::GeometryCollection(_) => "GeometryCollection",
        G::Rect(_) => "Rect",
        G::Triangle(_) => "Triangle",
        G::Line(_) => "Line",
    };
    Err(WkbError::NotPolygonal { found })
}

/// Writes a `MultiPolygon` as little-endian ISO WKB, as `ST_GeomFromWKB` reads it.
pub fn multipolygon_to_wkb(mp: &MultiPolygon<f64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(wkb::writer::multi_polygon_wkb_size(mp));
    wkb::writer::write_multi_polygon(&mut out, mp, &wkb::writer::WriteOptions::default())
        .expect("writing WKB to a Vec cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Point, polygon};

    #[test]
    fn multipolygons_round_trip() {
        let p = polygon!(
            exterior: [(x: 125.0, y: 43.0), (x: 126.0, y: 43.0), (x: 126.0, y: 44.0), (x: 125.0, y: 44.0)],
            interiors: [[(x: 125.2, y: 43.2), (x: 125.4, y: 43.2), (x: 125.4, y: 43.4)]],
        );
        let q = polygon![(x: 127.0, y: 43.0), (x: 128.0, y: 43.0), (x: 128.0, y: 44.0)];
        let mp = MultiPolygon::new(vec![p.clone(), q]);
        let bytes = multipolygon_to_wkb(&mp);
        // byte order 1 (little endian), type 6 (MultiPolygon)
        assert_eq!(&bytes[..5], &[1, 6, 0, 0, 0]);
        let (code, back) = from_wkb(AreaCode::new("G1").unwrap(), &bytes).unwrap();
        assert_eq!(code.as_str(), "G1");
        assert_eq!(back, mp);

        // A lone polygon is promoted.
        let mut bytes = Vec::new();
        wkb::writer::write_polygon(&mut bytes, &p, &Default::default()).unwrap();
        assert_eq!(
            multipolygon_from_wkb(&bytes).unwrap(),
            MultiPolygon::new(vec![p])
        );
    }

    #[test]
    fn big_endian_and_ewkb_with_srid() {
        // POLYGON((0 0,1 0,1 1,0 0)) as big-endian EWKB with SRID 4326, as PostGIS's
        // ST_AsEWKB would send it.
        let mut b = vec![0u8];
        b.extend(0x2000_0003u32.to_be_bytes()); // Polygon with SRID flag
        b.extend(4326u32.to_be_bytes());
        b.extend(1u32.to_be_bytes()); // one ring
        b.extend(4u32.to_be_bytes()); // four points
        for (x, y) in [(0.0f64, 0.0f64), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)] {
            b.extend(x.to_be_bytes());
            b.extend(y.to_be_bytes());
        }
        let mp = multipolygon_from_wkb(&b).unwrap();
        assert_eq!(mp.0.len(), 1);
        assert_eq!(mp.0[0].exterior().0.len(), 4);
        assert_eq!(mp.0[0].exterior().0[2].x, 1.0);
    }

    #[test]
    fn rejects_garbage_and_points() {
        assert!(matches!(
            multipolygon_from_wkb(&[1, 2, 3]),
            Err(WkbError::Invalid(_))
        ));
        let mut b = Vec::new();
        wkb::writer::write_point(&mut b, &Point::new(1.0, 2.0), &Default::default()).unwrap();
        let err = multipolygon_from_wkb(&b).unwrap_err();
        assert!(
            matches!(err, WkbError::NotPolygonal { found: "Point" }),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "expected a Polygon or MultiPolygon, found a Point"
        );
    }
}
