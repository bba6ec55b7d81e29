//! Area and roster imports, shared by `AdminService` and the `wuzhang import-*` commands:
//! check the whole file, write it whole or not at all.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use wuzhang_app::ApiError;
use wuzhang_domain::FieldError;
use wuzhang_domain::area::{AreaCode, AreaLevel};
use wuzhang_import::Repairs;
use wuzhang_import::areas::{AreaOptions, FeatureIssue, IssueKind};
use wuzhang_import::roster::RowIssue;
use wuzhang_store::Store;

/// What an area import did (or, dry, would do).
#[derive(Debug, Clone, PartialEq)]
pub struct AreasOutcome {
    /// Areas written, or that would be.
    pub imported: usize,
    /// Of those, areas that replaced (or would replace) a stored area with the same code.
    pub replaced: usize,
    /// Blocking problems; non-empty means nothing was written.
    pub issues: Vec<FeatureIssue>,
    pub repaired: Vec<FeatureIssue>,
    pub warnings: Vec<FeatureIssue>,
    pub dry_run: bool,
}

/// Checks `bytes` as a GeoJSON area file against the store and, unless `dry_run` or an
/// issue was found, writes every area in one transaction.
pub async fn import_areas(
    store: &dyn Store,
    bytes: &[u8],
    options: &AreaOptions,
    dry_run: bool,
) -> Result<AreasOutcome, ApiError> {
    let parsed = wuzhang_import::areas::parse(bytes, options).map_err(file_error("geojson"))?;
    // Parents outside the file come from the store: find which, fetch them in one go.
    let in_file: HashSet<&AreaCode> = parsed.features.iter().map(|f| &f.area.code).collect();
    let outside: Vec<AreaCode> = parsed
        .features
        .iter()
        .filter_map(|f| f.area.parent_code.clone())
        .filter(|p| !in_file.contains(p))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let levels = levels_of(store, &outside).await?;
    let repairs = if options.repair {
        repairs(store, &parsed).await?
    } else {
        Repairs::InProcess
    };
    let import =
        wuzhang_import::finish(parsed, options, &|code| levels.get(code).copied(), repairs);
    let imported = import.records.len();
    let codes: Vec<AreaCode> = import.records.iter().map(|r| r.area.code.clone()).collect();
    let replaced = levels_of(store, &codes).await?.len();
    let outcome = AreasOutcome {
        imported,
        replaced,
        issues: import.issues,
        repaired: import.repaired,
        warnings: import.warnings,
        dry_run,
    };
    if dry_run || !outcome.issues.is_empty() {
        return Ok(outcome);
    }
    store.upsert_areas(&import.records).await?;
    tracing::info!(
        imported,
        repaired = outcome.repaired.len(),
        "areas imported"
    );
    Ok(outcome)
}

/// Invalid geometry goes to the database's own repair where it has one (PostGIS
/// `ST_MakeValid`), so the stored shape is what the database itself considers valid;
/// otherwise it is repaired in process.
async fn repairs(
    store: &dyn Store,
    parsed: &wuzhang_import::areas::ParsedAreas,
) -> Result<Repairs, ApiError> {
    let faulty: HashSet<usize> = wuzhang_import::areas::check_validity(&parsed.features)
        .iter()
        .map(|i| i.index)
        .collect();
    let (indexes, wkbs): (Vec<usize>, Vec<Vec<u8>>) = parsed
        .features
        .iter()
        .filter(|f| faulty.contains(&f.index))
        .filter_map(|f| {
            f.geometry
                .as_ref()
                .map(|g| (f.index, wuzhang_import::to_wkb(g)))
        })
        .unzip();
    let Some(fixed) = store.make_valid(&wkbs).await? else {
        return Ok(Repairs::InProcess);
    };
    let mut geometries = HashMap::with_capacity(fixed.len());
    for (index, wkb) in indexes.into_iter().zip(fixed) {
        let g = wuzhang_import::from_wkb(&wkb).map_err(ApiError::internal)?;
        geometries.insert(index, g);
    }
    Ok(Repairs::External {
        geometries,
        tool: "ST_MakeValid",
    })
}

/// What a roster import did (or, dry, would do).
#[derive(Debug, Clone, PartialEq)]
pub struct RosterOutcome {
    pub persons: usize,
    pub posts: usize,
    pub vacancies: usize,
    pub issues: Vec<RowIssue>,
    pub dry_run: bool,
}

