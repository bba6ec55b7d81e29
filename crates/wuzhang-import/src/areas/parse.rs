//! Reading the file and each feature: fields, coordinates and the shape of the rings.

use geo::{Coord, LineString, MultiPolygon, Polygon};
use serde_json::{Map, Value};
use wuzhang_domain::area::{Area, AreaCode, AreaLevel};

use super::{AreaFileError, AreaOptions, FeatureIssue, IssueKind, ParsedAreas, ParsedFeature};
use crate::geometry::point_footprint;

/// Longest name accepted, in characters.
const MAX_NAME_CHARS: usize = 200;

/// Codes quoted in issues are cut to this many characters, so garbage stays readable.
const MAX_QUOTED_CODE: usize = 64;

/// Reads an area file: refuses it whole ([`AreaFileError`]) when it is too large, not
/// UTF-8, not JSON, not a FeatureCollection or empty; otherwise reads every feature,
/// keeping those with a valid code and level and reporting everything else as issues.
pub fn parse(bytes: &[u8], options: &AreaOptions) -> Result<ParsedAreas, AreaFileError> {
    if bytes.len() > options.max_file_bytes {
        return Err(AreaFileError::TooLarge {
            size: bytes.len(),
            limit: options.max_file_bytes,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| AreaFileError::NotUtf8 {
        line: 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count(),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let root: Value = serde_json::from_str(text).map_err(|e| {
        let mut reason = e.to_string();
        if let Some(at) = reason.rfind(" at line ") {
            reason.truncate(at);
        }
        AreaFileError::NotJson {
            reason: reason.to_lowercase(),
            line: e.line(),
            column: e.column(),
        }
    })?;
    let not_fc = |reason: String| AreaFileError::NotFeatureCollection { reason };
    let Value::Object(mut root) = root else {
        return Err(not_fc(format!("the top level is {}", json_kind(&root))));
    };
    match root.get("type") {
        Some(Value::String(t)) if t == "FeatureCollection" => {}
        Some(Value::String(t)) => return Err(not_fc(format!("its type is {t:?}"))),
        _ => return Err(not_fc("it has no type".into())),
    }
    let features = match root.remove("features") {
        Some(Value::Array(features)) => features,
        Some(other) => {
            return Err(not_fc(format!("features is {}", json_kind(&other))));
        }
        None => return Err(not_fc("it has no features member".into())),
    };
    if features.is_empty() {
        return Err(AreaFileError::Empty);
    }
    drop(root);

    let mut out = ParsedAreas {
        features: Vec::with_capacity(features.len()),
        ..ParsedAreas::default()
    };
    // Features are consumed one by one so their JSON is freed as they are converted.
    for (index, value) in features.into_iter().enumerate() {
        parse_feature(index, value, options, &mut out);
    }
    Ok(out)
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn quoted_code(raw: &str) -> String {
    raw.chars().take(MAX_QUOTED_CODE).collect()
}

/// A string or a number, as codes in the wild are both (`"220102"`, `220102`).
fn code_text(v: &Value, field: &str) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(format!(
            "{field} is {}, expected a string or number",
            json_kind(other)
        )),
    }
}

/// A present, non-null member.
fn member<'a>(props: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    props.get(key).filter(|v| !v.is_null())
}

fn parse_feature(index: usize, value: Value, options: &AreaOptions, out: &mut ParsedAreas) {
    let issue = |code: Option<&str>, kind, reason: String| {
        FeatureIssue::new(index, code.map(quoted_code).as_deref(), kind, reason)
    };
    let Value::Object(mut obj) = value else {
        out.issues.push(issue(
            None,
            IssueKind::NotAFeature,
            format!("entry is {}, not a feature object", json_kind(&value)),
        ));
        return;
    };
    match obj.get("type") {
        Some(Value::String(t)) if t == "Feature" => {}
        _ => {
            out.issues.push(issue(
                None,
                IssueKind::NotAFeature,
                "entry is not a feature (its type is not \"Feature\")".into(),
            ));
            return;
        }
    }
    let props = match obj.remove("properties") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(other) => {
            out.issues.push(issue(
                None,
                IssueKind::NotAFeature,
                format!("properties is {}, expected an object", json_kind(&other)),
            ));
            Map::new()
        }
    };

    // Code, from properties.code or else the feature id.
    let raw_code = match member(&props, "code") {
        Some(v) => code_text(v, "properties.code"),
        None => match obj.get("id").filter(|v| !v.is_null()) {
            Some(v) => code_text(v, "id"),
            None => Err("missing code: give properties.code or the feature id".into()),
        },
    };
    let (raw_code, code) = match raw_code {
        Ok(raw) => {
            let code = AreaCode::new(raw.clone()).map_err(|e| {
                issue(
                    Some(&raw),
                    IssueKind::Code,
                    format!("code {:?} {}", quoted_code(&raw), e.reason),
                )
            });
            (Some(raw), code)
        }
        Err(reason) => (None, Err(issue(None, IssueKind::Code, reason))),
    };
    let code_str = raw_code.as_deref();
    let mut issues = Vec::new();
    let code = code.map_err(|i| issues.push(i)).ok();

    // Name.
    let name = match member(&props, "name") {
        Some(Value::String(s)) => {
            let name = s.trim();
            let n = name.chars().count();
            if n == 0 || n > MAX_NAME_CHARS {
                issues.push(issue(
                    code_str,
                    IssueKind::Name,
                    format!("name must be 1 to {MAX_NAME_CHARS} characters, it has {n}"),
                ));
            }
            name.to_owned()
        }
        Some(other) => {
            issues.push(issue(
                code_str,
                IssueKind::Name,
                format!("name is {}, expected a string", json_kind(other)),
            ));
            String::new()
        }
        None => {
            issues.push(issue(code_str, IssueKind::Name, "missing name".into()));
            String::new()
        }
    };

    // Level.
    let level = match member(&props, "level") {
        Some(Value::String(s)) => s
            .parse::<AreaLevel>()
            .map_err(|e| issues.push(issue(code_str, IssueKind::Level, e.reason)))
            .ok(),
        Some(other) => {
            issues.push(issue(
                code_str,
                IssueKind::Level,
                format!("level is {}, expected a string", json_kind(other)),
            ));
            None
        }
        None => {
            if options.default_level.is_none() {
                issues.push(issue(
                    code_str,
                    IssueKind::Level,
                    "missing level and no default level given".into(),
                ));
            }
            options.default_level
        }
    };

    // Parent.
    let parent_code = match member(&props, "parent_code") {
        Some(v) => match code_text(v, "parent_code").and_then(|raw| {
            AreaCode::new(raw.clone())
                .map_err(|e| format!("parent_code {:?} {}", quoted_code(&raw), e.reason))
        }) {
            Ok(p) => Some(p),
            Err(reason) => {
                issues.push(issue(code_str, IssueKind::ParentCode, reason));
                None
            }
        },
        None => options
            .default_parent_code
            .clone()
            .filter(|_| level.is_some_and(|l| l.parent_level().is_some())),
    };
    let parent_code_given = member(&props, "parent_code").is_some();
    if let (Some(level), Some(code)) = (level, &code) {
        match &parent_code {
            None if !level.may_be_root() && !parent_code_given => issues.push(issue(
                code_str,
                IssueKind::MissingParent,
                format!(
                    "a {level} must have a parent {}",
                    level.parent_level().map_or("(none)", AreaLevel::as_str)
                ),
            )),
            Some(p) if p == code => issues.push(issue(
                code_str,
                IssueKind::ParentCode,
                "an area cannot be its own parent".into(),
            )),
            _ => {}
        }
    }

    // Community.
    let community = match member(&props, "community") {
        Some(Value::String(s)) => {
            let s = s.trim();
            let n = s.chars().count();
            if n > MAX_NAME_CHARS {
                issues.push(issue(
                    code_str,
                    IssueKind::Community,
                    format!("community must be at most {MAX_NAME_CHARS} characters, it has {n}"),
                ));
            }
            (n > 0).then(|| s.to_owned())
        }
        Some(other) => {
            issues.push(issue(
                code_str,
                IssueKind::Community,
                format!("community is {}, expected a string", json_kind(other)),
            ));
            None
        }
        None => None,
    };

    // Geometry.
    let mut ring_defects = Vec::new();
    let geometry = match parse_geometry(obj.remove("geometry").unwrap_or(Value::Null)) {
        Ok(RawGeometry::None) => None,
        Ok(RawGeometry::Shape(mp, defects)) => {
            ring_defects.extend(
                defects
                    .into_iter()
                    .map(|d| issue(code_str, d.kind, d.reason).at(d.location)),
            );
            Some(Shape::Area(mp))
        }
        Ok(RawGeometry::Point(c)) => Some(Shape::Point(c)),
        Err(d) => {
            issues.push(issue(code_str, d.kind, d.reason).at(d.location));
            Some(Shape::Broken)
        }
    };
    let geometry = match (level, geometry) {
        (_, Some(Shape::Broken)) => None,
        (None, Some(Shape::Area(mp))) => Some(mp),
        (None, _) => None,
        (Some(level), None) if level.has_geometry() => {
            issues.push(issue(
                code_str,
                IssueKind::Geometry,
                format!("a {level} needs a polygon or multipolygon geometry"),
            ));
            None
        }
        (Some(_), None) => None,
        (Some(level), Some(_)) if !level.has_geometry() => {
            out.warnings.push(issue(
                code_str,
                IssueKind::IgnoredGeometry,
                format!("a {level} has no footprint: its geometry was ignored"),
            ));
            ring_defects.clear();
            None
        }
        (Some(AreaLevel::Building), Some(Shape::Point(c))) => {
            out.warnings.push(
                issue(
                    code_str,
                    IssueKind::PointFootprint,
                    "building given as a point: imported as a 5 m square around it".into(),
                )
                .at(Some(c)),
            );
            Some(point_footprint(c))
        }
        (Some(level), Some(Shape::Point(c))) => {
            issues.push(
                issue(
                    code_str,
                    IssueKind::Geometry,
                    format!("a {level} needs a polygon or multipolygon, not a point (only buildings may be points)"),
                )
                .at(Some(c)),
            );
            None
        }
        (Some(_), Some(Shape::Area(mp))) => Some(mp),
    };

    out.issues.extend(issues);
    if let (Some(code), Some(level)) = (code, level) {
        let area = Area {
            code,
            name,
            level,
            parent_code,
            community,
            bbox: None,
        };
        out.features.push(ParsedFeature {
            index,
            area,
            geometry,
            ring_defects,
        });
    }
}

enum Shape {
    Area(MultiPolygon<f64>),
    Point(Coord<f64>),
    Broken,
}

enum RawGeometry {
    None,
    Shape(MultiPolygon<f64>, Vec<Defect>),
    Point(Coord<f64>),
}

/// A problem found in a geometry, before it is tied to its feature.
struct Defect {
    kind: IssueKind,
    reason: String,
    location: Option<Coord<f64>>,
}

fn defect(kind: IssueKind, reason: String) -> Defect {
    Defect {
        kind,
        reason,
        location: None,
    }
}

fn parse_geometry(v: Value) -> Result<RawGeometry, Defect> {
    let obj = match v {
        Value::Null => return Ok(RawGeometry::None),
        Value::Object(obj) => obj,
        other => {
            return Err(defect(
                IssueKind::Geometry,
                format!(
                    "geometry is {}, expected an object or null",
                    json_kind(&other)
                ),
            ));
        }
    };
    let kind = match obj.get("type") {
        Some(Value::String(t)) => t.as_str(),
        _ => return Err(defect(IssueKind::Geometry, "geometry has no type".into())),
    };
    let coords = obj.get("coordinates").unwrap_or(&Value::Null);
    let mut defects = Vec::new();
    match kind {
        "Polygon" => {
            let p = polygon(coords, "geometry.coordinates", &mut defects)?;
            Ok(RawGeometry::Shape(MultiPolygon::new(vec![p]), defects))
        }
        "MultiPolygon" => {
            let Value::Array(polys) = coords else {
                return Err(defect(
                    IssueKind::Geometry,
                    "geometry.coordinates of a multipolygon must be an array of polygons".into(),
                ));
            };
            if polys.is_empty() {
                return Err(defect(
                    IssueKind::Geometry,
                    "multipolygon has no polygons".into(),
                ));
            }
            let polys = polys
                .iter()
                .enumerate()
                .map(|(i, p)| polygon(p, &format!("geometry.coordinates[{i}]"), &mut defects))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(RawGeometry::Shape(MultiPolygon::new(polys), defects))
        }
        "Point" => position(coords, &|| "geometry.coordinates".into()).map(RawGeometry::Point),
        other => Err(defect(
            IssueKind::Geometry,
            format!(
                "unsupported geometry type {:?}: expected \"Polygon\" or \"MultiPolygon\"",
                quoted_code(other)
            ),
        )),
    }
}

fn polygon(v: &Value, path: &str, defects: &mut Vec<Defect>) -> Result<Polygon<f64>, Defect> {
    let Value::Array(rings) = v else {
        return Err(defect(
            IssueKind::Geometry,
            format!("{path} must be an array of rings"),
        ));
    };
    if rings.is_empty() {
        return Err(defect(IssueKind::Geometry, format!("{path} has no rings")));
    }
    let mut rings = rings
        .iter()
        .enumerate()
        .map(|(r, ring_value)| ring(ring_value, path, r, defects))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter();
    let exterior = rings.next().unwrap_or_else(|| LineString::new(vec![]));
    // Polygon::new closes the rings; the defects already say which were open.
    Ok(Polygon::new(exterior, rings.collect()))
}

fn ring(
    v: &Value,
    path: &str,
    r: usize,
    defects: &mut Vec<Defect>,
) -> Result<LineString<f64>, Defect> {
    let Value::Array(positions) = v else {
        return Err(defect(
            IssueKind::Geometry,
            format!("{path}[{r}] must be an array of positions"),
        ));
    };
    let coords = positions
        .iter()
        .enumerate()
        .map(|(k, p)| position(p, &|| format!("{path}[{r}][{k}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let first = coords.first().copied();
    if coords.len() > 1 && coords.first() != coords.last() {
        defects.push(Defect {
            kind: IssueKind::UnclosedRing,
            reason: format!("ring {path}[{r}] is not closed (its last position is not its first)"),
            location: first,
        });
    }
    if coords.len() < 4 {
        defects.push(Defect {
            kind: IssueKind::ShortRing,
            reason: format!(
                "ring {path}[{r}] has {} positions, a ring needs at least 4",
                coords.len()
            ),
            location: first,
        });
    }
    Ok(LineString::new(coords))
}

fn position(v: &Value, path: &dyn Fn() -> String) -> Result<Coord<f64>, Defect> {
    let xy = match v {
        Value::Array(a) if a.len() >= 2 => a[0].as_f64().zip(a[1].as_f64()),
        _ => None,
    };
    let Some((lng, lat)) = xy else {
        return Err(defect(
            IssueKind::Geometry,
            format!("{} is not a position [longitude, latitude]", path()),
        ));
    };
    if !(lng.is_finite() && lat.is_finite()) {
        return Err(defect(
            IssueKind::CoordinateRange,
            format!("{}: coordinates must be finite", path()),
        ));
    }
    if !(-180.0..=180.0).contains(&lng) {
        return Err(defect(
            IssueKind::CoordinateRange,
            format!("{}: longitude {lng} is outside [-180, 180]", path()),
        ));
    }
    if !(-90.0..=90.0).contains(&lat) {
        return Err(defect(
            IssueKind::CoordinateRange,
            format!("{}: latitude {lat} is outside [-90, 90]", path()),
        ));
    }
    // + 0.0 turns -0.0 into 0.0 (see geometry::normalise_zeros).
    Ok(Coord {
        x: lng + 0.0,
        y: lat + 0.0,
    })
}
