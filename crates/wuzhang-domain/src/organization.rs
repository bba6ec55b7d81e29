//! Organizations that hold tickets beside the five-chief chain (条块协同): functional
//! departments (城管, 住建, 水务, 供热 …), property companies (物业, some flagged 红心物业)
//! and alliance units (党建联盟).
//!
//! An organization serves areas (a property company its buildings or grids, a department
//! a whole district) and does work of one *type* (`property`, `heating`, `water` …). A
//! category may route to a type instead of the chain: intake gives the ticket to the
//! organization of that type serving the deepest area the ticket lies in, and the command
//! center may dispatch (派遣) any open ticket to any organization serving it. While an
//! organization holds a ticket, the grid chief follows it as 属地 responsible: the
//! [`Assignment`](crate::ticket::Assignment) keeps the grid's post (level, area, acting
//! chief) and names the organization, whose staff act on it. An organization accepts,
//! resolves, or returns (退回) the ticket to the command center with a reason, within its
//! accept window; a missed deadline sends the ticket to the command center.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::FieldError;
use crate::area::{AreaCode, validate_code};
use crate::category::Category;
use crate::chief::PersonId;

/// An organization's code, chosen by whoever keeps the list (e.g. a credit code).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrganizationCode(String);

impl OrganizationCode {
    pub fn new(code: impl Into<String>) -> Result<Self, FieldError> {
        let code = code.into();
        validate_code(&code).map_err(|reason| FieldError::new("organization_code", reason))?;
        Ok(Self(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OrganizationCode {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<OrganizationCode> for String {
    fn from(c: OrganizationCode) -> String {
        c.0
    }
}

impl fmt::Display for OrganizationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The class of an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrganizationKind {
    /// A functional department (职能部门): 城管, 住建, 水务, 供热 ….
    Department,
    /// A property company (物业服务企业).
    PropertyCompany,
    /// An alliance unit (党建联盟成员单位).
    AllianceUnit,
}

impl OrganizationKind {
    pub const ALL: [OrganizationKind; 3] = [
        OrganizationKind::Department,
        OrganizationKind::PropertyCompany,
        OrganizationKind::AllianceUnit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrganizationKind::Department => "department",
            OrganizationKind::PropertyCompany => "property_company",
            OrganizationKind::AllianceUnit => "alliance_unit",
        }
    }
}

impl std::str::FromStr for OrganizationKind {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrganizationKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                FieldError::new(
                    "kind",
                    format!(
                        "unknown organization kind {s:?}: expected department, \
                         property_company or alliance_unit"
                    ),
                )
            })
    }
}

/// Most areas one organization may serve (a department serving a district names the
/// district, not its grids).
pub const MAX_SERVED_AREAS: usize = 500;
/// Most staff of one organization.
pub const MAX_STAFF: usize = 200;

/// An organization and what it serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    pub code: OrganizationCode,
    pub name: String,
    pub kind: OrganizationKind,
    /// The type of work it does, matched by a category's `organization_type`
    /// (`property`, `heating`, `water` …): a code.
    pub org_type: String,
    /// 红心物业: a property company whose party organization joins the community's.
    pub red_heart: bool,
    /// The areas it serves, at any level; a ticket lying in one of them (or below) is
    /// within its reach.
    pub areas: Vec<AreaCode>,
    /// Who acts for it (the subjects of their `organization` tokens; not chiefs, so not
    /// on the roster): any of them may accept, resolve or return its tickets.
    pub staff: Vec<PersonId>,
    /// The working calendar its clocks run on (a heating company's may differ from the
    /// city's); `None`: the category's.
    pub calendar_code: Option<String>,
}

impl Organization {
    pub fn validate(&self) -> Result<(), FieldError> {
        let n = self.name.chars().count();
        if n == 0 || n > 100 {
            return Err(FieldError::new("name", "must be 1 to 100 characters"));
        }
        validate_code(&self.org_type).map_err(|reason| FieldError::new("org_type", reason))?;
        if self.red_heart && self.kind != OrganizationKind::PropertyCompany {
            return Err(FieldError::new(
                "red_heart",
                "only a property company can be 红心物业",
            ));
        }
        if self.areas.is_empty() {
            return Err(FieldError::new("areas", "must name at least one area"));
        }
        if self.areas.len() > MAX_SERVED_AREAS {
            return Err(FieldError::new(
                "areas",
                format!("at most {MAX_SERVED_AREAS} areas"),
            ));
        }
        if self.staff.len() > MAX_STAFF {
            return Err(FieldError::new("staff", format!("at most {MAX_STAFF}")));
        }
        if let Some(c) = &self.calendar_code {
            validate_code(c).map_err(|reason| FieldError::new("calendar_code", reason))?;
        }
        Ok(())
    }

