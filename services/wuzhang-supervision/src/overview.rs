//! The dashboard's snapshot of one subdistrict.

use std::collections::HashMap;
use wuzhang_app::ApiError;
use wuzhang_domain::area::{Area, AreaCode, AreaLevel};
use wuzhang_domain::chief::ChiefLevel;
use wuzhang_domain::evaluation::local_day;
use wuzhang_domain::event::EventKind;
use wuzhang_domain::ticket::{Pause, TicketState};
use wuzhang_proto::convert;
use wuzhang_proto::v1::{GridLoad, Overview, StateCount, Vacancy};
use wuzhang_store::{AreaQuery, PageRequest, Store, StoreError, TicketGrouping, TicketQuery};

use crate::Supervision;

impl Supervision {
    /// The dashboard's snapshot of one subdistrict. Vacancies and grid loads come from a
    /// walk of its tree (one listing per street and lane); the counts from a handful of
    /// queries whatever the number of tickets.
    pub(crate) async fn overview(&self, sub: AreaCode) -> Result<Overview, ApiError> {
        let store = self.store.as_ref();
        let now = self.clock.now();
        let area = match store.get_area(&sub).await {
            Ok(a) => a,
            Err(StoreError::NotFound { .. }) => {
                return Err(ApiError::not_found(format!("subdistrict {sub}")));
            }
            Err(e) => return Err(e.into()),
        };
        let of_sub = || TicketQuery {
            subdistrict_codes: vec![sub.clone()],
            ..Default::default()
        };
        let open_states: Vec<TicketState> = TicketState::ALL
            .into_iter()
            .filter(|s| s.is_open())
            .collect();
        // Counts by state (closed tickets included: all of history) and today's escalations
        // come from the rollups, which include every event stored before this call.
        // A fold that fails (the database busy) leaves the counts as of the last fold rather
        // than the dashboard blank; the folder retries every rollup_poll_ms.
        if let Err(e) = self.rollups.catch_up().await {
            tracing::warn!(error = %e, "overview: the rollups could not catch up; counts may lag");
        }
        let by_state = store.state_counts(&sub).await?;
        let mut counts_by_state = Vec::with_capacity(by_state.len());
        let mut open = 0;
        for (state, count) in by_state {
            if state.is_open() {
                open += count;
            }
            counts_by_state.push(StateCount {
                state: convert::ticket_state(state) as i32,
                count: count as i64,
            });
        }
        let overdue_q = TicketQuery {
            overdue_at: Some(now),
            ..of_sub()
        };
        let open_q = TicketQuery {
            states: open_states.clone(),
            ..of_sub()
        };
        let open_by_grid: HashMap<String, u64> = store
            .count_tickets_by(&open_q, TicketGrouping::Grid)
            .await?
            .into_iter()
            .collect();
        let overdue_by_grid: HashMap<String, u64> = store
            .count_tickets_by(&overdue_q, TicketGrouping::Grid)
            .await?
            .into_iter()
            .collect();
        // Every ticket of the subdistrict lies in one of its grids.
        let overdue: u64 = overdue_by_grid.values().sum();
        let supervised_open = store
            .count_tickets(&TicketQuery {
                states: open_states.clone(),
                supervised_only: true,
                ..of_sub()
            })
            .await?;
        let pause_requests = store
            .count_tickets(&TicketQuery {
                states: open_states,
                pause: Some(Pause::Requested),
                ..of_sub()
            })
            .await?;
        let submitted_today = store
            .event_day_count(&sub, local_day(now), &[EventKind::Submitted])
            .await?;
        let escalations_today = store
            .event_day_count(
                &sub,
                local_day(now),
                &[EventKind::Escalated, EventKind::AutoEscalated],
            )
            .await?;

        let tree = subtree(store, &sub).await?;
        let grid_loads = tree
            .iter()
            .filter(|a| a.level == AreaLevel::Grid)
            .map(|g| GridLoad {
                grid_code: g.code.to_string(),
                grid_name: g.name.clone(),
                open: open_by_grid.get(g.code.as_str()).copied().unwrap_or(0) as i64,
                overdue: overdue_by_grid.get(g.code.as_str()).copied().unwrap_or(0) as i64,
            })
            .collect();
        let vacancies = vacancies(store, &tree, now).await?;
        Ok(Overview {
            subdistrict_code: sub.to_string(),
            subdistrict_name: area.name,
            counts_by_state,
            open: open as i64,
            overdue: overdue as i64,
            vacancies,
            grid_loads,
            escalations_today: escalations_today as i64,
            submitted_today: submitted_today as i64,
            pause_requests: pause_requests as i64,
            supervised_open: supervised_open as i64,
            as_of: Some(convert::timestamp(now)),
        })
    }
}

/// The streets, lanes and grids under a subdistrict, each level in code order: the posts
/// every ticket's chain passes through. Buildings and units (thousands per subdistrict,
/// many without a chief by design) are left out.
async fn subtree(store: &dyn Store, sub: &AreaCode) -> Result<Vec<Area>, ApiError> {
    let mut out = Vec::new();
    let mut parents = vec![sub.clone()];
    for level in [AreaLevel::Street, AreaLevel::Lane, AreaLevel::Grid] {
        let mut found = Vec::new();
        for parent in &parents {
            let query = AreaQuery {
                parent_code: Some(parent.clone()),
                level: Some(level),
                bbox: None,
            };
            let mut page = PageRequest::first(500);
            loop {
                let listed = store.list_areas(&query, &page).await?;
                found.extend(listed.items);
                match listed.next_token {
                    Some(token) => page.token = Some(token),
                    None => break,
                }
            }
        }
        found.sort_by(|a, b| a.code.cmp(&b.code));
        parents = found.iter().map(|a| a.code.clone()).collect();
        out.extend(found);
    }
    Ok(out)
}

/// The posts of `areas` that no one acts for at `now`, bottom level first: no holder (or
/// no roster row at all), or a holder on leave without a deputy.
async fn vacancies(
    store: &dyn Store,
    areas: &[Area],
    now: time::OffsetDateTime,
) -> Result<Vec<Vacancy>, ApiError> {
    let codes: Vec<AreaCode> = areas.iter().map(|a| a.code.clone()).collect();
    let posts = store.posts_for_areas(&codes).await?;
    let mut out: Vec<(ChiefLevel, Vacancy)> = Vec::new();
    for area in areas {
        let Some(level) = area.level.chief_level() else {
            continue;
        };
        let post = posts.iter().find(|p| p.area_code == area.code);
        if post.and_then(|p| p.acting(now)).is_some() {
            continue;
        }
        out.push((
            level,
            Vacancy {
                area_code: area.code.to_string(),
                area_name: area.name.clone(),
                level: convert::chief_level(level) as i32,
                holder_on_leave: post.is_some_and(|p| p.holder.is_some()),
            },
        ));
    }
    out.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| a.1.area_code.cmp(&b.1.area_code))
    });
    Ok(out.into_iter().map(|(_, v)| v).collect())
}
