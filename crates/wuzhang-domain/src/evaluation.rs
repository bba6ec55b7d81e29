//! Evaluation (考评) as a function of the event log.
//!
//! A ticket's history is cut into *holdings*: from each receipt (assigned, escalated,
//! reassigned, reopened) to the next, one holder (a person at a level) answers for it. Every
//! figure belongs to one holding and counts on the holding's *account*: the local day it
//! was received and its holder. A [`Ledger`] per ticket folds the ticket's events in
//! order and says which figures each event adds to which account; rollups are sums of
//! those additions, so they can be kept as events arrive and recomputed from the log
//! with the same fold. The rule for every figure is in `docs/evaluation.md`; the table
//! tests below check each on a scripted history.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime, UtcOffset};

use crate::area::{Area, AreaCode, AreaLevel};
use crate::chief::{ChiefLevel, PersonId};
use crate::emergency::ModeLog;
use crate::event::{EventKind, TicketEvent};
use crate::organization::OrganizationCode;

/// Evaluation days are days of China Standard Time (Asia/Shanghai: UTC+8, no daylight
/// saving since 1991), the zone of the default working calendar.
pub const LOCAL_OFFSET: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(o) => o,
    Err(_) => panic!("UTC+8 is a valid offset"),
};

/// The local day of an instant.
pub fn local_day(t: OffsetDateTime) -> Date {
    t.to_offset(LOCAL_OFFSET).date()
}

/// The instant a local day starts.
pub fn day_start(day: Date) -> OffsetDateTime {
    day.midnight().assume_offset(LOCAL_OFFSET)
}

/// Sums that evaluation rows are made of; each is additive, so a period's figures are the
/// sum of its days'.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    /// Tickets reported in the area (area rows only).
    pub reported: i64,
    /// Holdings that began (receipts).
    pub received: i64,
    pub accepted: i64,
    pub accepted_on_time: i64,
    pub resolved: i64,
    pub resolved_on_time: i64,
    /// Resolutions later reopened (返工).
    pub reopened: i64,
    /// Resolutions rated by a resident.
    pub rated: i64,
    /// Of those, rated 4 stars or more and not `not_solved`.
    pub satisfied: i64,
    /// Resolutions closed (verified or closed by the command center).
    pub closed: i64,
    /// Of those, resolved on time (按期结案).
    pub closed_on_time: i64,
    /// Holdings that missed a deadline: accepted late, resolved late, or escalated by the timer.
    pub overdue: i64,
    /// Holdings escalated away (by hand or by the timer).
    pub escalations: i64,
    pub supervision_orders: i64,
    /// Sum over resolutions of the seconds from receipt to resolution.
    pub handling_seconds: i64,
    /// Sum over acceptances of the seconds from receipt to acceptance.
    pub response_seconds: i64,
}

impl Figures {
    /// Adds `other`, field by field.
    pub fn add(&mut self, o: &Figures) {
        self.reported += o.reported;
        self.received += o.received;
        self.accepted += o.accepted;
        self.accepted_on_time += o.accepted_on_time;
        self.resolved += o.resolved;
        self.resolved_on_time += o.resolved_on_time;
        self.reopened += o.reopened;
        self.rated += o.rated;
        self.satisfied += o.satisfied;
        self.closed += o.closed;
        self.closed_on_time += o.closed_on_time;
        self.overdue += o.overdue;
        self.escalations += o.escalations;
        self.supervision_orders += o.supervision_orders;
        self.handling_seconds += o.handling_seconds;
        self.response_seconds += o.response_seconds;
    }

    pub fn is_zero(&self) -> bool {
        *self == Figures::default()
    }

