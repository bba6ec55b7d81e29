//! What intake does, independent of the transport: gRPC ([`crate::grpc`]) and Open311
//! ([`crate::open311`]) both call [`IntakeCore`].
//!
//! A submission is checked field by field (every violation reported at once), located,
//! compared with open tickets nearby (a duplicate is merged into the original), routed to
//! the lowest staffed level at or above the category's start level, and written with its
//! events, deadlines, timers and idempotency record in one transaction.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use tracing::{debug, info};
use wuzhang_app::ApiError;
use wuzhang_app::idempotency::Key;
use wuzhang_domain::FieldError;
use wuzhang_domain::access::{Principal, Role};
use wuzhang_domain::area::{AreaCode, BBox};
use wuzhang_domain::category::{Category, CategoryCode};
use wuzhang_domain::chief::ChiefLevel;
use wuzhang_domain::clock::Clock;
use wuzhang_domain::clocks::{ClockEffect, ClockInputs};
use wuzhang_domain::deadline::CalendarBook;
use wuzhang_domain::emergency::EmergencyMode;
use wuzhang_domain::event::{NewEvent, TicketEvent};
use wuzhang_domain::organization::{Organization, serving};
use wuzhang_domain::point::GeoPoint;
use wuzhang_domain::ticket::{
    Applied, Assignment, Command, MAX_DESCRIPTION_CHARS, MAX_NOTE_CHARS, Rating, Report, Ticket,
    TicketId, TicketState, check_text,
};
use wuzhang_domain::timer::Timer;
use wuzhang_proto::convert::{self, PhoneVisibility};
use wuzhang_routing::{Location, Locator, locate::LocateQuery};
use wuzhang_store::{
    NewTicket, Page, PageRequest, ReferenceCache, Store, StoreError, TicketChange, TicketOrder,
    TicketQuery,
};

use wuzhang_feed::EventHub;

/// Longest free-text address.
pub const MAX_ADDRESS_CHARS: usize = 200;
/// Most photos and videos on one report.
pub const MAX_MEDIA_URLS: usize = 9;
/// Longest media URL.
pub const MAX_MEDIA_URL_CHARS: usize = 512;
/// The actor on events intake writes by itself (routing, merging).
pub const INTAKE_ACTOR: &str = "system:intake";
/// How often a submission whose duplicate original changed underneath it is retried.
const MERGE_ATTEMPTS: usize = 3;

/// Settings of intake.
#[derive(Debug, Clone)]
pub struct IntakeConfig {
    /// Share of the accept time after which the owner is warned.
    pub warn_share: f64,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        Self {
            warn_share: wuzhang_domain::deadline::DEFAULT_WARN_SHARE,
        }
    }
}

/// A report whose every field has been checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub category_code: CategoryCode,
    pub description: String,
    /// As reported, in the phone's CRS.
    pub location: GeoPoint,
    pub address: String,
    pub building_code: Option<AreaCode>,
    pub unit_code: Option<AreaCode>,
    pub media_urls: Vec<String>,
    pub contact_phone: Option<String>,
}

/// The fields of a report as they arrive, before checking.
#[derive(Debug, Clone, Default)]
pub struct RawSubmission<'a> {
    pub category_code: &'a str,
    pub description: &'a str,
    /// `Err` when the location is missing or malformed, naming the field.
    pub location: Option<Result<GeoPoint, FieldError>>,
    pub address: &'a str,
    pub building_code: &'a str,
    pub unit_code: &'a str,
    pub media_urls: &'a [String],
    pub contact_phone: &'a str,
}

