use super::*;

fn square_polygon(little: bool) -> Vec<u8> {
    let w = |v: u32| {
        if little {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    };
    let f = |v: f64| {
        if little {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    };
    let mut out = vec![u8::from(little)];
    out.extend_from_slice(&w(3));
    out.extend_from_slice(&w(1));
    out.extend_from_slice(&w(5));
    for (x, y) in [(0.0, 0.0), (2.0, 0.0), (2.0, 1.0), (0.0, 1.0), (0.0, 0.0)] {
        out.extend_from_slice(&f(x));
        out.extend_from_slice(&f(y));
    }
    out
}

#[test]
fn polygons_become_multipolygons_with_their_envelope() {
    for little in [true, false] {
        let poly = square_polygon(little);
        let (multi, bbox) = normalize_wkb(&poly).unwrap();
        assert_eq!(multi.len(), poly.len() + 9);
        assert_eq!(&multi[9..], &poly[..]);
        assert_eq!(
            (bbox.min_lng, bbox.min_lat, bbox.max_lng, bbox.max_lat),
            (0.0, 0.0, 2.0, 1.0)
        );
        let (again, _) = normalize_wkb(&multi).unwrap();
        assert_eq!(again, multi);
    }
}

#[test]
fn malformed_geometry_is_refused() {
    let poly = square_polygon(true);
    assert!(normalize_wkb(&poly[..poly.len() - 1]).is_err());
    let mut extra = poly.clone();
    extra.push(0);
    assert!(normalize_wkb(&extra).is_err());
    let mut point = vec![1u8];
    point.extend_from_slice(&1u32.to_le_bytes());
    point.extend_from_slice(&0f64.to_le_bytes());
    point.extend_from_slice(&0f64.to_le_bytes());
    assert!(normalize_wkb(&point).unwrap_err().contains("type 1"));
    let mut huge = poly[..9].to_vec();
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(normalize_wkb(&huge).is_err());
    assert!(normalize_wkb(&[]).is_err());
}

#[test]
fn micros_round_trip() {
    let t = time::macros::datetime!(1969-12-31 23:59:59.999_999 UTC);
    assert_eq!(from_micros("t", to_micros(t)).unwrap(), t);
    let t = time::macros::datetime!(2026-03-01 09:00:00.123_456 +8);
    assert_eq!(from_micros("t", to_micros(t)).unwrap(), t);
}

/// What both backends must refuse, beyond malformed bytes: each was refused by the store's
/// own reader before it moved onto the `wkb` crate, and still is.
#[test]
fn only_plain_2d_polygons_with_whole_finite_rings_pass() {
    let poly = square_polygon(true);
    // ISO Z (1003) and EWKB Z: 2D only.
    let mut z = poly.clone();
    z[1..5].copy_from_slice(&1003u32.to_le_bytes());
    assert!(normalize_wkb(&z).is_err());
    let mut ewkb_z = poly.clone();
    ewkb_z[1..5].copy_from_slice(&(3u32 | 0x8000_0000).to_le_bytes());
    assert!(normalize_wkb(&ewkb_z).is_err());
    // EWKB with an SRID.
    let mut srid = vec![1u8];
    srid.extend_from_slice(&(3u32 | 0x2000_0000).to_le_bytes());
    srid.extend_from_slice(&4326u32.to_le_bytes());
    srid.extend_from_slice(&poly[5..]);
    assert!(normalize_wkb(&srid).is_err());
    // A ring of three points.
    let mut short = poly[..9].to_vec();
    short.extend_from_slice(&3u32.to_le_bytes());
    for v in [0.0f64, 0.0, 1.0, 0.0, 0.0, 0.0] {
        short.extend_from_slice(&v.to_le_bytes());
    }
    assert!(normalize_wkb(&short).unwrap_err().contains("4 points"));
    // A coordinate that is not finite.
    let mut nan = poly.clone();
    nan[13..21].copy_from_slice(&f64::NAN.to_le_bytes());
    assert!(normalize_wkb(&nan).unwrap_err().contains("finite"));
    // An empty multipolygon.
    let mut empty = vec![1u8];
    empty.extend_from_slice(&6u32.to_le_bytes());
    empty.extend_from_slice(&0u32.to_le_bytes());
    assert!(normalize_wkb(&empty).is_err());
}
