//! Area geometry as a GeoJSON geometry object, for clients that draw maps.

use geo::MultiPolygon;
use std::fmt::Write;

/// A GeoJSON `MultiPolygon` geometry (RFC 7946: longitude first, rings closed).
pub fn multipolygon(mp: &MultiPolygon<f64>) -> String {
    let mut out = String::from(r#"{"type":"MultiPolygon","coordinates":["#);
    for (i, poly) in mp.0.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        for (j, ring) in std::iter::once(poly.exterior())
            .chain(poly.interiors())
            .enumerate()
        {
            if j > 0 {
                out.push(',');
            }
            out.push('[');
            for (k, c) in ring.0.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                // Writing to a String cannot fail.
                let _ = write!(out, "[{},{}]", c.x, c.y);
            }
            out.push(']');
        }
        out.push(']');
    }
    out.push_str("]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    #[test]
    fn writes_rfc7946_coordinates() {
        let p = polygon![(x: 125.0, y: 43.0), (x: 125.1, y: 43.0), (x: 125.1, y: 43.1), (x: 125.0, y: 43.0)];
        let s = multipolygon(&MultiPolygon(vec![p]));
        assert_eq!(
            s,
            r#"{"type":"MultiPolygon","coordinates":[[[[125,43],[125.1,43],[125.1,43.1],[125,43]]]]}"#
        );
    }
}
