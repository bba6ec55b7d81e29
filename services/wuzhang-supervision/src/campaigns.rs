//! Campaigns (专项行动): CreateCampaign fans a task out to every chief of one level under an
//! area, in one write; GetCampaign and GetCampaignProgress read it back.
//!
//! A task is an ordinary ticket: reported by the command center, assigned to the chief
//! acting for the post, with the category's accept clock and the campaign's deadline as
//! its resolve deadline. From there it lives as any ticket does (inbox, accept, resolve,
//! escalation when late, evaluation); its chief reports a result with ResolveTicket.

use std::collections::{BTreeMap, HashMap};

use wuzhang_app::ApiError;
use wuzhang_app::idempotency::{Key, Recording, once};
use wuzhang_app::request::request_id;
use wuzhang_domain::access::Principal;
use wuzhang_domain::area::{Area, AreaCode, AreaLevel};
use wuzhang_domain::campaign::{Campaign, CampaignId, MAX_TASKS};
use wuzhang_domain::category::CategoryCode;
use wuzhang_domain::clocks::{ClockEffect, ClockInputs};
use wuzhang_domain::deadline::DEFAULT_WARN_SHARE;
use wuzhang_domain::emergency::ClockRate;
use wuzhang_domain::evaluation::Place;
use wuzhang_domain::point::{Crs, GeoPoint};
use wuzhang_domain::ticket::{Assignment, Command, Report, Ticket, TicketId, TicketState};
use wuzhang_domain::timer::TimerKind;
use wuzhang_proto::convert;
use wuzhang_proto::v1 as pb;
use wuzhang_store::{CampaignTaskRow, NewCampaignTask, NewTicket, StoreError};

use crate::Supervision;

impl Supervision {
    pub(crate) async fn create_campaign(
        &self,
        caller: &Principal,
        r: pb::CreateCampaignRequest,
    ) -> Result<pb::Campaign, ApiError> {
        let rid = request_id(&r.request_id)?;
        let root =
            AreaCode::new(&r.area_code).map_err(|e| ApiError::invalid("area_code", e.reason))?;
        let level = convert::chief_level_from_wire("level", r.level)
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::invalid("level", "is required"))?;
        let category_code = CategoryCode::new(&r.category_code)
            .map_err(|e| ApiError::invalid("category_code", e.reason))?;
        let deadline = r
            .deadline
            .as_ref()
            .ok_or_else(|| ApiError::invalid("deadline", "is required"))?;
        let deadline = convert::from_timestamp("deadline", deadline).map_err(ApiError::from)?;
        let now = self.clock.now();
        let store = self.store.as_ref();
        // The area, and the subdistrict it lies in, which the caller must command.
        let lineage = match store.lineage(&root).await {
            Ok(l) => l,
            Err(StoreError::NotFound { .. }) => {
                return Err(ApiError::not_found(format!("area {root}")));
            }
            Err(e) => return Err(e.into()),
        };
        let Some(sub) = lineage
            .iter()
            .find(|a| a.level == AreaLevel::Subdistrict)
            .map(|a| a.code.clone())
        else {
            return Err(ApiError::invalid(
                "area_code",
                "must be a subdistrict or an area inside one",
            ));
        };
        if !caller.commands_subdistrict(&sub) {
            return Err(ApiError::not_found(format!("area {root}")));
        }
        let mut campaign = Campaign {
            id: CampaignId::new(now),
            subdistrict_code: sub.clone(),
            area_code: root.clone(),
            level,
            title: r.title.trim().to_owned(),
            instructions: r.instructions.clone(),
            category_code: category_code.clone(),
            checklist: r.checklist.clone(),
            counts: r.counts.clone(),
            deadline,
            created_by: caller.subject.clone(),
            created_at: now,
            tasks: 0,
        };
        campaign.validate(now).map_err(ApiError::from)?;
        let category = match store.get_category(&category_code).await {
            Ok(c) if c.active => c,
            Ok(_) => {
                return Err(ApiError::invalid("category_code", "is retired"));
            }
            Err(StoreError::NotFound { .. }) => {
                return Err(ApiError::invalid(
                    "category_code",
                    "is not a known category",
                ));
            }
            Err(e) => return Err(e.into()),
        };

