//! `ListPosts`: the chief posts of an area's tree, vacancies included, as the caller may
//! see them.
//!
//! The tree comes from the process's area index (the snapshot Locate answers from, so the
//! two agree), the posts and persons from the store. Every subdistrict, street, lane and
//! grid is a post whether the roster has a row for it or not (without one it is vacant,
//! as the overview counts vacancies); buildings and units only where the roster has one.
//! The listing is built whole for the caller's trees and paged in memory by area code:
//! a page costs what the trees hold, which is what an exact `total_size` needs anyway.

use std::collections::{BTreeMap, HashMap};

use time::OffsetDateTime;
use wuzhang_app::ApiError;
use wuzhang_app::request::page;
use wuzhang_domain::access::{Principal, Role};
use wuzhang_domain::area::{Area, AreaCode, AreaLevel};
use wuzhang_domain::chief::{ChiefLevel, Person, PersonId, Post};
use wuzhang_proto::convert;
use wuzhang_proto::v1::{self, ListPostsRequest, ListPostsResponse};
use wuzhang_store::{Store, code_page_after, code_page_token};

use crate::index::Snapshot;

/// Names the listing in its page tokens.
const LISTING: &str = "posts";

/// Whether an area of this level is a post even without a roster row: the levels of the
/// chain every ticket passes through. Buildings and units often have no chief by design.
fn always_a_post(level: AreaLevel) -> bool {
    matches!(
        level,
        AreaLevel::Subdistrict | AreaLevel::Street | AreaLevel::Lane | AreaLevel::Grid
    )
}

/// The request, checked: every bad field named.
struct Filters {
    area_code: Option<AreaCode>,
    level: Option<ChiefLevel>,
    vacant_only: bool,
    person: Option<PersonId>,
}

impl Filters {
    fn check(r: &ListPostsRequest) -> Result<Self, ApiError> {
        let area_code = match r.area_code.as_str() {
            "" => None,
            c => Some(AreaCode::new(c).map_err(|e| ApiError::invalid("area_code", e.reason))?),
        };
        let person = match r.person_id.as_str() {
            "" => None,
            p => Some(PersonId::new(p).map_err(|e| ApiError::invalid("person_id", e.reason))?),
        };
        Ok(Self {
            area_code,
            level: convert::chief_level_from_wire("level", r.level).map_err(ApiError::from)?,
            vacant_only: r.vacant_only,
            person,
        })
    }
}

/// The roots of the trees `caller` may list posts in; `None`: every area (an admin).
async fn caller_roots(
    store: &dyn Store,
    caller: &Principal,
) -> Result<Option<Vec<AreaCode>>, ApiError> {
    Ok(match caller.role {
        Role::Admin => None,
        Role::CommandCenter => Some(caller.scope.clone()),
        // The roster is the authority on a chief's posts, as on the desk: held or
        // deputised, on leave or not.
        Role::Chief => match PersonId::new(&caller.subject) {
            Ok(id) => Some(
                store
                    .posts_of_person(&id)
                    .await?
                    .into_iter()
                    .map(|p| p.area_code)
                    .collect(),
            ),
            Err(_) => Some(Vec::new()),
        },
        // Organization staff have no posts; their organizations serve areas, listed by
        // AdminService.ListOrganizations.
        Role::Resident | Role::Organization => Some(Vec::new()),
    })
}

