//! Organizations (条块协同) from CSV: departments, property companies and alliance units,
//! the areas they serve and their staff.
//!
//! The file is read as the roster is (UTF-8, header row, columns in any order, names
//! matched case-insensitively, unknown columns refused). Required columns: `code`, `name`,
//! `kind` (`department`, `property_company` or `alliance_unit`), `org_type` (a code such
//! as `property` or `heating`), `areas` (area codes separated by `|`), `staff` (person ids
//! separated by `|`, may be empty: the subjects of its staff's `organization` tokens; they
//! need not be on the roster, which lists chiefs). Optional: `red_heart` (`true`/`false`,
//! `是`/`否`, `1`/`0`; property companies only), `calendar_code`.
//!
//! One row is one organization; a code appears on one row only. Every area must exist
//! (the caller answers). Every problem
//! is a [`RowIssue`] naming the line and the column; organizations are returned only when
//! there is none.

use std::collections::HashMap;

use wuzhang_domain::area::AreaCode;
use wuzhang_domain::chief::PersonId;
use wuzhang_domain::organization::{Organization, OrganizationCode, OrganizationKind};

use crate::roster::{RosterFileError, RowIssue, each_row, open_csv};

/// Largest organization file accepted.
pub const MAX_ORGANIZATION_FILE_BYTES: usize = 16 * 1024 * 1024;

const REQUIRED: [&str; 6] = ["code", "name", "kind", "org_type", "areas", "staff"];
const OPTIONAL: [&str; 2] = ["red_heart", "calendar_code"];

/// Whether a referenced code exists in the store.
pub type Exists<'a, T> = &'a dyn Fn(&T) -> bool;

/// Reads and checks an organization file; `area_exists` answers for the store.
/// `Ok(Err(issues))` when any row has a problem.
pub fn import_organizations(
    bytes: &[u8],
    area_exists: Exists<'_, AreaCode>,
) -> Result<Result<Vec<Organization>, Vec<RowIssue>>, RosterFileError> {
    let (mut reader, columns) = open_csv(bytes, MAX_ORGANIZATION_FILE_BYTES, &REQUIRED, &OPTIONAL)?;
    let mut issues = Vec::new();
    let mut out = Vec::new();
    let mut seen: HashMap<OrganizationCode, u64> = HashMap::new();
    each_row(
        &mut reader,
        &columns,
        &mut issues,
        |line, fields, issues| {
            let before = issues.len();
            let issue = |issues: &mut Vec<RowIssue>, field: &str, reason: String| {
                issues.push(RowIssue {
                    line,
                    field: field.into(),
                    reason,
                })
            };
            let code = match OrganizationCode::new(fields.get("code")) {
                Ok(c) => {
                    if let Some(first) = seen.insert(c.clone(), line) {
                        issue(
                            issues,
                            "code",
                            format!("organization {c} is also on line {first}"),
                        );
                    }
                    Some(c)
                }
                Err(e) => {
                    issue(issues, "code", e.reason);
                    None
                }
            };
            let kind = match fields.get("kind").parse::<OrganizationKind>() {
                Ok(k) => Some(k),
                Err(e) => {
                    issue(issues, "kind", e.reason);
                    None
                }
            };
            let red_heart = match fields.get("red_heart") {
                "" | "false" | "否" | "0" => false,
                "true" | "是" | "1" => true,
                other => {
                    issue(
                        issues,
                        "red_heart",
                        format!("{other:?} is not true or false (是/否, 1/0)"),
                    );
                    false
                }
            };
            let mut areas = Vec::new();
            for raw in split_list(fields.get("areas")) {
                match AreaCode::new(raw) {
                    Ok(a) if !area_exists(&a) => issue(issues, "areas", format!("no area {a}")),
                    Ok(a) if areas.contains(&a) => {
                        issue(issues, "areas", format!("area {a} named twice"))
                    }
                    Ok(a) => areas.push(a),
                    Err(e) => issue(issues, "areas", format!("{raw:?}: {}", e.reason)),
                }
            }
            let mut staff = Vec::new();
            for raw in split_list(fields.get("staff")) {
                match PersonId::new(raw) {
                    Ok(p) if staff.contains(&p) => {
                        issue(issues, "staff", format!("person {p} named twice"))
                    }
                    Ok(p) => staff.push(p),
                    Err(e) => issue(issues, "staff", format!("{raw:?}: {}", e.reason)),
                }
            }
            let calendar_code =
                Some(fields.get("calendar_code").to_owned()).filter(|c| !c.is_empty());
            let (Some(code), Some(kind)) = (code, kind) else {
                return;
            };
            let org = Organization {
                code,
                name: fields.get("name").to_owned(),
                kind,
                org_type: fields.get("org_type").to_owned(),
                red_heart,
                areas,
                staff,
                calendar_code,
            };
            // The whole-record rules (name, type, lists' sizes), once the fields parsed.
            if issues.len() == before {
                match org.validate() {
                    Ok(()) => out.push(org),
                    Err(e) => issue(issues, &e.field, e.reason),
                }
            }
        },
    );
    issues.sort_by_key(|i| i.line);
    Ok(if issues.is_empty() {
        Ok(out)
    } else {
        Err(issues)
    })
}