        let key = Key::new(caller, "CreateCampaign", rid, &r);
        once(store, &key, Recording::WithTheEffect, || async {
            // Every area under the root (itself included) down to the campaign's level, to
            // find the posts, where each lies and a point for its ticket.
            let mut areas = store.subtree(&root, level.area_level()).await?;
            // The root's ancestors give a point when nothing below has geometry.
            areas.extend(lineage.iter().skip(1).cloned());
            let by_code: HashMap<&AreaCode, &Area> = areas.iter().map(|a| (&a.code, a)).collect();
            let targets: Vec<&Area> = areas
                .iter()
                .filter(|a| a.level == level.area_level() && is_under(a, &root, &by_code))
                .collect();
            let codes: Vec<AreaCode> = targets.iter().map(|a| a.code.clone()).collect();
            let posts = store.posts_for_areas(&codes).await?;
            let acting: HashMap<&AreaCode, _> = posts
                .iter()
                .filter(|p| p.level == level)
                .filter_map(|p| p.acting(now).map(|who| (&p.area_code, who.clone())))
                .collect();
            if acting.len() > MAX_TASKS {
                return Err(ApiError::invalid(
                    "area_code",
                    format!("covers more than {MAX_TASKS} posts; split the campaign"),
                ));
            }
            // In emergency mode the tasks' accept clocks run at the subdistrict's rate (the
            // campaign's own deadline is a date, and stands).
            let rate = store
                .emergency_mode(&sub)
                .await?
                .map_or(ClockRate::PEACETIME, |m| m.rate);
            let calendars = self.calendars.current();
            let mut inputs = ClockInputs::new(&calendars, DEFAULT_WARN_SHARE);
            inputs.category = Some(&category);
            let mut tasks = Vec::with_capacity(acting.len());
            for area in &targets {
                let Some(person) = acting.get(&area.code) else {
                    continue;
                };
                let place = place_of(area, &by_code);
                let Some(grid) = place.grid.clone() else {
                    return Err(ApiError::FailedPrecondition(format!(
                        "area {} is not under a grid; fix the tree",
                        area.code
                    )));
                };
                let Some(location) = point_of(area, &by_code) else {
                    return Err(ApiError::FailedPrecondition(format!(
                        "neither area {} nor an area above it has a geometry",
                        area.code
                    )));
                };
                let report = Report {
                    category_code: category_code.clone(),
                    description: task_description(&campaign),
                    location,
                    original_location: location,
                    address: area.name.clone(),
                    building_code: None,
                    unit_code: None,
                    media_urls: Vec::new(),
                    contact_phone: None,
                    reporter_id: caller.subject.clone(),
                    urgent: false,
                };
                let (mut ticket, submitted) =
                    Ticket::submit(TicketId::new(now), report, grid, sub.clone(), now);
                ticket.clock_rate = rate;
                let assignment = Assignment {
                    level,
                    area_code: area.code.clone(),
                    person_id: Some(person.clone()),
                    organization: None,
                };
                let assigned = ticket
                    .apply(
                        Command::Assign(assignment),
                        &caller.subject,
                        &format!("专项行动: {}", campaign.title),
                        now,
                    )
                    .map_err(ApiError::from)?;
                let mut timers = ClockEffect::Start
                    .timers(&mut ticket, &inputs, now)?
                    .unwrap_or_default();
                // The campaign's deadline is the task's resolve deadline.
                ticket.resolve_due_at = Some(deadline);
                for t in timers.iter_mut().filter(|t| t.kind == TimerKind::Resolve) {
                    t.due_at = deadline;
                }
                tasks.push(NewCampaignTask {
                    new: NewTicket {
                        ticket,
                        events: vec![submitted, assigned.event],
                        timers,
                        idempotency: None,
                        followed: None,
                    },
                    area_code: area.code.clone(),
                    place,
                });
            }
            campaign.tasks = u32::try_from(tasks.len()).unwrap_or(u32::MAX);
            let vacant = targets.len() - tasks.len();
            let answer = wire(&campaign, vacant);
            store
                .create_campaign(&campaign, &tasks, Some(&key.record(&answer, now)))
                .await?;
            self.commands.changed();
            Ok(answer)
        })
        .await
    }

    /// The campaign, if the caller commands its subdistrict (NOT_FOUND otherwise).
    pub(crate) async fn campaign_in_scope(
        &self,
        caller: &Principal,
        id: &str,
    ) -> Result<Campaign, ApiError> {
        let id: CampaignId = id.parse().map_err(ApiError::from)?;
        match self.store.get_campaign(&id).await {
            Ok(c) if caller.commands_subdistrict(&c.subdistrict_code) => Ok(c),
            Ok(_) | Err(StoreError::NotFound { .. }) => {
                Err(ApiError::not_found(format!("campaign {id}")))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) async fn get_campaign(
        &self,
        caller: &Principal,
        r: pb::GetCampaignRequest,
    ) -> Result<pb::Campaign, ApiError> {
        let campaign = self.campaign_in_scope(caller, &r.campaign_id).await?;
        // Vacancies are not kept; the tasks are what was fanned out.
        Ok(wire(&campaign, 0))
    }

    pub(crate) async fn campaign_progress(
        &self,
        caller: &Principal,
        r: pb::GetCampaignProgressRequest,
    ) -> Result<pb::CampaignProgress, ApiError> {
        let by = match pb::CampaignGrouping::try_from(r.group_by) {
            Ok(pb::CampaignGrouping::Grid) => AreaLevel::Grid,
            Ok(pb::CampaignGrouping::Lane) => AreaLevel::Lane,
            Ok(pb::CampaignGrouping::Street) => AreaLevel::Street,
            Ok(pb::CampaignGrouping::Unspecified) => {
                return Err(ApiError::invalid("group_by", "is required"));
            }
            Err(_) => return Err(ApiError::invalid("group_by", "is not a known grouping")),
        };
        let campaign = self.campaign_in_scope(caller, &r.campaign_id).await?;
        let tasks = self.store.campaign_tasks(&campaign.id).await?;
        let now = self.clock.now();
        let mut total = Tally::default();
        let mut rows: BTreeMap<AreaCode, Tally> = BTreeMap::new();
        for t in &tasks {
            total.add(t, now);
            let key = match by {
                AreaLevel::Grid => &t.place.grid,
                AreaLevel::Lane => &t.place.lane,
                _ => &t.place.street,
            };
            if let Some(k) = key {
                rows.entry(k.clone()).or_default().add(t, now);
            }
        }
        let codes: Vec<AreaCode> = rows.keys().cloned().collect();
        let names: HashMap<AreaCode, String> = self
            .store
            .get_areas(&codes)
            .await?
            .into_iter()
            .map(|a| (a.code, a.name))
            .collect();
        Ok(pb::CampaignProgress {
            campaign_id: campaign.id.to_string(),
            total: Some(total.wire(String::new(), String::new(), &campaign)),
            rows: rows
                .into_iter()
                .map(|(code, tally)| {
                    let name = names.get(&code).cloned().unwrap_or_default();
                    tally.wire(code.to_string(), name, &campaign)
                })
                .collect(),
            as_of: Some(convert::timestamp(now)),
        })
    }
}

/// The area, then its ancestors among `by_code` (bounded: bad data could hold a cycle).
fn lineage<'a>(
    area: &'a Area,
    by_code: &'a HashMap<&AreaCode, &Area>,
) -> impl Iterator<Item = &'a Area> + 'a {
    std::iter::successors(Some(area), |a| {
        a.parent_code.as_ref().and_then(|p| by_code.get(p).copied())
    })
    .take(16)
}

