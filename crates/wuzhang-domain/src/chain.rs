//! The chain above a ticket as it stands now: who acts for each post from the ticket's
//! unit (or building, or grid) up to the command center, and who is next when a ticket
//! moves up.

use time::OffsetDateTime;

use crate::area::{Area, AreaCode};
use crate::chief::{ChiefLevel, PersonId, Post};
use crate::ticket::{Assignment, Ticket};

/// One post of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub level: ChiefLevel,
    pub area_code: AreaCode,
    /// Who acts for it now; `None` when vacant (holder away without a deputy, or no
    /// holder). The command center is a desk and never vacant.
    pub person: Option<PersonId>,
}

impl Link {
    pub fn staffed(&self) -> bool {
        self.level == ChiefLevel::CommandCenter || self.person.is_some()
    }
}

/// The areas with a post in a grid's lineage (lowest first): the grid and those above it.
pub fn grid_posts(lineage: &[Area]) -> Vec<(ChiefLevel, AreaCode)> {
    lineage
        .iter()
        .filter_map(|a| Some((a.level.chief_level()?, a.code.clone())))
        .collect()
}

/// Every post of the ticket's chain, lowest first: its unit and building (as reported),
/// then `above` (the posts of the grid and above it, lowest first).
pub fn posts_of(ticket: &Ticket, above: &[(ChiefLevel, AreaCode)]) -> Vec<(ChiefLevel, AreaCode)> {
    let r = &ticket.report;
    let mut areas = Vec::with_capacity(above.len() + 2);
    if let Some(u) = &r.unit_code {
        areas.push((ChiefLevel::Unit, u.clone()));
    }
    if let Some(b) = &r.building_code {
        areas.push((ChiefLevel::Building, b.clone()));
    }
    areas.extend(above.iter().cloned());
    areas
}

/// The chain over `areas` with who acts for each post at `now` (leave starts and ends
/// without a roster change, so this is never cached).
pub fn links(areas: Vec<(ChiefLevel, AreaCode)>, posts: &[Post], now: OffsetDateTime) -> Vec<Link> {
    areas
        .into_iter()
        .map(|(level, area_code)| {
            let person = if level == ChiefLevel::CommandCenter {
                None
            } else {
                posts
                    .iter()
                    .find(|p| p.area_code == area_code)
                    .and_then(|p| p.acting(now).cloned())
            };
            Link {
                level,
                area_code,
                person,
            }
        })
        .collect()
}

/// The first staffed post above `current`, and the vacant ones passed over on the way.
/// The command center always is; if the chain somehow lacks it, the ticket's subdistrict.
pub fn next_above(
    links: &[Link],
    current: ChiefLevel,
    subdistrict: &AreaCode,
) -> (Assignment, Vec<ChiefLevel>) {
    let mut skipped = Vec::new();
    for l in links.iter().filter(|l| l.level > current) {
        if l.staffed() {
            return (
                Assignment {
                    level: l.level,
                    area_code: l.area_code.clone(),
                    person_id: l.person.clone(),
                    organization: None,
                },
                skipped,
            );
        }
        skipped.push(l.level);
    }
    (
        Assignment {
            level: ChiefLevel::CommandCenter,
            area_code: subdistrict.clone(),
            person_id: None,
            organization: None,
        },
        skipped,
    )
}

/// Says where a ticket went and what was passed over, for the event note.
pub fn describe_move(from: ChiefLevel, to: &Assignment, skipped: &[ChiefLevel]) -> String {
    let mut s = format!("{from} → {}", to.level);
    if !skipped.is_empty() {
        let names: Vec<String> = skipped.iter().map(ToString::to_string).collect();
        s.push_str(&format!(" (no one on duty at {})", names.join(", ")));
    }
    s
}
