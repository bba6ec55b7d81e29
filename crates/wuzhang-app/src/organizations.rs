//! Organizations as the services meet them (条块协同; the rules are
//! [`wuzhang_domain::organization`]): which areas a ticket lies in, whether an organization
//! serves it, the holding a dispatch makes, and who of its staff may act.

use time::OffsetDateTime;
use wuzhang_domain::access::{Principal, Role};
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::chief::ChiefLevel;
use wuzhang_domain::organization::{Organization, OrganizationCode};
use wuzhang_domain::ticket::{Assignment, Ticket};
use wuzhang_store::Store;

use crate::ApiError;

/// The areas a ticket lies in, lowest first: its unit and building (as reported), its
/// grid and every area above.
pub async fn ticket_areas(store: &dyn Store, ticket: &Ticket) -> Result<Vec<AreaCode>, ApiError> {
    let r = &ticket.report;
    let mut areas: Vec<AreaCode> = r
        .unit_code
        .iter()
        .chain(&r.building_code)
        .cloned()
        .collect();
    areas.extend(
        store
            .lineage(&ticket.grid_code)
            .await?
            .into_iter()
            .map(|a| a.code),
    );
    Ok(areas)
}

/// The organization `code` among `all`, or INVALID_ARGUMENT naming `field`.
pub fn find<'a>(
    all: &'a [Organization],
    code: &OrganizationCode,
    field: &str,
) -> Result<&'a Organization, ApiError> {
    all.iter().find(|o| &o.code == code).ok_or_else(|| {
        ApiError::invalid(
            field,
            format!("no organization {code}; ListOrganizations gives them"),
        )
    })
}

/// `organization` holding `ticket`, its grid's chief (whoever acts for the post at
/// `now`, if anyone) following it as 属地 responsible.
pub async fn holding(
    store: &dyn Store,
    ticket: &Ticket,
    organization: &Organization,
    now: OffsetDateTime,
) -> Result<Assignment, ApiError> {
    let grid = ticket.grid_code.clone();
    let posts = store.posts_for_areas(std::slice::from_ref(&grid)).await?;
    let chief = posts
        .iter()
        .find(|p| p.area_code == grid && p.level == ChiefLevel::Grid)
        .and_then(|p| p.acting(now).cloned());
    Ok(Assignment::organization(
        organization.code.clone(),
        grid,
        chief,
    ))
}

/// The organizations `caller` acts for as staff: those their token names whose staff
/// list has them (a token outliving a staff change acts for nothing).
pub fn staff_of<'a>(caller: &Principal, all: &'a [Organization]) -> Vec<&'a Organization> {
    if caller.role != Role::Organization {
        return Vec::new();
    }
    all.iter()
        .filter(|o| caller.acts_for_organization(&o.code) && o.has_staff(&caller.subject))
        .collect()
}