    /// The fields as (name, value), in the order of the rollup table's columns.
    pub fn columns(&self) -> [(&'static str, i64); 16] {
        [
            ("reported", self.reported),
            ("received", self.received),
            ("accepted", self.accepted),
            ("accepted_on_time", self.accepted_on_time),
            ("resolved", self.resolved),
            ("resolved_on_time", self.resolved_on_time),
            ("reopened", self.reopened),
            ("rated", self.rated),
            ("satisfied", self.satisfied),
            ("closed", self.closed),
            ("closed_on_time", self.closed_on_time),
            ("overdue", self.overdue),
            ("escalations", self.escalations),
            ("supervision_orders", self.supervision_orders),
            ("handling_seconds", self.handling_seconds),
            ("response_seconds", self.response_seconds),
        ]
    }

    /// The inverse of [`columns`](Self::columns): values in that order.
    pub fn from_columns(v: [i64; 16]) -> Self {
        let [
            reported,
            received,
            accepted,
            accepted_on_time,
            resolved,
            resolved_on_time,
            reopened,
            rated,
            satisfied,
            closed,
            closed_on_time,
            overdue,
            escalations,
            supervision_orders,
            handling_seconds,
            response_seconds,
        ] = v;
        Self {
            reported,
            received,
            accepted,
            accepted_on_time,
            resolved,
            resolved_on_time,
            reopened,
            rated,
            satisfied,
            closed,
            closed_on_time,
            overdue,
            escalations,
            supervision_orders,
            handling_seconds,
            response_seconds,
        }
    }
}

/// Whose figures: the local day a holding was received and who held it. A report
/// (`Figures::reported`) has no holder.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Account {
    pub day: Date,
    pub person: Option<PersonId>,
    pub level: Option<ChiefLevel>,
    /// The organization that held it (条块协同); its staff are not chiefs, so such a
    /// holding has no person and counts on the organization's row.
    #[serde(default)]
    pub organization: Option<OrganizationCode>,
    /// Received while the subdistrict was in emergency mode (战时): evaluation keeps the
    /// two periods apart.
    #[serde(default)]
    pub emergency: bool,
}

/// What one evaluation row stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Chief,
    Grid,
    Lane,
    Street,
    Subdistrict,
    /// A department, property company or alliance unit, by its code.
    Organization,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Scope::Chief,
        Scope::Grid,
        Scope::Lane,
        Scope::Street,
        Scope::Subdistrict,
        Scope::Organization,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Chief => "chief",
            Scope::Grid => "grid",
            Scope::Lane => "lane",
            Scope::Street => "street",
            Scope::Subdistrict => "subdistrict",
            Scope::Organization => "organization",
        }
    }
}

impl std::str::FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown evaluation scope {s:?}"))
    }
}

/// Where a ticket lies: the areas its area rows count on (属地). Missing levels (a tree
/// without lanes, say) are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    pub grid: Option<AreaCode>,
    pub lane: Option<AreaCode>,
    pub street: Option<AreaCode>,
    pub subdistrict: Option<AreaCode>,
}

impl Place {
    /// The place of the first area of a lineage (the area, then its ancestors): the grid,
    /// lane, street and subdistrict among them.
    pub fn from_lineage<'a>(lineage: impl IntoIterator<Item = &'a Area>) -> Self {
        let mut place = Place::default();
        for a in lineage {
            let slot = match a.level {
                AreaLevel::Grid => &mut place.grid,
                AreaLevel::Lane => &mut place.lane,
                AreaLevel::Street => &mut place.street,
                AreaLevel::Subdistrict => &mut place.subdistrict,
                _ => continue,
            };
            slot.get_or_insert_with(|| a.code.clone());
        }
        place
    }
}

/// One rollup row's key: a local day, a scope, the row's key (person id or area code),
/// and for chief rows the level the person held the ticket at.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowKey {
    pub day: Date,
    pub scope: Scope,
    pub key: String,
    pub level: Option<ChiefLevel>,
    /// The account's period: emergency mode or peacetime.
    pub emergency: bool,
}