/// Whether `area` is `root` or below it.
fn is_under(area: &Area, root: &AreaCode, by_code: &HashMap<&AreaCode, &Area>) -> bool {
    lineage(area, by_code).any(|a| &a.code == root)
}

/// The grid, lane, street and subdistrict an area lies in (itself included).
fn place_of(area: &Area, by_code: &HashMap<&AreaCode, &Area>) -> Place {
    Place::from_lineage(lineage(area, by_code))
}

/// A point for a task's ticket: the centre of the area's box, or of the nearest area above
/// it with one (units have no geometry of their own).
fn point_of(area: &Area, by_code: &HashMap<&AreaCode, &Area>) -> Option<GeoPoint> {
    let b = lineage(area, by_code).find_map(|a| a.bbox.as_ref())?;
    let lat = (b.min_lat + b.max_lat) / 2.0;
    let lng = (b.min_lng + b.max_lng) / 2.0;
    GeoPoint::new(lat, lng, Crs::Wgs84).ok()
}

/// What a task's ticket says: the title, then the instructions, within a description's
/// length.
fn task_description(c: &Campaign) -> String {
    let text = if c.instructions.trim().is_empty() {
        format!("专项行动: {}", c.title)
    } else {
        format!("专项行动: {}\n{}", c.title, c.instructions.trim())
    };
    text.chars()
        .take(wuzhang_domain::ticket::MAX_DESCRIPTION_CHARS)
        .collect()
}

