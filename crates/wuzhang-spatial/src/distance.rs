//! Distances on the sphere, in metres, for tolerances and tests. The sphere is the one
//! geo's `Haversine` uses (GRS80 mean radius), so results agree with geo.

/// Mean Earth radius (GRS80, IUGG R1), in metres.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Metres per degree of latitude (and of longitude at the equator) on that sphere.
pub const METRES_PER_DEGREE: f64 = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;

/// Great-circle distance in metres between two points given as longitude, latitude in
/// degrees.
pub fn haversine_m(lng1: f64, lat1: f64, lng2: f64, lat2: f64) -> f64 {
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let dphi = (lat2 - lat1).to_radians();
    let dlambda = (lng2 - lng1).to_radians();
    let a = (dphi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (dlambda / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
}

/// A local flat frame around a point: degrees to metres by an equirectangular projection
/// scaled at that point's latitude. Within a few kilometres it is accurate to well under
/// 0.1 %, which is all a nearest-boundary search needs to choose the closest point; the
/// distance reported is then measured with [`haversine_m`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct LocalFrame {
    lng: f64,
    lat: f64,
    kx: f64,
}

impl LocalFrame {
    pub(crate) fn new(lng: f64, lat: f64) -> Self {
        Self {
            lng,
            lat,
            kx: METRES_PER_DEGREE * lat.to_radians().cos(),
        }
    }

    /// Position of `(lng, lat)` relative to the frame's origin, in metres.
    fn project(&self, lng: f64, lat: f64) -> (f64, f64) {
        (
            (lng - self.lng) * self.kx,
            (lat - self.lat) * METRES_PER_DEGREE,
        )
    }

    /// The point of segment `a`–`b` nearest to the origin, as `(squared planar distance,
    /// (lng, lat))`.
    pub(crate) fn nearest_on_segment(&self, a: [f64; 2], b: [f64; 2]) -> (f64, [f64; 2]) {
        let (ax, ay) = self.project(a[0], a[1]);
        let (bx, by) = self.project(b[0], b[1]);
        let (dx, dy) = (bx - ax, by - ay);
        let len2 = dx * dx + dy * dy;
        let t = if len2 > 0.0 {
            (-(ax * dx + ay * dy) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let (px, py) = (ax + t * dx, ay + t * dy);
        let at = if t == 0.0 {
            a
        } else if t == 1.0 {
            b
        } else {
            [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]
        };
        (px * px + py * py, at)
    }

    /// Haversine distance from the origin to `p`.
    pub(crate) fn distance_m(&self, p: [f64; 2]) -> f64 {
        haversine_m(self.lng, self.lat, p[0], p[1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Distance, Haversine, Point};

    #[test]
    fn haversine_agrees_with_geo() {
        let pairs = [
            ((125.32, 43.88), (125.33, 43.89)),
            (
                (121.531541859215, 31.17530398364597),
                (116.38404722455657, 39.91334545536069),
            ),
            ((0.0, 0.0), (180.0, 0.0)),
        ];
        for (a, b) in pairs {
            let ours = haversine_m(a.0, a.1, b.0, b.1);
            let geo = Haversine.distance(Point::new(a.0, a.1), Point::new(b.0, b.1));
            assert!((ours - geo).abs() < 1e-6 * geo.max(1.0), "{ours} vs {geo}");
        }
        // Shanghai to Beijing: eviltransform's distance test expects 1,078,164 m ± 1 m
        // on a sphere of the equatorial radius (6,378,137 m); rescale to compare.
        let d = haversine_m(
            121.531541859215,
            31.17530398364597,
            116.38404722455657,
            39.91334545536069,
        );
        let on_their_sphere = d * 6_378_137.0 / EARTH_RADIUS_M;
        assert!(
            (on_their_sphere - 1_078_164.0).abs() < 1.0,
            "{on_their_sphere}"
        );
    }

    #[test]
    fn nearest_point_on_a_segment() {
        let f = LocalFrame::new(125.32, 43.88);
        // A north-south segment 0.001° east of the origin: nearest point is level with it.
        let (d2, at) = f.nearest_on_segment([125.321, 43.87], [125.321, 43.89]);
        assert_eq!(at, [125.321, 43.88]);
        let d = f.distance_m(at);
        assert!((d2.sqrt() - d).abs() < 0.01, "{} vs {d}", d2.sqrt());
        assert!((d - 80.2).abs() < 0.5, "{d}");
        // Past the end of a segment the nearest point is its endpoint.
        let (_, at) = f.nearest_on_segment([125.321, 43.881], [125.322, 43.882]);
        assert_eq!(at, [125.321, 43.881]);
        // A degenerate segment is a point.
        let (_, at) = f.nearest_on_segment([125.3, 43.9], [125.3, 43.9]);
        assert_eq!(at, [125.3, 43.9]);
    }
}