impl Submission {
    /// Checks every field and reports every violation, named as in
    /// `SubmitIncidentRequest`.
    pub fn check(raw: RawSubmission<'_>) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        let category_code = if raw.category_code.is_empty() {
            errors.push(FieldError::new("category_code", "is required"));
            None
        } else {
            CategoryCode::new(raw.category_code)
                .map_err(|e| errors.push(e))
                .ok()
        };
        if let Err(e) = check_text("description", raw.description, MAX_DESCRIPTION_CHARS, true) {
            errors.push(e);
        }
        let location = match raw.location {
            None => {
                errors.push(FieldError::new("location", "is required"));
                None
            }
            Some(Err(e)) => {
                errors.push(e.within("location"));
                None
            }
            Some(Ok(p)) => Some(p),
        };
        if let Err(e) = check_text("address", raw.address, MAX_ADDRESS_CHARS, false) {
            errors.push(e);
        }
        let code = |field: &str, value: &str, errors: &mut Vec<FieldError>| {
            if value.is_empty() {
                return None;
            }
            AreaCode::new(value)
                .map_err(|e| errors.push(FieldError::new(field, e.reason)))
                .ok()
        };
        let building_code = code("building_code", raw.building_code, &mut errors);
        let unit_code = code("unit_code", raw.unit_code, &mut errors);
        if unit_code.is_some() && raw.building_code.is_empty() {
            errors.push(FieldError::new(
                "unit_code",
                "needs building_code: a unit is named within its building",
            ));
        }
        if raw.media_urls.len() > MAX_MEDIA_URLS {
            errors.push(FieldError::new(
                "media_urls",
                format!(
                    "has {} URLs, at most {MAX_MEDIA_URLS} allowed",
                    raw.media_urls.len()
                ),
            ));
        }
        for (i, url) in raw.media_urls.iter().enumerate() {
            if let Err(reason) = check_media_url(url) {
                errors.push(FieldError::new(format!("media_urls[{i}]"), reason));
            }
        }
        let contact_phone = match check_phone(raw.contact_phone) {
            Ok(p) => p,
            Err(reason) => {
                errors.push(FieldError::new("contact_phone", reason));
                None
            }
        };
        match (category_code, location) {
            (Some(category_code), Some(location)) if errors.is_empty() => Ok(Self {
                category_code,
                description: raw.description.to_owned(),
                location,
                address: raw.address.to_owned(),
                building_code,
                unit_code,
                media_urls: raw.media_urls.to_vec(),
                contact_phone,
            }),
            _ => Err(ApiError::Invalid(errors)),
        }
    }
}

/// An http(s) URL with a host, no spaces or control characters, bounded.
pub fn check_media_url(url: &str) -> Result<(), String> {
    if url.chars().count() > MAX_MEDIA_URL_CHARS {
        return Err(format!("must be at most {MAX_MEDIA_URL_CHARS} characters"));
    }
    let parsed = url::Url::parse(url).map_err(|e| format!("is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters".into());
    }
    Ok(())
}

/// A mainland mobile number: 11 digits starting with 1 (a leading +86 is dropped).
/// Empty means none given.
pub fn check_phone(phone: &str) -> Result<Option<String>, String> {
    if phone.is_empty() {
        return Ok(None);
    }
    let digits = phone.strip_prefix("+86").unwrap_or(phone);
    if digits.len() == 11
        && digits.starts_with('1')
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.as_bytes()[1] >= b'3'
    {
        Ok(Some(digits.to_owned()))
    } else {
        Err("must be a mainland mobile number: 11 digits starting with 13–19".into())
    }
}

/// What intake does, for any transport.
#[derive(Debug, Clone)]
pub struct IntakeCore {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    locator: Locator,
    /// Categories, read on every submission.
    reference: ReferenceCache,
    calendars: Arc<CalendarBook>,
    hub: EventHub,
    config: IntakeConfig,
}

