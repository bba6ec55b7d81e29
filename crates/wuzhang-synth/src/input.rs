//! The two real inputs: district boundaries (GeoJSON, invalid as delivered) and the
//! division list (CSV: districts, subdistricts, communities).

use std::collections::BTreeMap;
use std::path::Path;

use geo::{Coord, LineString, MultiPolygon, Polygon};
use serde_json::Value;
use wuzhang_domain::area::AreaCode;

use crate::SynthError;

/// A district as published: its code, name and boundary, which may be invalid by OGC
/// rules (self-intersections); [`crate::generate`] repairs it before use.
#[derive(Debug, Clone)]
pub struct DistrictInput {
    pub code: AreaCode,
    pub name: String,
    pub boundary: MultiPolygon<f64>,
}

/// A subdistrict or community from the division list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Division {
    pub code: AreaCode,
    pub name: String,
}

/// Everything the generator reads, parsed once so several trees can be generated from it.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// In the order of the GeoJSON file.
    pub districts: Vec<DistrictInput>,
    /// Subdistricts by district code, each list sorted by code.
    pub subdistricts: BTreeMap<AreaCode, Vec<Division>>,
    /// Communities by subdistrict code, each list sorted by code.
    pub communities: BTreeMap<AreaCode, Vec<Division>>,
}

impl Inputs {
    /// Reads `districts.geojson` and `divisions.csv`.
    pub fn read(
        districts_geojson: impl AsRef<Path>,
        divisions_csv: impl AsRef<Path>,
    ) -> Result<Self, SynthError> {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|source| SynthError::Read {
                path: p.to_owned(),
                source,
            })
        };
        let geojson = read(districts_geojson.as_ref())?;
        let csv = read(divisions_csv.as_ref())?;
        Self::parse(&geojson, &csv)
    }

    /// Parses the contents of the two files.
    pub fn parse(districts_geojson: &str, divisions_csv: &str) -> Result<Self, SynthError> {
        let districts = parse_districts(districts_geojson)?;
        let (subdistricts, communities) = parse_divisions(divisions_csv)?;
        Ok(Self {
            districts,
            subdistricts,
            communities,
        })
    }
}

fn bad(what: &'static str, reason: impl Into<String>) -> SynthError {
    SynthError::Parse {
        what,
        reason: reason.into(),
    }
}

fn parse_districts(text: &str) -> Result<Vec<DistrictInput>, SynthError> {
    const WHAT: &str = "districts geojson";
    let doc: Value = serde_json::from_str(text).map_err(|e| bad(WHAT, e.to_string()))?;
    let features = doc
        .get("features")
        .and_then(Value::as_array)
        .ok_or_else(|| bad(WHAT, "not a featurecollection"))?;
    features
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let at = |reason: &str| bad(WHAT, format!("feature {i}: {reason}"));
            let code = match f.get("id") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => return Err(at("no id")),
            };
            let code = AreaCode::new(code).map_err(|e| at(&e.to_string()))?;
            let name = f
                .pointer("/properties/name")
                .and_then(Value::as_str)
                .ok_or_else(|| at("no properties.name"))?
                .to_owned();
            let geometry = f.get("geometry").ok_or_else(|| at("no geometry"))?;
            let coords = geometry
                .get("coordinates")
                .ok_or_else(|| at("no coordinates"))?;
            let polygons = match geometry.get("type").and_then(Value::as_str) {
                Some("Polygon") => vec![polygon(coords).ok_or_else(|| at("bad polygon"))?],
                Some("MultiPolygon") => coords
                    .as_array()
                    .ok_or_else(|| at("bad multipolygon"))?
                    .iter()
                    .map(|p| polygon(p).ok_or_else(|| at("bad polygon")))
                    .collect::<Result<_, _>>()?,
                _ => return Err(at("geometry is not a polygon or multipolygon")),
            };
            Ok(DistrictInput {
                code,
                name,
                boundary: MultiPolygon::new(polygons),
            })
        })
        .collect()
}