/// The items of a `|`-separated list, trimmed, empty ones dropped.
fn split_list(field: &str) -> impl Iterator<Item = &str> {
    field.split('|').map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(csv: &str) -> Result<Vec<Organization>, Vec<RowIssue>> {
        import_organizations(csv.as_bytes(), &|a| {
            a.as_str().starts_with('g') || a.as_str() == "d1"
        })
        .unwrap()
    }

    #[test]
    fn a_good_file_gives_every_organization() {
        let orgs = run("code,name,kind,org_type,areas,staff,red_heart\n\
             wy-1,红星物业,property_company,property,g1|g2,s1|s2,是\n\
             gr-1,热力公司,department,heating,d1,,\n")
        .unwrap();
        assert_eq!(orgs.len(), 2);
        assert!(orgs[0].red_heart);
        assert_eq!(orgs[0].areas.len(), 2);
        assert_eq!(orgs[0].staff.len(), 2);
        assert_eq!(orgs[1].kind, OrganizationKind::Department);
        assert!(orgs[1].staff.is_empty());
        assert_eq!(orgs[1].calendar_code, None);
    }

    #[test]
    fn every_problem_names_its_line_and_column() {
        let issues = run("code,name,kind,org_type,areas,staff,red_heart\n\
             wy-1,红星物业,property_company,property,g1|x9,s1|s1,maybe\n\
             wy-1,,bank,property,,s1,\n\
             gr 1,热力,department,heating,d1,,true\n")
        .unwrap_err();
        let got: Vec<(u64, &str)> = issues.iter().map(|i| (i.line, i.field.as_str())).collect();
        assert_eq!(
            got,
            [
                (2, "red_heart"),
                (2, "areas"),
                (2, "staff"),
                (3, "code"),
                (3, "kind"),
                (4, "code"),
            ]
        );
        assert!(issues[1].reason.contains("x9"), "{:?}", issues[1]);
        assert!(issues[3].reason.contains("line 2"), "{:?}", issues[3]);
        // A row whose fields parse but break a whole-record rule.
        let issues = run("code,name,kind,org_type,areas,staff,red_heart\n\
             dp-1,城管,department,urban,g1,,true\n")
        .unwrap_err();
        assert_eq!(issues[0].field, "red_heart");
        let issues =
            run("code,name,kind,org_type,areas,staff\nwy-2,物业,property_company,property,,s1\n")
                .unwrap_err();
        assert_eq!(issues[0].field, "areas");
    }

    #[test]
    fn a_bad_header_refuses_the_file() {
        let e = import_organizations(b"code,name\n", &|_| true).unwrap_err();
        assert_eq!(e, RosterFileError::MissingColumn("kind"));
        let e = import_organizations(b"code,name,kind,org_type,areas,staff,colour\n", &|_| true)
            .unwrap_err();
        assert!(matches!(e, RosterFileError::UnknownColumn(_)));
    }
}
