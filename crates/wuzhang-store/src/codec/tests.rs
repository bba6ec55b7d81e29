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