/// The rollup rows `figures` on `account` adds to, for a ticket at `place`: the holder's
/// chief row (when a person held it) and one row per area of the place.
pub fn row_keys(account: &Account, place: &Place) -> Vec<RowKey> {
    let mut out = Vec::with_capacity(5);
    if let Some(p) = &account.person {
        out.push(RowKey {
            day: account.day,
            scope: Scope::Chief,
            key: p.as_str().to_owned(),
            level: account.level,
            emergency: account.emergency,
        });
    }
    if let Some(o) = &account.organization {
        out.push(RowKey {
            day: account.day,
            scope: Scope::Organization,
            key: o.as_str().to_owned(),
            level: None,
            emergency: account.emergency,
        });
    }
    let areas = [
        (Scope::Grid, &place.grid),
        (Scope::Lane, &place.lane),
        (Scope::Street, &place.street),
        (Scope::Subdistrict, &place.subdistrict),
    ];
    for (scope, code) in areas {
        if let Some(code) = code {
            out.push(RowKey {
                day: account.day,
                scope,
                key: code.as_str().to_owned(),
                level: None,
                emergency: account.emergency,
            });
        }
    }
    out
}

/// Adds an event's figures to a map of rollup rows.
pub fn add_rows(
    rows: &mut BTreeMap<RowKey, Figures>,
    additions: &[(Account, Figures)],
    place: &Place,
) {
    for (account, figures) in additions {
        for key in row_keys(account, place) {
            // A report counts on areas only (it has no holder, so no chief row anyway).
            rows.entry(key).or_default().add(figures);
        }
    }
}

/// The current holding of a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Holding {
    account: Account,
    received_at: OffsetDateTime,
    /// Whether this holding already counts as overdue (once per holding).
    overdue: bool,
}

/// A resolution that stands (not reopened since): closing, rating and reopening count on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Resolution {
    account: Account,
    on_time: bool,
    /// Whether the resident's rating counted as satisfied, once rated.
    satisfied: Option<bool>,
}

/// A ticket's evaluation state between events: what the next event's figures depend on.
/// Kept by the store beside the rollups (as JSON) so that new events continue the fold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    holding: Option<Holding>,
    resolution: Option<Resolution>,
    /// The deadlines in force: those the previous event recorded.
    accept_due_at: Option<OffsetDateTime>,
    resolve_due_at: Option<OffsetDateTime>,
    /// When an approved pause stopped the clocks, until the ticket resumes.
    paused_at: Option<OffsetDateTime>,
    /// The last event folded (events are folded once, in order).
    seq: i64,
}

impl Ledger {
    /// Folds the next event of the ticket in, returning the figures it adds and to whom.
    /// An event at or before the last one folded adds nothing (a replay is harmless).
    pub fn apply(&mut self, e: &TicketEvent) -> Vec<(Account, Figures)> {
        self.apply_in(e, &ModeLog::default())
    }

