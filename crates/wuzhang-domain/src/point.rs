//! Coordinates as phones report them. Every point carries its coordinate system; intake
//! converts to WGS84 for routing and keeps the original on the ticket.

use serde::{Deserialize, Serialize};

use crate::FieldError;

/// Coordinate reference systems phones report in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Crs {
    /// GPS.
    #[default]
    Wgs84,
    /// "Mars coordinates" used by Amap, Tencent and WeChat maps inside China.
    Gcj02,
    /// Baidu's offset on top of GCJ-02.
    Bd09,
    /// China's geodetic datum; within a metre of WGS84, treated as identical.
    Cgcs2000,
}

impl Crs {
    pub fn as_str(self) -> &'static str {
        match self {
            Crs::Wgs84 => "wgs84",
            Crs::Gcj02 => "gcj02",
            Crs::Bd09 => "bd09",
            Crs::Cgcs2000 => "cgcs2000",
        }
    }
}

impl std::str::FromStr for Crs {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "wgs84" => Ok(Crs::Wgs84),
            "gcj02" => Ok(Crs::Gcj02),
            "bd09" => Ok(Crs::Bd09),
            "cgcs2000" => Ok(Crs::Cgcs2000),
            other => Err(FieldError::new("crs", format!("unknown crs {other:?}"))),
        }
    }
}

/// A point in some CRS, in degrees. Constructed only through [`GeoPoint::new`], so a
/// `GeoPoint` is always finite and in range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    lat: f64,
    lng: f64,
    crs: Crs,
}

impl GeoPoint {
    pub fn new(lat: f64, lng: f64, crs: Crs) -> Result<Self, FieldError> {
        if !lat.is_finite() {
            return Err(FieldError::new("lat", "must be a finite number"));
        }
        if !lng.is_finite() {
            return Err(FieldError::new("lng", "must be a finite number"));
        }
        if !(-90.0..=90.0).contains(&lat) {
            return Err(FieldError::new(
                "lat",
                format!("{lat} is outside [-90, 90]"),
            ));
        }
        if !(-180.0..=180.0).contains(&lng) {
            return Err(FieldError::new(
                "lng",
                format!("{lng} is outside [-180, 180]"),
            ));
        }
        Ok(Self { lat, lng, crs })
    }

    pub fn lat(&self) -> f64 {
        self.lat
    }

    pub fn lng(&self) -> f64 {
        self.lng
    }

    pub fn crs(&self) -> Crs {
        self.crs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_finite_and_in_range() {
        assert!(GeoPoint::new(43.88, 125.32, Crs::Gcj02).is_ok());
        assert_eq!(
            GeoPoint::new(f64::NAN, 1.0, Crs::Wgs84).unwrap_err().field,
            "lat"
        );
        assert_eq!(
            GeoPoint::new(1.0, f64::INFINITY, Crs::Wgs84)
                .unwrap_err()
                .field,
            "lng"
        );
        assert_eq!(
            GeoPoint::new(90.5, 1.0, Crs::Wgs84).unwrap_err().field,
            "lat"
        );
        assert_eq!(
            GeoPoint::new(1.0, -180.5, Crs::Wgs84).unwrap_err().field,
            "lng"
        );
        assert_eq!("bd09".parse::<Crs>().unwrap(), Crs::Bd09);
        assert!("epsg3857".parse::<Crs>().is_err());
    }
}
