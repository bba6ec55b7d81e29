//! Where a reassignment sends a ticket: a post of its chain, or a named area and person.

use wuzhang_app::ApiError;
use wuzhang_app::chain::ticket_chain;
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::chief::{ChiefLevel, PersonId};
use wuzhang_domain::ticket::{Assignment, Ticket};
use wuzhang_store::StoreError;

use crate::Supervision;

impl Supervision {
    /// The post and person a reassignment names, completed from the ticket's own chain
    /// and the roster: the area of `level` in the ticket's chain unless one is named (it
    /// must then be of that level and in the ticket's subdistrict), whoever acts for
    /// the post now unless a person is named (who must be on the roster).
    pub(crate) async fn target(
        &self,
        ticket: &Ticket,
        level: ChiefLevel,
        area: Option<AreaCode>,
        person: Option<PersonId>,
    ) -> Result<Assignment, ApiError> {
        let store = self.store.as_ref();
        let now = self.clock.now();
        let area_code = match area {
            Some(code) => {
                let invalid = |why: String| ApiError::invalid("to_area_code", why);
                let found = match store.get_area(&code).await {
                    Ok(a) => a,
                    Err(StoreError::NotFound { .. }) => {
                        return Err(invalid(format!("no area {code}")));
                    }
                    Err(e) => return Err(e.into()),
                };
                if found.level.chief_level() != Some(level) {
                    return Err(invalid(format!(
                        "{code} is a {} area; the {level}'s post is on another level",
                        found.level
                    )));
                }
                let lineage = store.lineage(&code).await?;
                if !lineage.iter().any(|a| a.code == ticket.subdistrict_code) {
                    return Err(invalid(format!(
                        "{code} is not in subdistrict {}",
                        ticket.subdistrict_code
                    )));
                }
                code
            }
            None => ticket_chain(store, ticket, now)
                .await?
                .into_iter()
                .find(|l| l.level == level)
                .map(|l| l.area_code)
                .ok_or_else(|| {
                    ApiError::FailedPrecondition(format!(
                        "ticket {} has no {level} post in its chain (no such area was \
                         reported or lies above its grid); name one in to_area_code",
                        ticket.id
                    ))
                })?,
        };
        let person_id = match person {
            Some(id) => match store.get_person(&id).await {
                Ok(_) => Some(id),
                Err(StoreError::NotFound { .. }) => {
                    return Err(ApiError::invalid(
                        "to_person_id",
                        format!("{id} is not on the roster"),
                    ));
                }
                Err(e) => return Err(e.into()),
            },
            // The command center is a desk: no one in particular.
            None if level == ChiefLevel::CommandCenter => None,
            None => {
                let posts = store
                    .posts_for_areas(std::slice::from_ref(&area_code))
                    .await?;
                let acting = posts
                    .iter()
                    .find(|p| p.area_code == area_code)
                    .and_then(|p| p.acting(now).cloned());
                Some(acting.ok_or_else(|| {
                    ApiError::FailedPrecondition(format!(
                        "the {level} post of {area_code} is vacant; name a person in \
                         to_person_id"
                    ))
                })?)
            }
        };
        Ok(Assignment {
            level,
            area_code,
            person_id,
            organization: None,
        })
    }
}
