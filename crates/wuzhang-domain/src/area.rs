//! Areas: one tree from district down to unit. Every ticket is placed on it, and the
//! chain of chiefs is read off it by walking up from the grid.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::FieldError;
use crate::chief::ChiefLevel;

/// Longest code we accept. GB/T 2260 + GB/T 30428.1 grid codes are 15 digits; buildings
/// and units append their own parts, so leave room without allowing abuse.
pub const MAX_CODE_LEN: usize = 32;

/// The code of an area (e.g. `220102001` for a subdistrict). Codes are the identity of an
/// area across imports, so they are restricted to characters safe in URLs, CSV and logs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AreaCode(String);

impl AreaCode {
    pub fn new(code: impl Into<String>) -> Result<Self, FieldError> {
        let code = code.into();
        validate_code(&code).map_err(|reason| FieldError::new("code", reason))?;
        Ok(Self(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Shared by area, category and person codes: non-empty, bounded, `[A-Za-z0-9_-]`.
pub(crate) fn validate_code(code: &str) -> Result<(), String> {
    if code.is_empty() {
        return Err("must not be empty".into());
    }
    if code.len() > MAX_CODE_LEN {
        return Err(format!("must be at most {MAX_CODE_LEN} characters"));
    }
    if !code
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err("may contain only ASCII letters, digits, '-' and '_'".into());
    }
    Ok(())
}

impl TryFrom<String> for AreaCode {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<AreaCode> for String {
    fn from(c: AreaCode) -> String {
        c.0
    }
}

impl fmt::Display for AreaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The levels of the area tree, from the top. `District` is an administrative parent of
/// subdistricts with no chief of its own: it lets real district boundaries (and the
/// subdistricts under them) be imported as they are published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AreaLevel {
    District,
    Subdistrict,
    Street,
    Lane,
    Grid,
    Building,
    Unit,
}

impl AreaLevel {
    pub const ALL: [AreaLevel; 7] = [
        AreaLevel::District,
        AreaLevel::Subdistrict,
        AreaLevel::Street,
        AreaLevel::Lane,
        AreaLevel::Grid,
        AreaLevel::Building,
        AreaLevel::Unit,
    ];

    /// The name used in GeoJSON properties, CSV and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            AreaLevel::District => "district",
            AreaLevel::Subdistrict => "subdistrict",
            AreaLevel::Street => "street",
            AreaLevel::Lane => "lane",
            AreaLevel::Grid => "grid",
            AreaLevel::Building => "building",
            AreaLevel::Unit => "unit",
        }
    }

    /// The level a parent of this level must have; `None` for the top of the tree.
    /// A subdistrict may also be a root (no district imported).
    pub fn parent_level(self) -> Option<AreaLevel> {
        match self {
            AreaLevel::District => None,
            AreaLevel::Subdistrict => Some(AreaLevel::District),
            AreaLevel::Street => Some(AreaLevel::Subdistrict),
            AreaLevel::Lane => Some(AreaLevel::Street),
            AreaLevel::Grid => Some(AreaLevel::Lane),
            AreaLevel::Building => Some(AreaLevel::Grid),
            AreaLevel::Unit => Some(AreaLevel::Building),
        }
    }

    /// Whether an area of this level may have no parent.
    pub fn may_be_root(self) -> bool {
        matches!(self, AreaLevel::District | AreaLevel::Subdistrict)
    }

    /// The chief post that an area of this level has, if any.
    pub fn chief_level(self) -> Option<ChiefLevel> {
        match self {
            AreaLevel::District => None,
            AreaLevel::Subdistrict => Some(ChiefLevel::CommandCenter),
            AreaLevel::Street => Some(ChiefLevel::Street),
            AreaLevel::Lane => Some(ChiefLevel::Lane),
            AreaLevel::Grid => Some(ChiefLevel::Grid),
            AreaLevel::Building => Some(ChiefLevel::Building),
            AreaLevel::Unit => Some(ChiefLevel::Unit),
        }
    }

    /// Whether areas of this level carry a footprint. Units are named by address only.
    pub fn has_geometry(self) -> bool {
        !matches!(self, AreaLevel::Unit)
    }
}

impl std::str::FromStr for AreaLevel {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AreaLevel::ALL.into_iter().find(|l| l.as_str() == s).ok_or_else(|| {
            FieldError::new(
                "level",
                format!(
                    "unknown level {s:?}: expected district, subdistrict, street, lane, grid, building or unit"
                ),
            )
        })
    }
}

impl fmt::Display for AreaLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An axis-aligned box in WGS84 degrees, kept with each area so a store without spatial
/// indexes (SQLite) can still answer "areas in this box" with plain comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BBox {
    pub min_lng: f64,
    pub min_lat: f64,
    pub max_lng: f64,
    pub max_lat: f64,
}

impl BBox {
    pub fn intersects(&self, other: &BBox) -> bool {
        self.min_lng <= other.max_lng
            && other.min_lng <= self.max_lng
            && self.min_lat <= other.max_lat
            && other.min_lat <= self.max_lat
    }

