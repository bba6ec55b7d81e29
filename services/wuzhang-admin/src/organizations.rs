//! Organizations over AdminService: the CSV import (checked against the store's areas,
//! written whole or not at all) and the listing, scoped by role.

use std::cell::RefCell;
use std::collections::HashSet;

use wuzhang_app::ApiError;
use wuzhang_app::organizations::staff_of;
use wuzhang_domain::access::{Principal, Role};
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::organization::Organization;
use wuzhang_import::roster::RowIssue;
use wuzhang_store::{Store, StoreError};

/// What an organization import did (or, dry, would do).
#[derive(Debug, Clone, PartialEq)]
pub struct OrganizationsOutcome {
    pub imported: usize,
    /// Non-empty means nothing was written.
    pub issues: Vec<RowIssue>,
    pub dry_run: bool,
}

/// Checks `bytes` as an organization CSV against the store's areas and, unless
/// `dry_run` or an issue was found, writes every organization in one transaction.
pub async fn import_organizations(
    store: &dyn Store,
    bytes: &[u8],
    dry_run: bool,
) -> Result<OrganizationsOutcome, ApiError> {
    let file_error = |e: wuzhang_import::RosterFileError| ApiError::invalid("csv", e.to_string());
    // A first pass learns which areas the file names; a second checks them.
    let areas = RefCell::new(HashSet::new());
    let _ = wuzhang_import::organizations::import_organizations(bytes, &|a| {
        areas.borrow_mut().insert(a.clone());
        true
    })
    .map_err(file_error)?;
    let areas: Vec<AreaCode> = areas.into_inner().into_iter().collect();
    let mut known = HashSet::new();
    for chunk in areas.chunks(5_000) {
        known.extend(store.get_areas(chunk).await?.into_iter().map(|a| a.code));
    }
    let checked =
        wuzhang_import::organizations::import_organizations(bytes, &|a| known.contains(a))
            .map_err(file_error)?;
    let (organizations, issues) = match checked {
        Ok(orgs) => (orgs, Vec::new()),
        Err(issues) => (Vec::new(), issues),
    };
    let outcome = OrganizationsOutcome {
        imported: organizations.len(),
        issues,
        dry_run,
    };
    if dry_run || !outcome.issues.is_empty() {
        return Ok(outcome);
    }
    store.upsert_organizations(&organizations).await?;
    tracing::info!(organizations = outcome.imported, "organizations imported");
    Ok(outcome)
}

/// The organizations `caller` may list, by code: an admin all; organization staff their
/// own; a command center those serving an area of its subdistricts, below them or above
/// (a district's department serves every subdistrict of it).
pub async fn visible(store: &dyn Store, caller: &Principal) -> Result<Vec<Organization>, ApiError> {
    let all = store.organizations().await?;
    match caller.role {
        Role::Admin => Ok(all),
        Role::Organization => Ok(staff_of(caller, &all).into_iter().cloned().collect()),
        Role::CommandCenter => {
            // Above: the subdistricts' own lineages.
            let mut above: HashSet<AreaCode> = HashSet::new();
            for sub in &caller.scope {
                above.extend(lineage(store, sub).await?);
            }
            let mut out = Vec::new();
            for org in all {
                let mut serves = false;
                for area in &org.areas {
                    if above.contains(area)
                        || lineage(store, area)
                            .await?
                            .iter()
                            .any(|a| caller.scope.contains(a))
                    {
                        serves = true;
                        break;
                    }
                }
                if serves {
                    out.push(org);
                }
            }
            Ok(out)
        }
        Role::Resident | Role::Chief => Err(ApiError::PermissionDenied(
            "ListOrganizations is for administrators, command centers and organization staff"
                .into(),
        )),
    }
}

/// The codes of `code`'s lineage (itself first); none for an area not (or no longer) in
/// the tree, which serves nothing and is served by no one.
async fn lineage(store: &dyn Store, code: &AreaCode) -> Result<Vec<AreaCode>, ApiError> {
    match store.lineage(code).await {
        Ok(areas) => Ok(areas.into_iter().map(|a| a.code).collect()),
        Err(StoreError::NotFound { .. }) => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}
