//! The rules the store enforces before it writes, shared by both backends so they accept and
//! refuse exactly the same input. Each check that needs stored data comes in two halves:
//! what to look up, and the verdict once the backend has looked it up in its transaction.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use wuzhang_domain::area::{Area, AreaCode, AreaLevel};
use wuzhang_domain::chief::{Person, Post};
use wuzhang_domain::ticket::Ticket;
use wuzhang_domain::timer::Timer;

use crate::codec::{AreaColumns, normalize_ticket, normalize_wkb};
use crate::error::{Result, StoreError};
use crate::model::{AreaRecord, TicketChange};

fn field_error(code: &impl std::fmt::Display, e: wuzhang_domain::FieldError) -> StoreError {
    StoreError::invalid(e.field, format!("area {code}: {}", e.reason))
}

/// A checked batch of areas, ready to write once its outside parents are found.
#[derive(Debug)]
pub(crate) struct AreaBatch<'a> {
    pub(crate) rows: Vec<AreaColumns>,
    /// Parents not in the batch, which must already be stored, with the areas naming them.
    pub(crate) outside_parents: BTreeMap<String, Vec<&'a Area>>,
}

/// Checks every area on its own and against parents in the same batch; fills in a missing
/// bbox from the geometry (so bbox listings find it); wraps Polygons into MultiPolygons.
pub(crate) fn area_batch(records: &[AreaRecord]) -> Result<AreaBatch<'_>> {
    let mut by_code: HashMap<&str, &Area> = HashMap::with_capacity(records.len());
    for r in records {
        if by_code.insert(r.area.code.as_str(), &r.area).is_some() {
            return Err(StoreError::invalid(
                "code",
                format!("area {} appears twice in the batch", r.area.code),
            ));
        }
    }
    let mut rows = Vec::with_capacity(records.len());
    let mut outside_parents: BTreeMap<String, Vec<&Area>> = BTreeMap::new();
    for r in records {
        let area = &r.area;
        area.validate().map_err(|e| field_error(&area.code, e))?;
        if let Some(parent) = &area.parent_code {
            match by_code.get(parent.as_str()) {
                Some(p) => area
                    .check_parent(p)
                    .map_err(|e| field_error(&area.code, e))?,
                None => outside_parents
                    .entry(parent.as_str().to_owned())
                    .or_default()
                    .push(area),
            }
        }
        let geom = match &r.geometry_wkb {
            None => None,
            Some(wkb) => {
                let (multi, envelope) = normalize_wkb(wkb).map_err(|reason| {
                    StoreError::invalid("geometry_wkb", format!("area {}: {reason}", area.code))
                })?;
                let mut filled = area.clone();
                filled.bbox = filled.bbox.or(Some(envelope));
                rows.push(AreaColumns::new(&filled, Some(multi)));
                continue;
            }
        };
        rows.push(AreaColumns::new(area, geom));
    }
    Ok(AreaBatch {
        rows,
        outside_parents,
    })
}

/// The verdict on outside parents, given the levels of those found in the store.
pub(crate) fn check_outside_parents(
    batch: &AreaBatch<'_>,
    stored: &HashMap<String, AreaLevel>,
) -> Result<()> {
    for (parent, children) in &batch.outside_parents {
        let Some(level) = stored.get(parent) else {
            let child = &children[0].code;
            return Err(StoreError::invalid(
                "parent_code",
                format!("area {child}: parent {parent} is neither stored nor in the batch"),
            ));
        };
        let parent_area = Area {
            code: AreaCode::new(parent.clone()).map_err(StoreError::internal)?,
            name: String::new(),
            level: *level,
            parent_code: None,
            community: None,
            bbox: None,
        };
        for child in children {
            child
                .check_parent(&parent_area)
                .map_err(|e| field_error(&child.code, e))?;
        }
    }
    Ok(())
}

/// What a roster write needs from the store: the areas of its posts and the persons it
/// names but does not bring.
#[derive(Debug, Default)]
pub(crate) struct RosterNeeds {
    pub(crate) area_codes: Vec<String>,
    pub(crate) person_ids: Vec<String>,
}