/// Checks `bytes` as a roster CSV against the store's areas and, unless `dry_run` or an
/// issue was found, writes persons and posts in one transaction.
pub async fn import_roster(
    store: &dyn Store,
    bytes: &[u8],
    dry_run: bool,
    max_file_bytes: usize,
) -> Result<RosterOutcome, ApiError> {
    // A first pass learns which areas the file names; a second checks it against them.
    let asked = RefCell::new(HashSet::new());
    wuzhang_import::roster::import_roster_up_to(
        bytes,
        &|code| {
            asked.borrow_mut().insert(code.clone());
            None
        },
        max_file_bytes,
    )
    .map_err(file_error("csv"))?;
    let asked: Vec<AreaCode> = asked.into_inner().into_iter().collect();
    let levels = levels_of(store, &asked).await?;
    let import = wuzhang_import::roster::import_roster_up_to(
        bytes,
        &|code| levels.get(code).copied(),
        max_file_bytes,
    )
    .map_err(file_error("csv"))?;
    let outcome = RosterOutcome {
        persons: import.persons.len(),
        posts: import.posts.len(),
        vacancies: import.posts.iter().filter(|p| p.holder.is_none()).count(),
        issues: import.issues,
        dry_run,
    };
    if dry_run || !outcome.issues.is_empty() {
        return Ok(outcome);
    }
    store.upsert_roster(&import.persons, &import.posts).await?;
    tracing::info!(
        persons = outcome.persons,
        posts = outcome.posts,
        "roster imported"
    );
    Ok(outcome)
}

/// Levels of the given areas that exist, fetched in batches.
async fn levels_of(
    store: &dyn Store,
    codes: &[AreaCode],
) -> Result<HashMap<AreaCode, AreaLevel>, ApiError> {
    let mut levels = HashMap::with_capacity(codes.len());
    for chunk in codes.chunks(5_000) {
        for a in store.get_areas(chunk).await? {
            levels.insert(a.code, a.level);
        }
    }
    Ok(levels)
}

fn file_error<E: std::fmt::Display>(field: &'static str) -> impl Fn(E) -> ApiError {
    move |e| ApiError::invalid(field, e.to_string())
}

/// Most field violations one error carries; the rest are counted in the message.
const MAX_VIOLATIONS: usize = 100;

/// The issues of an area file as field violations, e.g.
/// `geojson.features[3].properties.parent_code`.
pub fn area_violations(issues: &[FeatureIssue]) -> Vec<FieldError> {
    let mut out: Vec<FieldError> = issues
        .iter()
        .take(MAX_VIOLATIONS)
        .map(|i| {
            let suffix = match i.kind {
                IssueKind::Code | IssueKind::DuplicateCode => ".properties.code",
                IssueKind::Name => ".properties.name",
                IssueKind::Level => ".properties.level",
                IssueKind::Community => ".properties.community",
                IssueKind::ParentCode
                | IssueKind::MissingParent
                | IssueKind::WrongParentLevel
                | IssueKind::Cycle => ".properties.parent_code",
                IssueKind::NotAFeature => "",
                _ => ".geometry",
            };
            FieldError::new(
                format!("geojson.features[{}]{suffix}", i.index),
                i.to_string(),
            )
        })
        .collect();
    if issues.len() > MAX_VIOLATIONS {
        out.push(FieldError::new(
            "geojson",
            format!("{} more problems not listed", issues.len() - MAX_VIOLATIONS),
        ));
    }
    out
}

/// The issues of a roster as field violations, e.g. `csv.line[7].phone`.
pub fn roster_violations(issues: &[RowIssue]) -> Vec<FieldError> {
    let mut out: Vec<FieldError> = issues
        .iter()
        .take(MAX_VIOLATIONS)
        .map(|i| {
            FieldError::new(
                format!("csv.line[{}].{}", i.line, i.field),
                i.reason.clone(),
            )
        })
        .collect();
    if issues.len() > MAX_VIOLATIONS {
        out.push(FieldError::new(
            "csv",
            format!("{} more problems not listed", issues.len() - MAX_VIOLATIONS),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(index: usize, kind: IssueKind) -> FeatureIssue {
        FeatureIssue {
            index,
            code: Some("220102001".into()),
            kind,
            reason: "what is wrong".into(),
            location: None,
        }
    }

    #[test]
    fn area_issues_name_the_feature_and_its_property() {
        let fields: Vec<String> = area_violations(&[
            issue(0, IssueKind::NotAFeature),
            issue(3, IssueKind::DuplicateCode),
            issue(4, IssueKind::Cycle),
            issue(7, IssueKind::UnclosedRing),
        ])
        .into_iter()
        .map(|v| v.field)
        .collect();
        assert_eq!(
            fields,
            [
                "geojson.features[0]",
                "geojson.features[3].properties.code",
                "geojson.features[4].properties.parent_code",
                "geojson.features[7].geometry",
            ]
        );
    }

    #[test]
    fn a_long_list_is_cut_and_counted() {
        let issues: Vec<_> = (0..MAX_VIOLATIONS + 5)
            .map(|i| issue(i, IssueKind::Name))
            .collect();
        let v = area_violations(&issues);
        assert_eq!(v.len(), MAX_VIOLATIONS + 1);
        let last = v.last().unwrap();
        assert_eq!(
            (last.field.as_str(), last.reason.as_str()),
            ("geojson", "5 more problems not listed")
        );
        let rows: Vec<_> = (0..MAX_VIOLATIONS + 2)
            .map(|i| RowIssue {
                line: i as u64 + 2,
                field: "phone".into(),
                reason: "not a phone number".into(),
            })
            .collect();
        let v = roster_violations(&rows);
        assert_eq!(v[0].field, "csv.line[2].phone");
        assert_eq!(v.last().unwrap().reason, "2 more problems not listed");
    }
}
