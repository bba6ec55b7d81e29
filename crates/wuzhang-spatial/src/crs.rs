//! Conversions between the coordinate systems phones report in and WGS84, the one every
//! geometry in wuzhang is stored in.
//!
//! - **GCJ-02** ("Mars coordinates", Amap, Tencent, WeChat) is WGS84 plus an obfuscating
//!   offset of a few hundred metres, computed on the Krasovsky 1940 ellipsoid. The forward
//!   direction (WGS84 → GCJ-02) is the published algorithm; there is no closed-form
//!   inverse, so [`gcj02_to_wgs84`] iterates the forward transform until it reproduces
//!   its input to within 1e-9° (about 0.1 mm), instead of the common one-step
//!   approximation that can be several metres off.
//! - **BD-09** (Baidu) is GCJ-02 plus a further rotation and shift. [`gcj02_to_bd09`] is
//!   the published formula; [`bd09_to_gcj02`] inverts it by the same kind of iteration.
//! - **CGCS2000** (China's geodetic datum) differs from WGS84 by well under a metre
//!   anywhere in China, far below a phone's GPS error, so it is treated as identical.
//!
//! Outside the rectangle that the published algorithm calls "China" (see
//! [`out_of_china`]) every conversion is the identity, exactly as GCJ-02 itself is: maps
//! do not offset foreign coordinates, so a phone abroad reports what GPS says. The test
//! is made on the point as given, so a WGS84 point within a few hundred metres of that
//! rectangle's edge may not round-trip; the edges lie in the sea or abroad.

use std::f64::consts::PI;

use wuzhang_domain::point::{Crs, GeoPoint};

/// Semi-major axis of the Krasovsky 1940 ellipsoid, which GCJ-02 is defined on.
const KRASOVSKY_A: f64 = 6_378_245.0;
/// Its first eccentricity squared, published as 0.00669342162296594323 (the same `f64`).
const KRASOVSKY_EE: f64 = 0.006_693_421_622_965_943;
/// The rotation constant of BD-09.
const X_PI: f64 = PI * 3000.0 / 180.0;

/// Inverse transforms stop when the forward transform of the estimate is this close (in
/// degrees, on both axes) to the point being inverted: about 0.1 mm.
const INVERSE_TOLERANCE_DEG: f64 = 1e-9;
/// The fixed-point iteration contracts by a factor of about 1e-4 per step (the offsets
/// change slowly with position), so it converges in 3 or 4 steps; this cap only guards
/// against a pathological input.
const INVERSE_MAX_STEPS: usize = 30;

/// Whether a point lies outside the rectangle that the published GCJ-02 algorithm treats
/// as China (longitude 72.004..=137.8347, latitude 0.8293..=55.8271). Points outside are
/// not offset.
pub fn out_of_china(lng: f64, lat: f64) -> bool {
    !(72.004..=137.8347).contains(&lng) || !(0.8293..=55.8271).contains(&lat)
}

/// Converts a point to WGS84 from whatever CRS it carries.
pub fn to_wgs84(p: GeoPoint) -> GeoPoint {
    let (lng, lat) = match p.crs() {
        Crs::Wgs84 | Crs::Cgcs2000 => (p.lng(), p.lat()),
        Crs::Gcj02 => gcj02_to_wgs84(p.lng(), p.lat()),
        Crs::Bd09 => bd09_to_wgs84(p.lng(), p.lat()),
    };
    point(lat, lng, Crs::Wgs84)
}

/// Converts a point to `target`. The point is first brought to WGS84 if it is in another
/// CRS, so any point can be converted to any CRS.
pub fn from_wgs84(p: GeoPoint, target: Crs) -> GeoPoint {
    let w = to_wgs84(p);
    let (lng, lat) = match target {
        Crs::Wgs84 | Crs::Cgcs2000 => (w.lng(), w.lat()),
        Crs::Gcj02 => wgs84_to_gcj02(w.lng(), w.lat()),
        Crs::Bd09 => wgs84_to_bd09(w.lng(), w.lat()),
    };
    point(lat, lng, target)
}

fn point(lat: f64, lng: f64, crs: Crs) -> GeoPoint {
    // Offsets are applied only inside the China rectangle and move a point by less than
    // 0.02°, so the result stays finite and well inside the valid range.
    GeoPoint::new(lat, lng, crs).expect("a converted point stays finite and in range")
}