/// Checks persons and posts on their own; returns what to look up.
pub(crate) fn roster_batch(persons: &[Person], posts: &[Post]) -> Result<RosterNeeds> {
    let mut in_batch = HashSet::new();
    for p in persons {
        if !in_batch.insert(p.id.as_str()) {
            return Err(StoreError::invalid(
                "persons",
                format!("person {} appears twice in the batch", p.id),
            ));
        }
        let n = p.name.chars().count();
        if n == 0 || n > 100 {
            return Err(StoreError::invalid(
                "name",
                format!("person {}: must be 1 to 100 characters", p.id),
            ));
        }
    }
    let mut areas = BTreeSet::new();
    let mut outside = BTreeSet::new();
    for post in posts {
        if !areas.insert(post.area_code.as_str()) {
            return Err(StoreError::invalid(
                "posts",
                format!("post of area {} appears twice in the batch", post.area_code),
            ));
        }
        for l in &post.leave {
            if l.from >= l.until {
                return Err(StoreError::invalid(
                    "leave",
                    format!(
                        "post of area {}: a leave must end after it starts",
                        post.area_code
                    ),
                ));
            }
        }
        for id in post.holder.iter().chain(&post.deputy) {
            if !in_batch.contains(id.as_str()) {
                outside.insert(id.as_str());
            }
        }
    }
    Ok(RosterNeeds {
        area_codes: areas.into_iter().map(str::to_owned).collect(),
        person_ids: outside.into_iter().map(str::to_owned).collect(),
    })
}

/// The verdict on posts, given the stored levels of their areas and which of the outside
/// persons exist.
pub(crate) fn check_posts(
    posts: &[Post],
    persons: &[Person],
    area_levels: &HashMap<String, AreaLevel>,
    stored_persons: &HashSet<String>,
) -> Result<()> {
    // A set, not a scan: a city's roster is a million posts and as many persons.
    let in_batch: HashSet<&str> = persons.iter().map(|p| p.id.as_str()).collect();
    let known = |id: &str| stored_persons.contains(id) || in_batch.contains(id);
    for post in posts {
        let area = post.area_code.as_str();
        let Some(level) = area_levels.get(area) else {
            return Err(StoreError::invalid(
                "area_code",
                format!("post of area {area}: the area does not exist"),
            ));
        };
        if level.chief_level() != Some(post.level) {
            return Err(StoreError::invalid(
                "level",
                format!(
                    "post of area {area}: a {level} has no {} post",
                    post.level.as_str()
                ),
            ));
        }
        for (field, id) in [("holder", &post.holder), ("deputy", &post.deputy)] {
            if let Some(id) = id
                && !known(id.as_str())
            {
                return Err(StoreError::invalid(
                    field,
                    format!("post of area {area}: person {id} does not exist"),
                ));
            }
        }
    }
    Ok(())
}

/// The tickets of `changes` as they will be stored (times cut to microseconds), each
/// checked as [`ticket_write`] checks it: what `update_tickets` writes on either backend.
pub(crate) fn ticket_changes(changes: &[TicketChange]) -> Result<Vec<Ticket>> {
    changes
        .iter()
        .map(|c| {
            let ticket = normalize_ticket(&c.ticket);
            ticket_write(&ticket, c.timers.as_deref())?;
            Ok(ticket)
        })
        .collect()
}

/// Checks a ticket about to be written with its timers: it must satisfy the domain's
/// invariants, and its timers must be its own, at most one of each kind.
pub(crate) fn ticket_write(ticket: &Ticket, timers: Option<&[Timer]>) -> Result<()> {
    ticket.check_invariants().map_err(|reason| {
        StoreError::invalid("ticket", format!("ticket {}: {reason}", ticket.id))
    })?;
    let mut kinds = HashSet::new();
    for t in timers.unwrap_or_default() {
        if t.ticket_id != ticket.id || t.subdistrict_code != ticket.subdistrict_code {
            return Err(StoreError::invalid(
                "timers",
                format!(
                    "timer {} belongs to another ticket than {}",
                    t.kind.as_str(),
                    ticket.id
                ),
            ));
        }
        if !kinds.insert(t.kind) {
            return Err(StoreError::invalid(
                "timers",
                format!("ticket {} has two {} timers", ticket.id, t.kind.as_str()),
            ));
        }
    }
    Ok(())
}

/// Why a ticket change wrote nothing, from what is stored under its id (subdistrict and
/// version, or nothing): NotFound, Invalid (field `subdistrict_code`) if the change
/// would move it to another subdistrict, else Conflict with the stored version.
pub(crate) fn change_refused(ticket: &Ticket, current: Option<(String, i64)>) -> StoreError {
    match current {
        None => StoreError::not_found("ticket", ticket.id),
        Some((sub, _)) if sub != ticket.subdistrict_code.as_str() => StoreError::invalid(
            "subdistrict_code",
            format!("ticket {} cannot move to another subdistrict", ticket.id),
        ),
        Some((_, version)) => StoreError::Conflict {
            entity: "ticket",
            key: ticket.id.to_string(),
            current_version: version,
        },
    }
}