    /// [`apply`](Self::apply) in a subdistrict whose switches of emergency mode are
    /// `modes`: a report, and a holding from its receipt, count on the period in force
    /// when they happened (a holding keeps its period to the end, whatever is switched
    /// meanwhile).
    pub fn apply_in(&mut self, e: &TicketEvent, modes: &ModeLog) -> Vec<(Account, Figures)> {
        if e.seq <= self.seq {
            return Vec::new();
        }
        self.seq = e.seq;
        let ev = &e.event;
        let at = ev.at;
        let mut out: Vec<(Account, Figures)> = Vec::new();
        let mut add = |account: &Account, f: &dyn Fn(&mut Figures)| {
            let mut figures = Figures::default();
            f(&mut figures);
            out.push((account.clone(), figures));
        };
        // A deadline is met if the work was done by it, or the clocks stopped (an approved
        // pause) by it.
        let stopped_at = self.paused_at.map_or(at, |p| p.min(at));
        let met = |due: Option<OffsetDateTime>| due.is_none_or(|d| stopped_at <= d);
        match ev.kind {
            EventKind::Submitted => {
                let account = Account {
                    day: local_day(at),
                    person: None,
                    level: None,
                    organization: None,
                    emergency: modes.is_emergency_at(at),
                };
                add(&account, &|f| f.reported += 1);
            }
            EventKind::Assigned
            | EventKind::Escalated
            | EventKind::AutoEscalated
            | EventKind::Reassigned
            | EventKind::Dispatched
            | EventKind::Returned
            | EventKind::Reopened => {
                if let Some(h) = &self.holding {
                    match ev.kind {
                        EventKind::Escalated => add(&h.account, &|f| f.escalations += 1),
                        EventKind::AutoEscalated => {
                            let first_miss = !h.overdue;
                            add(&h.account, &|f| {
                                f.escalations += 1;
                                f.overdue += i64::from(first_miss);
                            });
                        }
                        _ => {}
                    }
                }
                if ev.kind == EventKind::Reopened
                    && let Some(r) = self.resolution.take()
                {
                    add(&r.account, &|f| f.reopened += 1);
                }
                // An organization's holding is the organization's, not the chief who
                // follows it as 属地 responsible.
                let account = match &ev.assignee_org_code {
                    Some(org) => Account {
                        day: local_day(at),
                        person: None,
                        level: None,
                        organization: Some(org.clone()),
                        emergency: modes.is_emergency_at(at),
                    },
                    None => Account {
                        day: local_day(at),
                        person: ev.assignee_person_id.clone(),
                        level: ev.level,
                        organization: None,
                        emergency: modes.is_emergency_at(at),
                    },
                };
                add(&account, &|f| f.received += 1);
                self.holding = Some(Holding {
                    account,
                    received_at: at,
                    overdue: false,
                });
                self.paused_at = None;
            }
            EventKind::Accepted => {
                if let Some(h) = &mut self.holding {
                    let on_time = met(self.accept_due_at);
                    let miss = !on_time && !h.overdue;
                    h.overdue |= !on_time;
                    let secs = (at - h.received_at).whole_seconds();
                    add(&h.account, &|f| {
                        f.accepted += 1;
                        f.accepted_on_time += i64::from(on_time);
                        f.overdue += i64::from(miss);
                        f.response_seconds += secs;
                    });
                }
            }
            EventKind::Resolved => {
                if let Some(h) = &mut self.holding {
                    let on_time = met(self.resolve_due_at);
                    let miss = !on_time && !h.overdue;
                    h.overdue |= !on_time;
                    let secs = (at - h.received_at).whole_seconds();
                    add(&h.account, &|f| {
                        f.resolved += 1;
                        f.resolved_on_time += i64::from(on_time);
                        f.overdue += i64::from(miss);
                        f.handling_seconds += secs;
                    });
                    self.resolution = Some(Resolution {
                        account: h.account.clone(),
                        on_time,
                        satisfied: None,
                    });
                }
            }
            EventKind::Verified | EventKind::Closed => {
                if let Some(r) = &self.resolution {
                    let on_time = r.on_time;
                    add(&r.account, &|f| {
                        f.closed += 1;
                        f.closed_on_time += i64::from(on_time);
                    });
                }
            }
            EventKind::Rated => {
                if let Some(r) = &mut self.resolution {
                    let satisfied = e.facts.rating_stars.is_some_and(|s| s >= 4)
                        && e.facts.rating_not_solved != Some(true);
                    // A second rating of the same resolution replaces the first.
                    let before = r.satisfied.replace(satisfied);
                    let first = before.is_none();
                    let change = i64::from(satisfied) - i64::from(before.unwrap_or(false));
                    add(&r.account, &|f| {
                        f.rated += i64::from(first);
                        f.satisfied += change;
                    });
                }
            }
            EventKind::Supervised => {
                if let Some(h) = &self.holding {
                    add(&h.account, &|f| f.supervision_orders += 1);
                }
            }
            EventKind::PauseApproved => self.paused_at = Some(at),
            EventKind::Resumed => self.paused_at = None,
            EventKind::Rejected | EventKind::Cancelled | EventKind::Merged => {
                self.holding = None;
                self.paused_at = None;
            }
            EventKind::DeadlineWarning
            | EventKind::Note
            | EventKind::PauseRequested
            | EventKind::PauseRefused
            | EventKind::ReporterJoined
            // Counts nothing; its deadlines (below) are the ones in force from now on.
            | EventKind::ClockRateChanged => {}
        }
        self.accept_due_at = e.facts.accept_due_at;
        self.resolve_due_at = e.facts.resolve_due_at;
        out.retain(|(_, f)| !f.is_zero());
        out
    }
}

