//! Who is calling: the role and scope a verified token grants.
//!
//! Handlers receive a [`Principal`] and ask it whether an object is visible. The answer is
//! deliberately boolean: callers turn "not visible" into NOT_FOUND so a scope check never
//! reveals that an object of another scope exists.

use serde::{Deserialize, Serialize};

use crate::area::AreaCode;
use crate::organization::OrganizationCode;

/// The kinds of caller wuzhang knows; each RPC decides which it admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A member of the public: sees and changes only their own tickets.
    Resident,
    /// A chief of the five-chief chain: the areas of their posts and below.
    Chief,
    /// A subdistrict command center operator: every ticket of its subdistrict(s).
    CommandCenter,
    /// Staff of a department, property company or alliance unit (条块协同): the tickets
    /// their organization holds.
    Organization,
    /// Operates the installation: imports, categories, calendars, tokens.
    Admin,
}

impl Role {
    /// The name used in tokens and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Resident => "resident",
            Role::Chief => "chief",
            Role::CommandCenter => "command_center",
            Role::Organization => "organization",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "resident" => Ok(Role::Resident),
            "chief" => Ok(Role::Chief),
            "command_center" | "command-center" => Ok(Role::CommandCenter),
            "admin" => Ok(Role::Admin),
            "organization" => Ok(Role::Organization),
            other => Err(format!(
                "unknown role {other:?}: expected resident, chief, command_center, \
                 organization or admin"
            )),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Stable identity of the caller: a resident's account id or a chief's person id.
    /// Idempotency keys and "my tickets" are scoped to it.
    pub subject: String,
    pub role: Role,
    /// Area codes the caller acts for. A command center's subdistricts; a chief's post areas
    /// (the roster remains the authority on posts, the token narrows what a device may do).
    /// For organization staff, the codes of their organizations (the organization's staff
    /// list remains the authority). Empty for residents and admins.
    pub scope: Vec<AreaCode>,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether the caller's scope covers an area whose chain of ancestors (itself first, up
    /// to the root) is `lineage`. Admins see everything; residents see no area by scope.
    pub fn covers_lineage<'a>(&self, mut lineage: impl Iterator<Item = &'a AreaCode>) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Resident | Role::Organization => false,
            Role::Chief | Role::CommandCenter => lineage.any(|code| self.scope.contains(code)),
        }
    }

    /// Whether a command center (or admin) may act on objects of `subdistrict`.
    pub fn commands_subdistrict(&self, subdistrict: &AreaCode) -> bool {
        match self.role {
            Role::Admin => true,
            Role::CommandCenter => self.scope.contains(subdistrict),
            Role::Resident | Role::Chief | Role::Organization => false,
        }
    }

    /// Whether the token lets an organization's staff act for `organization` (whether the
    /// subject is on its staff is the organization's to say).
    pub fn acts_for_organization(&self, organization: &OrganizationCode) -> bool {
        self.role == Role::Organization
            && self
                .scope
                .iter()
                .any(|c| c.as_str() == organization.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> AreaCode {
        AreaCode::new(s).unwrap()
    }

    #[test]
    fn role_round_trips_through_its_name() {
        for role in [
            Role::Resident,
            Role::Chief,
            Role::CommandCenter,
            Role::Organization,
            Role::Admin,
        ] {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("mayor".parse::<Role>().is_err());
    }

    #[test]
    fn scope_checks_follow_role() {
        let cc = Principal {
            subject: "cc-1".into(),
            role: Role::CommandCenter,
            scope: vec![code("220102001")],
        };
        let lineage = [code("220102001001001"), code("220102001")];
        assert!(cc.covers_lineage(lineage.iter()));
        assert!(!cc.covers_lineage([code("220102002")].iter()));
        assert!(cc.commands_subdistrict(&code("220102001")));
        assert!(!cc.commands_subdistrict(&code("220102002")));

        let resident = Principal {
            subject: "r".into(),
            role: Role::Resident,
            scope: vec![],
        };
        assert!(!resident.covers_lineage(lineage.iter()));
        let admin = Principal {
            subject: "a".into(),
            role: Role::Admin,
            scope: vec![],
        };
        assert!(admin.covers_lineage(std::iter::empty()));
    }
}