/// Answers `ListPosts` for `caller` at `now`, from `snapshot`'s areas.
pub(crate) async fn list_posts(
    store: &dyn Store,
    snapshot: &Snapshot,
    caller: &Principal,
    r: &ListPostsRequest,
    now: OffsetDateTime,
) -> Result<ListPostsResponse, ApiError> {
    let filters = Filters::check(r)?;
    let page = page(r.page_size, &r.page_token, 100, 1000)?;
    let after = code_page_after(LISTING, page.token.as_deref())?;
    let roots = caller_roots(store, caller).await?;

    // The areas to list: the asked-for tree if the caller may see it, else their trees.
    let mut areas: BTreeMap<&AreaCode, &Area> = BTreeMap::new();
    match (&filters.area_code, &roots) {
        (Some(code), _) => {
            let not_found = || ApiError::not_found(format!("area {code}"));
            let lineage = snapshot.lineage(code).ok_or_else(not_found)?;
            let visible = roots
                .as_ref()
                .is_none_or(|roots| lineage.iter().any(|a| roots.contains(&a.code)));
            if !visible {
                return Err(not_found());
            }
            areas.extend(snapshot.subtree(code).into_iter().map(|a| (&a.code, a)));
        }
        (None, Some(roots)) => {
            for root in roots {
                areas.extend(snapshot.subtree(root).into_iter().map(|a| (&a.code, a)));
            }
        }
        (None, None) => areas.extend(snapshot.areas().map(|a| (&a.code, a))),
    }
    areas.retain(|_, a| a.level.chief_level().is_some());
    if let Some(level) = filters.level {
        areas.retain(|_, a| a.level.chief_level() == Some(level));
    }

    let codes: Vec<AreaCode> = areas.keys().map(|c| (*c).clone()).collect();
    let mut posts: HashMap<AreaCode, Post> = store
        .posts_for_areas(&codes)
        .await?
        .into_iter()
        .map(|p| (p.area_code.clone(), p))
        .collect();
    let mut matching: Vec<(&Area, Option<Post>, bool)> = Vec::new();
    for (code, area) in areas {
        let post = posts.remove(code);
        if post.is_none() && !always_a_post(area.level) {
            continue;
        }
        let vacant = area.level != AreaLevel::Subdistrict
            && post.as_ref().and_then(|p| p.acting(now)).is_none();
        if filters.vacant_only && !vacant {
            continue;
        }
        if let Some(person) = &filters.person {
            let holds = post.as_ref().is_some_and(|p| {
                p.holder.as_ref() == Some(person) || p.deputy.as_ref() == Some(person)
            });
            if !holds {
                continue;
            }
        }
        matching.push((area, post, vacant));
    }
    let total_size = i32::try_from(matching.len()).unwrap_or(i32::MAX);

    let size = page.size as usize;
    let mut on_page: Vec<(&Area, Option<Post>, bool)> = matching
        .into_iter()
        .filter(|(a, _, _)| after.as_deref().is_none_or(|after| a.code.as_str() > after))
        .take(size + 1)
        .collect();
    let next_page_token = if on_page.len() > size {
        on_page.truncate(size);
        on_page
            .last()
            .map(|(a, _, _)| code_page_token(LISTING, a.code.as_str()))
            .unwrap_or_default()
    } else {
        String::new()
    };

    let ids: Vec<PersonId> = on_page
        .iter()
        .filter_map(|(_, p, _)| p.as_ref())
        .flat_map(|p| p.holder.iter().chain(p.deputy.iter()).cloned())
        .collect();
    let persons: HashMap<PersonId, Person> = store
        .get_persons(&ids)
        .await?
        .into_iter()
        .map(|p| (p.id.clone(), p))
        .collect();
    let full_phone = matches!(caller.role, Role::CommandCenter | Role::Admin);
    let person = |id: &Option<PersonId>| {
        id.as_ref().map(|id| match persons.get(id) {
            Some(p) => v1::Person {
                id: p.id.to_string(),
                name: p.name.clone(),
                phone: match &p.phone {
                    Some(phone) if full_phone => phone.clone(),
                    Some(phone) => convert::mask_phone(phone),
                    None => String::new(),
                },
            },
            // A post naming someone not (yet) on the roster: the id is all there is.
            None => v1::Person {
                id: id.to_string(),
                ..Default::default()
            },
        })
    };
    let posts = on_page
        .into_iter()
        .map(|(area, post, vacant)| {
            let level = area
                .level
                .chief_level()
                .map_or(v1::ChiefLevel::Unspecified, convert::chief_level);
            let (holder, deputy, leave) = match &post {
                Some(p) => (
                    person(&p.holder),
                    person(&p.deputy),
                    p.leave
                        .iter()
                        .filter(|l| l.until > now)
                        .map(|l| v1::LeavePeriod {
                            starts_at: Some(convert::timestamp(l.from)),
                            ends_at: Some(convert::timestamp(l.until)),
                        })
                        .collect(),
                ),
                None => (None, None, Vec::new()),
            };
            v1::Post {
                area_code: area.code.to_string(),
                area_name: area.name.clone(),
                level: level as i32,
                holder,
                deputy,
                leave,
                vacant,
            }
        })
        .collect();
    Ok(ListPostsResponse {
        posts,
        next_page_token,
        total_size,
    })
}