/// WGS84 → GCJ-02: the published forward algorithm.
pub fn wgs84_to_gcj02(lng: f64, lat: f64) -> (f64, f64) {
    if out_of_china(lng, lat) {
        return (lng, lat);
    }
    let (dlng, dlat) = gcj02_offset(lng, lat);
    (lng + dlng, lat + dlat)
}

/// GCJ-02 → WGS84, accurate to 1e-9°: the WGS84 point whose GCJ-02 image is the input.
pub fn gcj02_to_wgs84(lng: f64, lat: f64) -> (f64, f64) {
    if out_of_china(lng, lat) {
        return (lng, lat);
    }
    invert(lng, lat, |x, y| {
        let (dx, dy) = gcj02_offset(x, y);
        (x + dx, y + dy)
    })
}

/// GCJ-02 → BD-09: the published forward formula.
pub fn gcj02_to_bd09(lng: f64, lat: f64) -> (f64, f64) {
    if out_of_china(lng, lat) {
        return (lng, lat);
    }
    bd09_forward(lng, lat)
}

/// BD-09 → GCJ-02, accurate to 1e-9°: the GCJ-02 point whose BD-09 image is the input.
/// Starts from the published one-step approximation and refines it.
pub fn bd09_to_gcj02(lng: f64, lat: f64) -> (f64, f64) {
    if out_of_china(lng, lat) {
        return (lng, lat);
    }
    invert(lng, lat, bd09_forward)
}

/// WGS84 → BD-09, through GCJ-02.
pub fn wgs84_to_bd09(lng: f64, lat: f64) -> (f64, f64) {
    if out_of_china(lng, lat) {
        return (lng, lat);
    }
    let (gx, gy) = wgs84_to_gcj02(lng, lat);
    bd09_forward(gx, gy)
}

/// BD-09 → WGS84, through GCJ-02.
pub fn bd09_to_wgs84(lng: f64, lat: f64) -> (f64, f64) {
    if out_of_china(lng, lat) {
        return (lng, lat);
    }
    let (gx, gy) = invert(lng, lat, bd09_forward);
    // The GCJ-02 point is within a kilometre of the BD-09 one; test it like GCJ-02 does.
    gcj02_to_wgs84(gx, gy)
}

/// The GCJ-02 offset (degrees of longitude, latitude) to add to a WGS84 point. No box
/// test: callers decide whether the point is in China, and the inverse must be able to
/// evaluate it on either side of the box edge while it iterates.
fn gcj02_offset(lng: f64, lat: f64) -> (f64, f64) {
    let x = lng - 105.0;
    let y = lat - 35.0;
    let mut dlat = transform_lat(x, y);
    let mut dlng = transform_lng(x, y);
    let rad_lat = lat / 180.0 * PI;
    let magic = 1.0 - KRASOVSKY_EE * rad_lat.sin() * rad_lat.sin();
    let sqrt_magic = magic.sqrt();
    dlat = (dlat * 180.0) / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * PI);
    dlng = (dlng * 180.0) / (KRASOVSKY_A / sqrt_magic * rad_lat.cos() * PI);
    (dlng, dlat)
}

fn transform_lat(x: f64, y: f64) -> f64 {
    let mut ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    ret
}

fn transform_lng(x: f64, y: f64) -> f64 {
    let mut ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    ret
}

/// GCJ-02 → BD-09 without the box test.
fn bd09_forward(lng: f64, lat: f64) -> (f64, f64) {
    let z = (lng * lng + lat * lat).sqrt() + 0.00002 * (lat * X_PI).sin();
    let theta = lat.atan2(lng) + 0.000003 * (lng * X_PI).cos();
    (z * theta.cos() + 0.0065, z * theta.sin() + 0.006)
}