fn polygon(v: &Value) -> Option<Polygon<f64>> {
    let mut rings = v.as_array()?.iter().map(ring);
    let exterior = rings.next()??;
    let interiors = rings.collect::<Option<Vec<_>>>()?;
    Some(Polygon::new(exterior, interiors))
}

fn ring(v: &Value) -> Option<LineString<f64>> {
    v.as_array()?
        .iter()
        .map(|p| {
            let p = p.as_array()?;
            let (x, y) = (p.first()?.as_f64()?, p.get(1)?.as_f64()?);
            (x.is_finite() && y.is_finite()).then_some(Coord { x, y })
        })
        .collect::<Option<Vec<_>>>()
        .map(LineString::new)
}

type ByParent = BTreeMap<AreaCode, Vec<Division>>;

fn parse_divisions(text: &str) -> Result<(ByParent, ByParent), SynthError> {
    const WHAT: &str = "divisions csv";
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| bad(WHAT, e.to_string()))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| bad(WHAT, format!("no {name} column")))
    };
    let (code_i, name_i, level_i, parent_i) = (
        column("code")?,
        column("name")?,
        column("level")?,
        column("parent_code")?,
    );
    let mut subdistricts = ByParent::new();
    let mut communities = ByParent::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(WHAT, e.to_string()))?;
        let at = |reason: String| bad(WHAT, format!("record {}: {reason}", line + 1));
        let field = |i: usize| record.get(i).unwrap_or("").trim();
        let into = match field(level_i) {
            "subdistrict" => &mut subdistricts,
            "community" => &mut communities,
            _ => continue,
        };
        let code = AreaCode::new(field(code_i)).map_err(|e| at(e.to_string()))?;
        let parent = AreaCode::new(field(parent_i)).map_err(|e| at(e.to_string()))?;
        let name = field(name_i);
        if name.is_empty() {
            return Err(at("empty name".into()));
        }
        into.entry(parent).or_default().push(Division {
            code,
            name: name.to_owned(),
        });
    }
    for list in subdistricts.values_mut().chain(communities.values_mut()) {
        list.sort_by(|a, b| a.code.cmp(&b.code));
        list.dedup_by(|a, b| a.code == b.code);
    }
    Ok((subdistricts, communities))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_features_and_divisions() {
        let geojson = r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","id":220102,"properties":{"name":"南关区"},
             "geometry":{"type":"Polygon","coordinates":[[[125,43],[126,43],[126,44],[125,43]]]}}]}"#;
        let csv = "code,name,level,parent_code\n\
                   220102,南关区,district,2201\n\
                   220102002,自强街道,subdistrict,220102\n\
                   220102001,南岭街道,subdistrict,220102\n\
                   220102001001,A社区,community,220102001\n";
        let inputs = Inputs::parse(geojson, csv).unwrap();
        assert_eq!(inputs.districts.len(), 1);
        assert_eq!(inputs.districts[0].code.as_str(), "220102");
        assert_eq!(inputs.districts[0].boundary.0[0].exterior().0.len(), 4);
        let subs = &inputs.subdistricts[&AreaCode::new("220102").unwrap()];
        assert_eq!(subs[0].name, "南岭街道");
        assert_eq!(subs.len(), 2);
        assert_eq!(inputs.communities.len(), 1);
    }

    #[test]
    fn rejects_broken_input() {
        let csv = "code,name,level,parent_code\n";
        let err = Inputs::parse(r#"{"type":"FeatureCollection"}"#, csv).unwrap_err();
        assert!(err.to_string().contains("featurecollection"), "{err}");
        let no_id = r#"{"features":[{"properties":{"name":"x"}}]}"#;
        let err = Inputs::parse(no_id, csv).unwrap_err();
        assert!(err.to_string().contains("feature 0: no id"), "{err}");
        let err = Inputs::parse(r#"{"features":[]}"#, "code,name\n").unwrap_err();
        assert!(err.to_string().contains("no level column"), "{err}");
    }
}
