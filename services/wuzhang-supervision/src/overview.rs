//! The dashboard's snapshot of one subdistrict, and the grids' lights (亮灯) on its map.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use wuzhang_app::ApiError;
use wuzhang_app::rollups::CaughtUp;
use wuzhang_domain::area::{Area, AreaCode, AreaLevel};
use wuzhang_domain::chief::{ChiefLevel, Post};
use wuzhang_domain::evaluation::local_day;
use wuzhang_domain::event::EventKind;
use wuzhang_domain::ticket::{Pause, TicketState};
use wuzhang_proto::convert;
use wuzhang_proto::v1::{GridLight, GridLoad, Overview, StateCount, Vacancy};
use wuzhang_store::{Store, StoreError, TicketGrouping, TicketQuery};

use crate::Supervision;

/// The thresholds of a grid's light (亮灯) on the command center's map, per city (config
/// `grid_light`). The rule, written once in [`GridLights::light`] and in the proto's
/// `GridLight`: red from `red_overdue` overdue or `red_supervised` supervised open
/// tickets; else yellow from one overdue or supervised, or `yellow_open` open tickets;
/// else green.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GridLights {
    /// Red from this many open tickets past their deadline: one late ticket is a warning,
    /// several mean the grid is not keeping up.
    pub red_overdue: u64,
    /// Red from this many open tickets under a supervision order (督办): the command
    /// center has had to push this grid more than once.
    pub red_supervised: u64,
    /// Yellow from this many open tickets, even with none late: a backlog building up.
    pub yellow_open: u64,
}

impl Default for GridLights {
    fn default() -> Self {
        Self {
            red_overdue: 3,
            red_supervised: 2,
            yellow_open: 10,
        }
    }
}