impl IntakeCore {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        locator: Locator,
        reference: ReferenceCache,
        calendars: Arc<CalendarBook>,
        hub: EventHub,
        config: IntakeConfig,
    ) -> Self {
        Self {
            store,
            clock,
            locator,
            reference,
            calendars,
            hub,
            config,
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub(crate) fn hub(&self) -> &EventHub {
        &self.hub
    }

    /// Reports an incident for `reporter`. With `key`, the answer is recorded in the same
    /// transaction (as a `wuzhang.v1.Ticket` seen by the reporter); a concurrent request
    /// with the same key makes this one fail with AlreadyExists, and the caller replays
    /// the recorded answer.
    #[tracing::instrument(skip_all, fields(reporter = %reporter.subject, category = %s.category_code))]
    pub async fn submit(
        &self,
        reporter: &Principal,
        s: Submission,
        key: Option<Key>,
    ) -> Result<Ticket, ApiError> {
        let category = match self.reference.get_category(&s.category_code).await {
            Ok(c) => c,
            Err(StoreError::NotFound { .. }) => {
                return Err(ApiError::invalid(
                    "category_code",
                    format!(
                        "no category {}; ListIncidentCategories gives the valid ones",
                        s.category_code
                    ),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        if !category.active {
            return Err(ApiError::FailedPrecondition(format!(
                "category {} is no longer in use; choose another",
                category.code
            )));
        }
        let location = self
            .locator
            .locate(&LocateQuery {
                point: s.location,
                building_code: s.building_code.clone(),
                unit_code: s.unit_code.clone(),
            })
            .await?;
        let report = Report {
            category_code: category.code.clone(),
            description: s.description,
            location: location.wgs84,
            original_location: s.location,
            address: s.address,
            building_code: location.building.as_ref().map(|b| b.code.clone()),
            unit_code: location.unit.as_ref().map(|u| u.code.clone()),
            media_urls: s.media_urls,
            contact_phone: s.contact_phone,
            reporter_id: reporter.subject.clone(),
            urgent: category.urgent,
        };
        // The subdistrict's emergency mode as this process knows it (its own switches at
        // once, another process's within the reference cache's check interval).
        let mode = self
            .reference
            .emergency_mode(&location.subdistrict.code)
            .await?
            .filter(|m| m.is_on());
        let organization = self.serving(&category, &location).await?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let now = self.clock.now();
            let new = match self.find_duplicate(&category, &location, now).await? {
                Some(original) => self.merge(report.clone(), &location, original, now)?,
                None => self.route(
                    report.clone(),
                    &category,
                    &location,
                    (mode.as_ref(), organization.as_ref()),
                    now,
                )?,
            };
            let new = with_key(new, key.as_ref(), now);
            match self.store.create_ticket(&new).await {
                Ok(ticket) => {
                    info!(ticket = %ticket.id, state = %ticket.state, level = ?ticket.level(), "incident submitted");
                    self.hub.wake();
                    return Ok(ticket);
                }
                // The original moved on while we merged into it: look again.
                Err(StoreError::Conflict { .. }) if attempt < MERGE_ATTEMPTS => {
                    debug!(attempt, "duplicate original changed; retrying");
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The open ticket of the same category nearest to the report, within the category's
    /// radius and window, in the same subdistrict (another subdistrict's command center
    /// owns tickets across the border). None when the category does not merge.
    async fn find_duplicate(
        &self,
        category: &Category,
        location: &Location,
        now: OffsetDateTime,
    ) -> Result<Option<Ticket>, ApiError> {
        let radius = category.duplicate_radius_m;
        if radius <= 0.0 || category.duplicate_window <= Duration::ZERO {
            return Ok(None);
        }
        let p = location.wgs84;
        let query = TicketQuery {
            subdistrict_codes: vec![location.subdistrict.code.clone()],
            category_code: Some(category.code.clone()),
            states: vec![
                TicketState::Submitted,
                TicketState::Assigned,
                TicketState::Accepted,
            ],
            created_from: Some(now - category.duplicate_window),
            within: Some(box_around(p, radius)),
            ..Default::default()
        };
        let candidates = self
            .store
            .list_tickets(&query, &PageRequest::first(100))
            .await?;
        Ok(candidates
            .items
            .into_iter()
            .map(|t| (metres(p, t.report.location), t))
            .filter(|(d, _)| *d <= radius)
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, t)| t))
    }

    /// A new ticket folded into `original`, whose reporter list gains the new reporter.
    fn merge(
        &self,
        report: Report,
        location: &Location,
        mut original: Ticket,
        now: OffsetDateTime,
    ) -> Result<NewTicket, ApiError> {
        let reporter = report.reporter_id.clone();
        let id = TicketId::new(now);
        let (mut ticket, submitted) = Ticket::submit(
            id,
            report,
            location.grid.code.clone(),
            location.subdistrict.code.clone(),
            now,
        );
        let merged = ticket.apply(
            Command::Merge { into: original.id },
            INTAKE_ACTOR,
            &format!("duplicate of {}", original.id),
            now,
        )?;
        let timers = self.clocks(&mut ticket, &merged.clocks, None, now)?;
        let joined = original.apply(
            Command::JoinReporter,
            INTAKE_ACTOR,
            &format!("report {id} merged into this ticket"),
            now,
        )?;
        let followed_timers = self.clocks(&mut original, &joined.clocks, None, now)?;
        Ok(NewTicket {
            ticket,
            events: vec![submitted, merged.event],
            timers: timers.unwrap_or_default(),
            idempotency: None,
            followed: Some(TicketChange {
                ticket: original,
                events: vec![joined.event],
                timers: followed_timers,
                idempotency: None,
                add_follower: Some(reporter),
                task_result: None,
            }),
        })
    }

    /// The organization a ticket of `category` at `location` goes to instead of the chain:
    /// the one of the category's organization type serving the lowest area the ticket
    /// lies in (`None`: the chain).
    async fn serving(
        &self,
        category: &Category,
        location: &Location,
    ) -> Result<Option<Organization>, ApiError> {
        let Some(org_type) = &category.organization_type else {
            return Ok(None);
        };
        // Lowest first: the chain's areas (unit … subdistrict), then the district.
        let mut areas: Vec<AreaCode> = location.chain.iter().map(|l| l.area.code.clone()).collect();
        areas.extend(location.subdistrict.parent_code.iter().cloned());
        let all = self.reference.organizations().await?;
        Ok(serving(&all, org_type, &areas).cloned())
    }

    /// A new ticket assigned to the lowest staffed level at or above the category's start
    /// level — or to `organization` when the category routes to one, the grid chief
    /// following — with its clocks running: at the subdistrict's emergency rate while
    /// `mode` (on) says so.
    fn route(
        &self,
        report: Report,
        category: &Category,
        location: &Location,
        (mode, organization): (Option<&EmergencyMode>, Option<&Organization>),
        now: OffsetDateTime,
    ) -> Result<NewTicket, ApiError> {
        let (mut ticket, submitted) = Ticket::submit(
            TicketId::new(now),
            report,
            location.grid.code.clone(),
            location.subdistrict.code.clone(),
            now,
        );
        if let Some(m) = mode {
            ticket.clock_rate = m.rate;
        }
        let (to, note, clock_category) = match organization {
            Some(org) => {
                let chief = location
                    .chain
                    .iter()
                    .find(|l| l.level == ChiefLevel::Grid && !l.vacant)
                    .and_then(|l| l.person.as_ref().map(|p| p.id.clone()));
                let to =
                    Assignment::organization(org.code.clone(), location.grid.code.clone(), chief);
                let note = format!(
                    "routed to {} {} ({}); the grid chief follows as 属地 responsible",
                    org.code, org.name, org.org_type
                );
                (to, note, std::borrow::Cow::Owned(org.clocks_for(category)))
            }
            None => {
                let to = start_assignment(location, category.start_level);
                let note = if to.level == category.start_level {
                    String::new()
                } else {
                    format!(
                        "no {} chief on duty here; started at {}",
                        category.start_level, to.level
                    )
                };
                (to, note, std::borrow::Cow::Borrowed(category))
            }
        };
        let assigned = ticket.apply(Command::Assign(to), INTAKE_ACTOR, &note, now)?;
        let timers = self.clocks(&mut ticket, &assigned.clocks, Some(&clock_category), now)?;
        let mut events = vec![submitted, assigned.event];
        if category.urgent {
            // Urgent: the command center is told at once, in parallel with the owner. A
            // note keeps the clocks (the domain's rule), so the timers stand.
            let alerted = ticket.apply(
                Command::Note,
                INTAKE_ACTOR,
                &format!(
                    "urgent: command center {} alerted at once",
                    location.subdistrict.code
                ),
                now,
            )?;
            debug_assert_eq!(alerted.clocks, ClockEffect::Keep);
            events.push(alerted.event);
            // In emergency mode the street chief is alerted too (战时: the street leads).
            if mode.is_some()
                && let Some(street) = location
                    .chain
                    .iter()
                    .find(|l| l.level == ChiefLevel::Street && !l.vacant)
                && let Some(person) = &street.person
            {
                let alerted = ticket.apply(
                    Command::Note,
                    INTAKE_ACTOR,
                    &format!(
                        "urgent in emergency mode: street chief {} ({}) alerted at once",
                        person.id, street.area.code
                    ),
                    now,
                )?;
                events.push(alerted.event);
            }
        }
        Ok(NewTicket {
            ticket,
            events,
            timers: timers.unwrap_or_default(),
            idempotency: None,
            followed: None,
        })
    }

    /// One ticket the caller may see, with phone visibility for them. Residents see their
    /// own and those they follow; anything else is NOT_FOUND, as if it did not exist.
    pub async fn visible_ticket(
        &self,
        caller: &Principal,
        id: &TicketId,
    ) -> Result<(Ticket, Visibility), ApiError> {
        let not_found = || ApiError::not_found(format!("ticket {id}"));
        let ticket = match self.store.get_ticket(id).await {
            Ok(t) => t,
            Err(StoreError::NotFound { .. }) => return Err(not_found()),
            Err(e) => return Err(e.into()),
        };
        let visibility = match caller.role {
            Role::Admin => Visibility::Other,
            Role::Resident if ticket.report.reporter_id == caller.subject => Visibility::Reporter,
            Role::Resident => {
                let followers = self.store.ticket_followers(id).await?;
                if followers.contains(&caller.subject) {
                    Visibility::Other
                } else {
                    return Err(not_found());
                }
            }
            Role::Chief | Role::CommandCenter | Role::Organization => return Err(not_found()),
        };
        Ok((ticket, visibility))
    }

    /// The caller's ticket with its history.
    pub async fn get(
        &self,
        caller: &Principal,
        id: &TicketId,
    ) -> Result<(Ticket, Visibility, Vec<TicketEvent>), ApiError> {
        let (ticket, visibility) = self.visible_ticket(caller, id).await?;
        let mut events = Vec::new();
        loop {
            let after = events.last().map_or(0, |e: &TicketEvent| e.seq);
            let page = self.store.list_events(id, after, 1000).await?;
            let done = page.len() < 1000;
            events.extend(page);
            if done {
                break;
            }
        }
        Ok((ticket, visibility, events))
    }

    /// The caller's own reports, newest first, and how many match in all.
    pub async fn list_mine(
        &self,
        caller: &Principal,
        states: Vec<TicketState>,
        page: &PageRequest,
    ) -> Result<(Page<Ticket>, u64), ApiError> {
        let query = TicketQuery {
            reporter_id: Some(caller.subject.clone()),
            states,
            order: TicketOrder::NewestFirst,
            ..Default::default()
        };
        let items = self.store.list_tickets(&query, page).await?;
        let total = self.store.count_tickets(&query).await?;
        Ok((items, total))
    }

    /// Withdraws one of the caller's reports while work is still owed.
    pub async fn cancel(
        &self,
        caller: &Principal,
        id: &TicketId,
        reason: &str,
        key: Option<Key>,
    ) -> Result<Ticket, ApiError> {
        check_text("reason", reason, MAX_NOTE_CHARS, false)?;
        let (mut ticket, visibility) = self.visible_ticket(caller, id).await?;
        if visibility != Visibility::Reporter && !caller.is_admin() {
            return Err(ApiError::FailedPrecondition(
                "only the resident who reported it may cancel a ticket".into(),
            ));
        }
        let now = self.clock.now();
        let applied = ticket.apply(Command::Cancel, &caller.subject, reason, now)?;
        self.write(ticket, applied, key, now).await
    }

    /// Rates resolved or closed work, once. A rating with `not_solved` puts the ticket in
    /// the command center's reopen queue, unless its category reopens such tickets at
    /// once (`reopen_on_not_solved`): then the same write reopens it (返工) to the owner
    /// who resolved it, with new clocks, as the command center's ReopenTicket would.
    pub async fn rate(
        &self,
        caller: &Principal,
        id: &TicketId,
        rating: Rating,
        key: Option<Key>,
    ) -> Result<Ticket, ApiError> {
        let (mut ticket, visibility) = self.visible_ticket(caller, id).await?;
        if visibility != Visibility::Reporter {
            return Err(ApiError::FailedPrecondition(
                "only the resident who reported it may rate a ticket".into(),
            ));
        }
        if ticket.rating.is_some() {
            return Err(ApiError::FailedPrecondition(format!(
                "ticket {id} is already rated"
            )));
        }
        let note = if rating.not_solved {
            format!(
                "not solved: the resident asks the command center to reopen (返工). {}",
                rating.comment
            )
        } else {
            rating.comment.clone()
        };
        let not_solved = rating.not_solved;
        let now = self.clock.now();
        let rated = ticket.apply(Command::Rate(rating), &caller.subject, note.trim(), now)?;
        if !not_solved {
            return self.write(ticket, rated, key, now).await;
        }
        let category = self
            .reference
            .get_category(&ticket.report.category_code)
            .await?;
        if !category.reopen_on_not_solved {
            return self.write(ticket, rated, key, now).await;
        }
        // The rating's event first (its clocks stand: ClockEffect::Keep), then the reopen,
        // whose effect decides the timers: both in one write, so no reader sees the ticket
        // rated but not reopened.
        debug_assert_eq!(rated.clocks, ClockEffect::Keep);
        let reopened = ticket.apply(
            Command::Reopen,
            INTAKE_ACTOR,
            &format!(
                "reopened (返工): category {} reopens work its resident rated not solved",
                category.code
            ),
            now,
        )?;
        let timers = self.clocks(&mut ticket, &reopened.clocks, Some(&category), now)?;
        // One write, one version (the store takes a change exactly one version after what
        // it holds): the rated ticket between the two commands is never stored or seen.
        ticket.version -= 1;
        info!(ticket = %ticket.id, category = %category.code, "reopened on a not-solved rating");
        self.write_events(ticket, vec![rated.event, reopened.event], timers, key, now)
            .await
    }

    /// The timers a clock effect of intake leaves (`None`: as they stand). Intake's
    /// commands need at most the category, which it has at hand.
    fn clocks(
        &self,
        ticket: &mut Ticket,
        effect: &ClockEffect,
        category: Option<&Category>,
        now: OffsetDateTime,
    ) -> Result<Option<Vec<Timer>>, ApiError> {
        let calendars = self.calendars.current();
        let mut inputs = ClockInputs::new(&calendars, self.config.warn_share);
        if let Some(c) = category {
            inputs = inputs.category(c);
        }
        Ok(effect.timers(ticket, &inputs, now)?)
    }

    /// Writes a resident's command on their ticket with what it does to the clocks.
    async fn write(
        &self,
        mut ticket: Ticket,
        applied: Applied,
        key: Option<Key>,
        now: OffsetDateTime,
    ) -> Result<Ticket, ApiError> {
        let timers = self.clocks(&mut ticket, &applied.clocks, None, now)?;
        self.write_events(ticket, vec![applied.event], timers, key, now)
            .await
    }

    /// Writes a resident's change to their ticket: its events in order, and the timers the
    /// last clock effect left (`None`: as they stand).
    async fn write_events(
        &self,
        ticket: Ticket,
        events: Vec<NewEvent>,
        timers: Option<Vec<Timer>>,
        key: Option<Key>,
        now: OffsetDateTime,
    ) -> Result<Ticket, ApiError> {
        let idempotency = key.map(|k| k.record(&to_wire(&ticket, Visibility::Reporter, now), now));
        let change = TicketChange {
            ticket,
            events,
            timers,
            idempotency,
            add_follower: None,
            task_result: None,
        };
        let stored = self.store.update_ticket(&change).await?;
        self.hub.wake();
        Ok(stored)
    }
}

/// Who is looking at a ticket, for what of it they may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// The resident who reported it: everything, their own number included.
    Reporter,
    /// A follower or an administrator: the phone masked, the reporter hidden.
    Other,
}

/// The ticket as `visibility` allows, in the API's terms.
pub fn to_wire(
    t: &Ticket,
    visibility: Visibility,
    now: OffsetDateTime,
) -> wuzhang_proto::v1::Ticket {
    match visibility {
        Visibility::Reporter => convert::ticket(t, PhoneVisibility::Full, now),
        Visibility::Other => {
            let mut wire = convert::ticket(t, PhoneVisibility::Masked, now);
            wire.reporter_id.clear();
            wire
        }
    }
}

/// `new` with the record of the answer its reporter gets, when the request has a key.
fn with_key(mut new: NewTicket, key: Option<&Key>, now: OffsetDateTime) -> NewTicket {
    new.idempotency = key.map(|k| k.record(&to_wire(&new.ticket, Visibility::Reporter, now), now));
    new
}

/// The lowest link at or above `start` with someone on duty; the command center (a desk)
/// always is.
fn start_assignment(location: &Location, start: ChiefLevel) -> Assignment {
    location
        .chain
        .iter()
        .filter(|l| l.level >= start)
        .find(|l| l.level == ChiefLevel::CommandCenter || (!l.vacant && l.person.is_some()))
        .map(|l| Assignment {
            level: l.level,
            area_code: l.area.code.clone(),
            person_id: if l.level == ChiefLevel::CommandCenter {
                None
            } else {
                l.person.as_ref().map(|p| p.id.clone())
            },
            organization: None,
        })
        .unwrap_or_else(|| Assignment {
            level: ChiefLevel::CommandCenter,
            area_code: location.subdistrict.code.clone(),
            person_id: None,
            organization: None,
        })
}

/// Metres between two WGS84 points (haversine; plenty for radii of metres to kilometres).
pub fn metres(a: GeoPoint, b: GeoPoint) -> f64 {
    wuzhang_spatial::distance::haversine_m(a.lng(), a.lat(), b.lng(), b.lat())
}

/// A box that holds every point within `radius_m` of `p`.
fn box_around(p: GeoPoint, radius_m: f64) -> BBox {
    let dlat = radius_m / wuzhang_spatial::distance::METRES_PER_DEGREE * 1.01;
    let dlng = dlat / p.lat().to_radians().cos().max(0.01);
    BBox {
        min_lng: p.lng() - dlng,
        min_lat: p.lat() - dlat,
        max_lng: p.lng() + dlng,
        max_lat: p.lat() + dlat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wuzhang_domain::point::Crs;

    fn raw<'a>() -> RawSubmission<'a> {
        RawSubmission {
            category_code: "E0102",
            description: "垃圾桶满了",
            location: Some(GeoPoint::new(43.88, 125.32, Crs::Gcj02)),
            ..Default::default()
        }
    }

    fn fields(e: ApiError) -> Vec<String> {
        match e {
            ApiError::Invalid(v) => v.into_iter().map(|f| f.field).collect(),
            other => panic!("not invalid: {other}"),
        }
    }

    #[test]
    fn a_good_report_passes() {
        let s = Submission::check(RawSubmission {
            contact_phone: "+8613800138000",
            ..raw()
        })
        .unwrap();
        assert_eq!(s.contact_phone.as_deref(), Some("13800138000"));
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let long = "长".repeat(2001);
        let urls: Vec<String> = vec!["ftp://x/y".into(), "https://ok.example/a.jpg".into()];
        let e = Submission::check(RawSubmission {
            category_code: "",
            description: &long,
            location: Some(GeoPoint::new(f64::NAN, 1.0, Crs::Wgs84)),
            address: "a\u{0}b",
            unit_code: "U1",
            media_urls: &urls,
            contact_phone: "12345",
            ..raw()
        })
        .unwrap_err();
        assert_eq!(
            fields(e),
            [
                "category_code",
                "description",
                "location.lat",
                "address",
                "unit_code",
                "media_urls[0]",
                "contact_phone"
            ]
        );
        let e = Submission::check(RawSubmission {
            location: None,
            description: " ",
            ..raw()
        })
        .unwrap_err();
        assert_eq!(fields(e), ["description", "location"]);
        let many: Vec<String> = (0..10)
            .map(|i| format!("https://m.example/{i}.jpg"))
            .collect();
        let e = Submission::check(RawSubmission {
            media_urls: &many,
            ..raw()
        })
        .unwrap_err();
        assert_eq!(fields(e), ["media_urls"]);
    }

    #[test]
    fn distances_and_boxes_agree() {
        let a = GeoPoint::new(43.88, 125.32, Crs::Wgs84).unwrap();
        let b = GeoPoint::new(43.88045, 125.32, Crs::Wgs84).unwrap();
        let d = metres(a, b);
        assert!((49.0..=51.0).contains(&d), "{d}");
        let bx = box_around(a, 50.0);
        assert!(bx.min_lat < b.lat() && b.lat() < bx.max_lat);
        let east = GeoPoint::new(43.88, 125.32062, Crs::Wgs84).unwrap();
        assert!(metres(a, east) < 50.0 && east.lng() < bx.max_lng);
    }
}