fn wire(c: &Campaign, vacant: usize) -> pb::Campaign {
    pb::Campaign {
        id: c.id.to_string(),
        subdistrict_code: c.subdistrict_code.to_string(),
        area_code: c.area_code.to_string(),
        level: convert::chief_level(c.level) as i32,
        title: c.title.clone(),
        instructions: c.instructions.clone(),
        category_code: c.category_code.to_string(),
        deadline: Some(convert::timestamp(c.deadline)),
        checklist: c.checklist.clone(),
        counts: c.counts.clone(),
        created_by: c.created_by.clone(),
        created_at: Some(convert::timestamp(c.created_at)),
        tasks: i32::try_from(c.tasks).unwrap_or(i32::MAX),
        vacant_posts: i32::try_from(vacant).unwrap_or(i32::MAX),
    }
}

/// Progress of some tasks, summed.
#[derive(Default)]
struct Tally {
    tasks: i64,
    done: i64,
    open: i64,
    overdue: i64,
    counts: HashMap<String, i64>,
    checked: HashMap<String, i64>,
}

impl Tally {
    fn add(&mut self, t: &CampaignTaskRow, now: time::OffsetDateTime) {
        self.tasks += 1;
        if matches!(t.state, TicketState::Resolved | TicketState::Closed) {
            self.done += 1;
        }
        if t.state.is_open() {
            self.open += 1;
            let late = |due: Option<time::OffsetDateTime>| due.is_some_and(|d| d < now);
            if late(t.accept_due_at) || late(t.resolve_due_at) {
                self.overdue += 1;
            }
        }
        if let Some(r) = &t.result {
            for (name, value) in &r.counts {
                *self.counts.entry(name.clone()).or_default() += value;
            }
            for item in &r.checked {
                *self.checked.entry(item.clone()).or_default() += 1;
            }
        }
    }

    fn wire(&self, key: String, name: String, c: &Campaign) -> pb::CampaignProgressRow {
        let listed = |names: &[String], sums: &HashMap<String, i64>| {
            names
                .iter()
                .map(|n| pb::TaskCount {
                    name: n.clone(),
                    value: sums.get(n).copied().unwrap_or(0),
                })
                .collect()
        };
        pb::CampaignProgressRow {
            key,
            name,
            tasks: self.tasks,
            done: self.done,
            open: self.open,
            overdue: self.overdue,
            done_pct: if self.tasks > 0 {
                100.0 * self.done as f64 / self.tasks as f64
            } else {
                0.0
            },
            counts: listed(&c.counts, &self.counts),
            checked: listed(&c.checklist, &self.checked),
        }
    }
}