    /// How deep in `lineage` (the ticket's areas, lowest first) the first area this
    /// organization serves lies: 0 for the lowest. `None`: out of its reach.
    pub fn reach(&self, lineage: &[AreaCode]) -> Option<usize> {
        lineage.iter().position(|a| self.areas.contains(a))
    }

    /// The category whose clocks a ticket of `category` held by this organization runs
    /// on: the same, on the organization's calendar where it names one.
    pub fn clocks_for(&self, category: &Category) -> Category {
        let mut c = category.clone();
        if let Some(calendar) = &self.calendar_code {
            c.calendar_code = calendar.clone();
        }
        c
    }

    /// Whether `person` acts for it.
    pub fn has_staff(&self, person: &str) -> bool {
        self.staff.iter().any(|p| p.as_str() == person)
    }
}

/// The organization of `org_type` that serves the lowest area of `lineage` (the ticket's
/// unit, building, grid and the areas above, lowest first): the property company of the
/// building before a district's department. Ties go to the smallest code, so the answer
/// does not depend on the order organizations were listed in.
pub fn serving<'a>(
    organizations: &'a [Organization],
    org_type: &str,
    lineage: &[AreaCode],
) -> Option<&'a Organization> {
    organizations
        .iter()
        .filter(|o| o.org_type == org_type)
        .filter_map(|o| Some((o.reach(lineage)?, o)))
        .min_by(|(da, a), (db, b)| da.cmp(db).then_with(|| a.code.cmp(&b.code)))
        .map(|(_, o)| o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> AreaCode {
        AreaCode::new(s).unwrap()
    }

    fn org(c: &str, org_type: &str, areas: &[&str]) -> Organization {
        Organization {
            code: OrganizationCode::new(c).unwrap(),
            name: format!("{c} 公司"),
            kind: OrganizationKind::PropertyCompany,
            org_type: org_type.into(),
            red_heart: false,
            areas: areas.iter().map(|a| code(a)).collect(),
            staff: vec![PersonId::new("s1").unwrap()],
            calendar_code: None,
        }
    }

    #[test]
    fn the_lowest_serving_organization_of_the_type_wins() {
        let orgs = vec![
            org("district-water", "water", &["d1"]),
            org("estate-b", "property", &["b1", "b2"]),
            org("estate-g", "property", &["g1"]),
            org("estate-a", "property", &["g1"]),
        ];
        let lineage = [code("b1"), code("g1"), code("s1"), code("d1")];
        assert_eq!(
            serving(&orgs, "property", &lineage).unwrap().code.as_str(),
            "estate-b"
        );
        // Without the building, the grid's: two serve it, the smaller code wins.
        assert_eq!(
            serving(&orgs, "property", &lineage[1..])
                .unwrap()
                .code
                .as_str(),
            "estate-a"
        );
        assert_eq!(
            serving(&orgs, "water", &lineage).unwrap().code.as_str(),
            "district-water"
        );
        assert!(serving(&orgs, "heating", &lineage).is_none());
        assert!(serving(&orgs, "property", &[code("g9"), code("d2")]).is_none());
    }

    #[test]
    fn an_organization_runs_its_clocks_on_its_own_calendar() {
        let category = crate::testing::category(crate::category::DeadlineKind::Natural, "cn");
        let mut o = org("gr-1", "heating", &["d1"]);
        assert_eq!(o.clocks_for(&category), category);
        o.calendar_code = Some("heating-season".into());
        let on = o.clocks_for(&category);
        assert_eq!(on.calendar_code, "heating-season");
        assert_eq!(on.accept_within, category.accept_within);
    }

    #[test]
    fn organizations_are_validated_by_field() {
        let ok = org("o1", "property", &["g1"]);
        assert!(ok.validate().is_ok());
        assert!(ok.has_staff("s1") && !ok.has_staff("s2"));
        let bad = Organization {
            red_heart: true,
            kind: OrganizationKind::Department,
            ..ok.clone()
        };
        assert_eq!(bad.validate().unwrap_err().field, "red_heart");
        let bad = Organization {
            areas: vec![],
            ..ok.clone()
        };
        assert_eq!(bad.validate().unwrap_err().field, "areas");
        let bad = Organization {
            org_type: "供热".into(),
            ..ok.clone()
        };
        assert_eq!(bad.validate().unwrap_err().field, "org_type");
        let bad = Organization {
            name: String::new(),
            ..ok
        };
        assert_eq!(bad.validate().unwrap_err().field, "name");
        for k in OrganizationKind::ALL {
            assert_eq!(k.as_str().parse::<OrganizationKind>().unwrap(), k);
        }
        assert_eq!(
            "bank".parse::<OrganizationKind>().unwrap_err().field,
            "kind"
        );
    }
}