/// Finds `p` with `forward(p) == target` (to [`INVERSE_TOLERANCE_DEG`]) by fixed-point
/// iteration `p ← p − (forward(p) − target)`. Both transforms are the identity plus a
/// small, slowly varying offset, so the iteration is a contraction and converges fast.
fn invert(lng: f64, lat: f64, forward: impl Fn(f64, f64) -> (f64, f64)) -> (f64, f64) {
    let (mut x, mut y) = (lng, lat);
    for _ in 0..INVERSE_MAX_STEPS {
        let (fx, fy) = forward(x, y);
        let (ex, ey) = (fx - lng, fy - lat);
        if ex.abs() < INVERSE_TOLERANCE_DEG && ey.abs() < INVERSE_TOLERANCE_DEG {
            break;
        }
        x -= ex;
        y -= ey;
    }
    (x, y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance::haversine_m;
    use proptest::prelude::*;

    /// Distance in metres between two `(lng, lat)` pairs.
    fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
        haversine_m(a.0, a.1, b.0, b.1)
    }

    // Published pairs from googollee/eviltransform's test suites (go/transform_test.go,
    // python/test.py, javascript/test.js all carry the same fixture), as
    // (wgs lat, wgs lng, gcj lat, gcj lng).
    const EVILTRANSFORM_WGS_GCJ: [(f64, f64, f64, f64); 3] = [
        (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215), // Shanghai
        (22.543847, 113.912316, 22.540796131694766, 113.9171764808363), // Shenzhen
        (39.911954, 116.377817, 39.91334545536069, 116.38404722455657), // Beijing
    ];

    // wandergis/coordtransform (README and test/app.js), all for the input
    // (116.404, 39.915) as (lng, lat); also used verbatim by coordtransform ports such as
    // hutool's CoordinateUtilTest and the Rust coordtransform-rs tests.
    const CT_INPUT: (f64, f64) = (116.404, 39.915);
    const CT_WGS_TO_GCJ: (f64, f64) = (116.41024449916938, 39.91640428150164);
    const CT_GCJ_TO_BD: (f64, f64) = (116.41036949371029, 39.92133699351021);
    const CT_WGS_TO_BD: (f64, f64) = (116.41662724378733, 39.922699552216216);
    // These two come from the one-step approximate inverses.
    const CT_GCJ_TO_WGS_APPROX: (f64, f64) = (116.39775550083061, 39.91359571849836);
    const CT_BD_TO_GCJ_APPROX: (f64, f64) = (116.39762729119315, 39.90865673957631);
    const CT_BD_TO_WGS_APPROX: (f64, f64) = (116.3913836995125, 39.907253214522164);

    fn assert_close_deg(got: (f64, f64), want: (f64, f64), tol: f64, what: &str) {
        assert!(
            (got.0 - want.0).abs() <= tol && (got.1 - want.1).abs() <= tol,
            "{what}: got {got:?}, want {want:?} (±{tol}°)"
        );
    }

    #[test]
    fn forward_transforms_match_published_values() {
        for (wlat, wlng, glat, glng) in EVILTRANSFORM_WGS_GCJ {
            assert_close_deg(
                wgs84_to_gcj02(wlng, wlat),
                (glng, glat),
                1e-12,
                "eviltransform wgs→gcj",
            );
        }
        let (x, y) = CT_INPUT;
        assert_close_deg(wgs84_to_gcj02(x, y), CT_WGS_TO_GCJ, 1e-12, "wgs→gcj");
        assert_close_deg(gcj02_to_bd09(x, y), CT_GCJ_TO_BD, 1e-12, "gcj→bd");
        assert_close_deg(wgs84_to_bd09(x, y), CT_WGS_TO_BD, 1e-12, "wgs→bd");
    }

    #[test]
    fn exact_inverses_recover_published_originals() {
        for (wlat, wlng, glat, glng) in EVILTRANSFORM_WGS_GCJ {
            let w = gcj02_to_wgs84(glng, glat);
            // The published GCJ values are printed to ~1e-14°, so the original WGS point
            // comes back far more closely than any one-step inverse could.
            assert_close_deg(w, (wlng, wlat), 1e-9, "eviltransform gcj→wgs");
        }
        // coordtransform's inverse outputs are the one-step approximation. Ours must map
        // back onto the input exactly and differ from theirs by the approximation error
        // only (metres, not more).
        let (x, y) = CT_INPUT;
        let w = gcj02_to_wgs84(x, y);
        assert_close_deg(wgs84_to_gcj02(w.0, w.1), CT_INPUT, 1e-9, "gcj→wgs→gcj");
        let err = metres(w, CT_GCJ_TO_WGS_APPROX);
        assert!(err > 0.01 && err < 5.0, "one-step error {err} m");

        let g = bd09_to_gcj02(x, y);
        assert_close_deg(gcj02_to_bd09(g.0, g.1), CT_INPUT, 1e-9, "bd→gcj→bd");
        assert!(metres(g, CT_BD_TO_GCJ_APPROX) < 1.0);

        let w = bd09_to_wgs84(x, y);
        assert_close_deg(wgs84_to_bd09(w.0, w.1), CT_INPUT, 1e-9, "bd→wgs→bd");
        assert!(metres(w, CT_BD_TO_WGS_APPROX) < 5.0);

        // eviltransform's BD-09 fixture is deliberately not used: its gcj2bd/bd2gcj use
        // `sin(y·π)` and `cos(x·π)` where Baidu's formula (and coordtransform) use
        // x_pi = π·3000/180, so its BD-09 values are tens of metres off Baidu's.
    }

    #[test]
    fn round_trips_within_a_metre_across_china() {
        // A 0.5° lattice over the mainland part of the box (west Xinjiang to the Ussuri,
        // Hainan to Mohe), in every CRS.
        let mut worst: f64 = 0.0;
        let mut n = 0;
        let mut lat = 18.0;
        while lat <= 53.5 {
            let mut lng = 73.5;
            while lng <= 135.0 {
                for crs in [Crs::Gcj02, Crs::Bd09, Crs::Cgcs2000, Crs::Wgs84] {
                    let p = GeoPoint::new(lat, lng, Crs::Wgs84).unwrap();
                    let there = from_wgs84(p, crs);
                    assert_eq!(there.crs(), crs);
                    if matches!(crs, Crs::Gcj02 | Crs::Bd09) {
                        // The offset is real: tens to hundreds of metres.
                        let moved = metres((lng, lat), (there.lng(), there.lat()));
                        assert!(moved > 1.0 && moved < 2_000.0, "{crs:?} moved {moved} m");
                    }
                    let back = to_wgs84(there);
                    assert_eq!(back.crs(), Crs::Wgs84);
                    let err = metres((lng, lat), (back.lng(), back.lat()));
                    worst = worst.max(err);
                    n += 1;
                }
                lng += 0.5;
            }
            lat += 0.5;
        }
        assert!(n > 30_000);
        // 1 m is the contract; the iteration actually gets to about 0.1 mm.
        assert!(worst < 1e-3, "worst round trip error {worst} m");
    }

    #[test]
    fn identity_outside_china() {
        for (lat, lng) in [
            (35.681236, 139.767125), // Tokyo
            (51.5074, -0.1278),      // London
            (-33.8688, 151.2093),    // Sydney
            (60.0, 100.0),           // north of the box
            (0.5, 110.0),            // south of the box
            (40.0, 72.0),            // just west of the box
            (40.0, 137.9),           // just east of the box
        ] {
            for crs in [Crs::Gcj02, Crs::Bd09, Crs::Cgcs2000] {
                let p = GeoPoint::new(lat, lng, crs).unwrap();
                let w = to_wgs84(p);
                assert_eq!((w.lat(), w.lng()), (lat, lng), "{crs:?} {lat},{lng}");
                let q = from_wgs84(GeoPoint::new(lat, lng, Crs::Wgs84).unwrap(), crs);
                assert_eq!((q.lat(), q.lng(), q.crs()), (lat, lng, crs));
            }
        }
        assert!(out_of_china(72.0, 40.0));
        assert!(!out_of_china(72.004, 40.0));
        assert!(!out_of_china(125.32, 43.88));
    }

    #[test]
    fn from_wgs84_accepts_any_source_crs() {
        let g = GeoPoint::new(43.88, 125.32, Crs::Gcj02).unwrap();
        let b = from_wgs84(g, Crs::Bd09);
        let direct = gcj02_to_bd09(125.32, 43.88);
        assert_close_deg((b.lng(), b.lat()), direct, 1e-9, "gcj→bd via wgs");
    }

    proptest! {
        #[test]
        fn random_points_in_china_round_trip(lat in 18.0f64..53.5, lng in 73.5f64..135.0) {
            let w = (lng, lat);
            let g = wgs84_to_gcj02(lng, lat);
            let back = gcj02_to_wgs84(g.0, g.1);
            prop_assert!((back.0 - lng).abs() < 1e-8 && (back.1 - lat).abs() < 1e-8);
            let b = wgs84_to_bd09(lng, lat);
            let back = bd09_to_wgs84(b.0, b.1);
            prop_assert!(metres(w, back) < 0.01);
            // And the other way: a GCJ point read off a map comes back to itself.
            let w2 = gcj02_to_wgs84(lng, lat);
            let g2 = wgs84_to_gcj02(w2.0, w2.1);
            prop_assert!((g2.0 - lng).abs() < 1e-9 && (g2.1 - lat).abs() < 1e-9);
        }
    }
}