    pub fn validate(&self) -> Result<(), FieldError> {
        let finite = [self.min_lng, self.min_lat, self.max_lng, self.max_lat]
            .iter()
            .all(|v| v.is_finite());
        if !finite {
            return Err(FieldError::new("bbox", "coordinates must be finite"));
        }
        if !(-180.0..=180.0).contains(&self.min_lng) || !(-180.0..=180.0).contains(&self.max_lng) {
            return Err(FieldError::new(
                "bbox",
                "longitude must be within [-180, 180]",
            ));
        }
        if !(-90.0..=90.0).contains(&self.min_lat) || !(-90.0..=90.0).contains(&self.max_lat) {
            return Err(FieldError::new("bbox", "latitude must be within [-90, 90]"));
        }
        if self.min_lng > self.max_lng || self.min_lat > self.max_lat {
            return Err(FieldError::new("bbox", "min must not exceed max"));
        }
        Ok(())
    }
}

/// One node of the area tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Area {
    pub code: AreaCode,
    pub name: String,
    pub level: AreaLevel,
    pub parent_code: Option<AreaCode>,
    /// The community (社区) a grid reports under: a tag for evaluation, not a chain level.
    pub community: Option<String>,
    /// Envelope of the geometry, if the area has one.
    pub bbox: Option<BBox>,
}

impl Area {
    /// Checks the parts of an area that do not need the rest of the tree.
    pub fn validate(&self) -> Result<(), FieldError> {
        let name_len = self.name.chars().count();
        if name_len == 0 || name_len > 200 {
            return Err(FieldError::new("name", "must be 1 to 200 characters"));
        }
        match (&self.parent_code, self.level.may_be_root()) {
            (None, false) => {
                return Err(FieldError::new(
                    "parent_code",
                    format!(
                        "a {} must have a parent {}",
                        self.level,
                        parent_name(self.level)
                    ),
                ));
            }
            (Some(p), _) if *p == self.code => {
                return Err(FieldError::new(
                    "parent_code",
                    "an area cannot be its own parent",
                ));
            }
            _ => {}
        }
        if let Some(b) = &self.bbox {
            b.validate()?;
        }
        Ok(())
    }

    /// Whether `parent` may be the parent of this area.
    pub fn check_parent(&self, parent: &Area) -> Result<(), FieldError> {
        if Some(parent.level) != self.level.parent_level() {
            return Err(FieldError::new(
                "parent_code",
                format!(
                    "parent {} is a {}, but a {} needs a {}",
                    parent.code,
                    parent.level,
                    self.level,
                    parent_name(self.level)
                ),
            ));
        }
        Ok(())
    }
}

fn parent_name(level: AreaLevel) -> &'static str {
    level.parent_level().map_or("(none)", AreaLevel::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_validated() {
        assert!(AreaCode::new("220102001").is_ok());
        assert!(AreaCode::new("G-01_a").is_ok());
        assert!(AreaCode::new("").is_err());
        assert!(AreaCode::new("a b").is_err());
        assert!(AreaCode::new("长春").is_err());
        assert!(AreaCode::new("x".repeat(33)).is_err());
    }

    #[test]
    fn levels_chain_up_to_the_subdistrict() {
        let mut level = AreaLevel::Unit;
        let mut seen = vec![level];
        while let Some(p) = level.parent_level() {
            assert!(p < level, "parent must be above");
            level = p;
            seen.push(p);
        }
        assert_eq!(seen.len(), 7);
        for l in AreaLevel::ALL {
            assert_eq!(l.as_str().parse::<AreaLevel>().unwrap(), l);
        }
        assert!("city".parse::<AreaLevel>().is_err());
    }

    #[test]
    fn areas_need_the_right_parent() {
        let sub = Area {
            code: AreaCode::new("220102001").unwrap(),
            name: "南岭街道".into(),
            level: AreaLevel::Subdistrict,
            parent_code: None,
            community: None,
            bbox: None,
        };
        assert!(sub.validate().is_ok());
        let grid = Area {
            code: AreaCode::new("220102001001001").unwrap(),
            name: "网格1".into(),
            level: AreaLevel::Grid,
            parent_code: None,
            community: None,
            bbox: None,
        };
        assert_eq!(grid.validate().unwrap_err().field, "parent_code");
        let grid = Area {
            parent_code: Some(sub.code.clone()),
            ..grid
        };
        assert!(grid.validate().is_ok());
        let err = grid.check_parent(&sub).unwrap_err();
        assert!(err.reason.contains("needs a lane"), "{err}");
    }

    #[test]
    fn bbox_rejects_nonsense() {
        let b = BBox {
            min_lng: 125.0,
            min_lat: 43.0,
            max_lng: 126.0,
            max_lat: 44.0,
        };
        assert!(b.validate().is_ok());
        assert!(
            BBox {
                min_lng: f64::NAN,
                ..b
            }
            .validate()
            .is_err()
        );
        assert!(BBox { max_lat: 91.0, ..b }.validate().is_err());
        assert!(
            BBox {
                min_lng: 127.0,
                ..b
            }
            .validate()
            .is_err()
        );
        assert!(b.intersects(&BBox {
            min_lng: 125.5,
            min_lat: 43.5,
            max_lng: 130.0,
            max_lat: 50.0
        }));
        assert!(!b.intersects(&BBox {
            min_lng: 126.5,
            min_lat: 43.5,
            max_lng: 130.0,
            max_lat: 50.0
        }));
    }
}