impl GridLights {
    /// Refuses thresholds of 0, which would light every grid (a grid with no open ticket
    /// must stay green).
    pub fn check(&self) -> Result<(), String> {
        for (name, value) in [
            ("red_overdue", self.red_overdue),
            ("red_supervised", self.red_supervised),
            ("yellow_open", self.yellow_open),
        ] {
            if value == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        Ok(())
    }

    /// The light of a grid with `open` open tickets, `overdue` of them late and
    /// `supervised` of them under a supervision order.
    pub fn light(&self, open: u64, overdue: u64, supervised: u64) -> GridLight {
        if overdue >= self.red_overdue || supervised >= self.red_supervised {
            GridLight::Red
        } else if overdue > 0 || supervised > 0 || open >= self.yellow_open {
            GridLight::Yellow
        } else {
            GridLight::Green
        }
    }
}

/// Each subdistrict's areas down to its grids and their posts, as the overview shows them
/// (its grids' loads and vacancies), kept between snapshots: read again only when an
/// import or a roster change has bumped the store's counters since (each bumped in the
/// transaction of its change, so a snapshot never shows a tree older than its counters).
/// The walk and the posts were 7 of the 15 ms an embedded store spent on a snapshot of a
/// subdistrict with 837 areas (BENCHMARKS.md); vacancies still follow the clock (leave).
#[derive(Debug, Default)]
pub(crate) struct Trees {
    by_sub: std::sync::Mutex<HashMap<AreaCode, Arc<Tree>>>,
}

/// One subdistrict's streets, lanes and grids (not itself), and their posts.
#[derive(Debug)]
pub(crate) struct Tree {
    /// (area changes, roster changes) when it was read.
    counters: (i64, i64),
    areas: Vec<Area>,
    posts: Vec<Post>,
}

impl Trees {
    async fn of(&self, store: &dyn Store, sub: &AreaCode) -> Result<Arc<Tree>, StoreError> {
        let (areas_counter, reference) = futures::try_join!(
            store.area_change_counter(),
            store.reference_change_counters()
        )?;
        let counters = (areas_counter, reference.roster);
        if let Some(t) = self.lock().get(sub)
            && t.counters == counters
        {
            return Ok(Arc::clone(t));
        }
        // Buildings and units (thousands per subdistrict, many without a chief by design)
        // are left out.
        let areas: Vec<Area> = store
            .subtree(sub, AreaLevel::Grid)
            .await?
            .into_iter()
            .filter(|a| &a.code != sub)
            .collect();
        let codes: Vec<AreaCode> = areas.iter().map(|a| a.code.clone()).collect();
        let posts = store.posts_for_areas(&codes).await?;
        let tree = Arc::new(Tree {
            counters,
            areas,
            posts,
        });
        self.lock().insert(sub.clone(), Arc::clone(&tree));
        Ok(tree)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AreaCode, Arc<Tree>>> {
        // A panic while holding it left a map of whole entries: still usable.
        self.by_sub
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Supervision {
    /// The dashboard's snapshot of one subdistrict. Vacancies and grid loads come from its
    /// tree down to the grids ([`Trees`], read again after an import or a roster change);
    /// the counts from a handful of queries, asked together, each an index range whatever
    /// the size of history.
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
        // A backlog (the first start on a store with history, a rebuild) is the background
        // task's to fold: the counts are then as of the rollups' cursor.
        match self.rollups.catch_up().await {
            Ok(CaughtUp::Yes) => {}
            Ok(CaughtUp::Behind { cursor, head }) => {
                tracing::info!(
                    cursor,
                    head,
                    "overview: the rollups are folding a backlog; counts lag"
                );
            }
            Err(e) => {
                tracing::warn!(error = %e, "overview: the rollups could not catch up; counts may lag");
            }
        }
        let overdue_q = TicketQuery {
            overdue_at: Some(now),
            ..of_sub()
        };
        let supervised_q = TicketQuery {
            states: open_states.clone(),
            supervised_only: true,
            ..of_sub()
        };
        let reopen_q = TicketQuery {
            reopen_requested: true,
            ..of_sub()
        };
        let pause_q = TicketQuery {
            states: open_states,
            pause: Some(Pause::Requested),
            ..of_sub()
        };
        let today = local_day(now);
        // Independent reads, each served by its own index: asked together, the snapshot
        // costs about its slowest read rather than their sum.
        let (
            by_state,
            open_by_grid,
            overdue_by_grid,
            supervised_by_grid,
            reopen_requests,
            pause_requests,
            submitted_today,
            escalations_today,
            tree,
            mode,
        ) = futures::try_join!(
            store.state_counts(&sub),
            // Open per grid: kept by the fold, a row per grid (issue 31).
            store.open_by_grid(&sub),
            store.count_tickets_by(&overdue_q, TicketGrouping::Grid),
            store.count_tickets_by(&supervised_q, TicketGrouping::Grid),
            store.count_tickets(&reopen_q),
            store.count_tickets(&pause_q),
            store.event_day_count(&sub, today, &[EventKind::Submitted]),
            store.event_day_count(
                &sub,
                today,
                &[EventKind::Escalated, EventKind::AutoEscalated],
            ),
            // The posts every ticket's chain passes through: streets, lanes and grids,
            // with their posts, as of the last area or roster change.
            self.trees.of(store, &sub),
            store.emergency_mode(&sub),
        )?;
        let (tree, posts) = (&tree.areas, &tree.posts);
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
        let as_map =
            |counts: Vec<(String, u64)>| -> HashMap<String, u64> { counts.into_iter().collect() };
        let (open_by_grid, overdue_by_grid, supervised_by_grid) = (
            open_by_grid
                .into_iter()
                .map(|(grid, n)| (grid.to_string(), n))
                .collect::<HashMap<_, _>>(),
            as_map(overdue_by_grid),
            as_map(supervised_by_grid),
        );
        // Every ticket of the subdistrict lies in one of its grids.
        let overdue: u64 = overdue_by_grid.values().sum();
        let supervised_open: u64 = supervised_by_grid.values().sum();

        let grid_loads = tree
            .iter()
            .filter(|a| a.level == AreaLevel::Grid)
            .map(|g| {
                let of = |counts: &HashMap<String, u64>| {
                    counts.get(g.code.as_str()).copied().unwrap_or(0)
                };
                let (open, overdue, supervised) = (
                    of(&open_by_grid),
                    of(&overdue_by_grid),
                    of(&supervised_by_grid),
                );
                GridLoad {
                    grid_code: g.code.to_string(),
                    grid_name: g.name.clone(),
                    open: open as i64,
                    overdue: overdue as i64,
                    light: self.lights.light(open, overdue, supervised) as i32,
                    supervised: supervised as i64,
                }
            })
            .collect();
        let vacancies = vacancies(tree, posts, now);
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
            reopen_requests: reopen_requests as i64,
            emergency: Some(crate::emergency::mode_state(&sub, mode.as_ref(), 0)),
        })
    }
}

/// The posts of `areas` that no one acts for at `now`, bottom level first: no holder (or
/// no roster row at all), or a holder on leave without a deputy.
fn vacancies(areas: &[Area], posts: &[Post], now: time::OffsetDateTime) -> Vec<Vacancy> {
    // By area: a subdistrict has about a thousand posts down to its grids, and a search
    // of the list per area was a million comparisons per snapshot.
    let posts: HashMap<&AreaCode, _> = posts.iter().map(|p| (&p.area_code, p)).collect();
    let mut out: Vec<(ChiefLevel, Vacancy)> = Vec::new();
    for area in areas {
        let Some(level) = area.level.chief_level() else {
            continue;
        };
        let post = posts.get(&area.code).copied();
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
    out.into_iter().map(|(_, v)| v).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lights_follow_the_documented_rule() {
        let l = GridLights::default();
        assert_eq!(l.light(0, 0, 0), GridLight::Green);
        assert_eq!(l.light(9, 0, 0), GridLight::Green);
        assert_eq!(l.light(10, 0, 0), GridLight::Yellow, "a backlog");
        assert_eq!(l.light(1, 1, 0), GridLight::Yellow, "one late");
        assert_eq!(l.light(1, 0, 1), GridLight::Yellow, "one supervised");
        assert_eq!(l.light(3, 3, 0), GridLight::Red, "several late");
        assert_eq!(l.light(2, 0, 2), GridLight::Red, "supervised twice");
        let strict = GridLights {
            red_overdue: 1,
            red_supervised: 1,
            yellow_open: 1,
        };
        assert_eq!(strict.light(1, 0, 0), GridLight::Yellow);
        assert_eq!(strict.light(1, 1, 0), GridLight::Red);
        assert!(strict.check().is_ok());
        let zero = GridLights {
            yellow_open: 0,
            ..GridLights::default()
        };
        assert_eq!(zero.check().unwrap_err(), "yellow_open must be at least 1");
    }
}