/// How much each indicator weighs in a row's composite score (综合得分). Configurable per
/// city; the defaults follow the usual split of a 数字城管 evaluation: timeliness first,
/// then the result and the resident's view.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Weights {
    /// 响应率: accepted on time.
    pub response: f64,
    /// 按期结案率 / resolved on time.
    pub on_time: f64,
    /// 解决率: resolved of received.
    pub resolution: f64,
    /// 满意率.
    pub satisfaction: f64,
    /// 返工率, counted as 100 minus the rate.
    pub rework: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            response: 0.2,
            on_time: 0.3,
            resolution: 0.2,
            satisfaction: 0.2,
            rework: 0.1,
        }
    }
}

impl Weights {
    /// Each weight finite and 0 or more, and at least one above 0.
    pub fn check(&self) -> Result<(), String> {
        let all = [
            self.response,
            self.on_time,
            self.resolution,
            self.satisfaction,
            self.rework,
        ];
        if all.iter().any(|w| !w.is_finite() || *w < 0.0) {
            return Err("every weight must be a finite number, 0 or more".into());
        }
        if all.iter().all(|w| *w == 0.0) {
            return Err("at least one weight must be above 0".into());
        }
        Ok(())
    }
}

/// The rates and means of one row, from its figures.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Indicators {
    /// 响应率: accepted on time, of accepted, 0–100.
    pub accepted_on_time_pct: f64,
    pub resolved_on_time_pct: f64,
    /// 解决率: resolved of received, 0–100 (above 100 cannot happen: a holding resolves once).
    pub resolution_rate: f64,
    /// 按期结案率: closed resolutions that were on time, of closed.
    pub closed_on_time_pct: f64,
    pub reopen_rate: f64,
    pub satisfaction_rate: f64,
    pub mean_handling_seconds: f64,
    pub mean_response_seconds: f64,
    /// 综合得分, 0–100 to two decimals: the weighted mean of the indicators that have a
    /// denominator; 0 if none has.
    pub score: f64,
}

fn pct(n: i64, d: i64) -> Option<f64> {
    (d > 0).then(|| 100.0 * n as f64 / d as f64)
}

impl Indicators {
    pub fn of(f: &Figures, w: &Weights) -> Self {
        let response = pct(f.accepted_on_time, f.accepted);
        let on_time = pct(f.resolved_on_time, f.resolved);
        let resolution = pct(f.resolved, f.received);
        let closed = pct(f.closed_on_time, f.closed);
        let reopen = pct(f.reopened, f.resolved);
        let satisfaction = pct(f.satisfied, f.rated);
        let parts = [
            (response, w.response),
            (on_time, w.on_time),
            (resolution.map(|r| r.min(100.0)), w.resolution),
            (satisfaction, w.satisfaction),
            (reopen.map(|r| 100.0 - r.min(100.0)), w.rework),
        ];
        let (sum, weight) = parts
            .iter()
            .filter_map(|(v, w)| v.map(|v| (v * w, *w)))
            .fold((0.0, 0.0), |(s, t), (v, w)| (s + v, t + w));
        let mean = |total: i64, n: i64| if n > 0 { total as f64 / n as f64 } else { 0.0 };
        Self {
            accepted_on_time_pct: response.unwrap_or(0.0),
            resolved_on_time_pct: on_time.unwrap_or(0.0),
            resolution_rate: resolution.unwrap_or(0.0),
            closed_on_time_pct: closed.unwrap_or(0.0),
            reopen_rate: reopen.unwrap_or(0.0),
            satisfaction_rate: satisfaction.unwrap_or(0.0),
            mean_handling_seconds: mean(f.handling_seconds, f.resolved),
            mean_response_seconds: mean(f.response_seconds, f.accepted),
            // Two decimals, as a report prints it (and free of float noise: 100, not 100.00000000000001).
            score: if weight > 0.0 {
                (sum / weight * 100.0).round() / 100.0
            } else {
                0.0
            },
        }
    }
}

#[cfg(test)]
mod tests;
