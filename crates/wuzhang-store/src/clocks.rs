//! What a ticket's clock effect reads from the store before it becomes timers.
//!
//! The domain decides every command's [`ClockEffect`] and turns it into timers
//! ([`ClockEffect::timers`]); the writer of the change reads only what the effect
//! [`needs`](ClockEffect::needs), here, so a note or a warning costs no read and an
//! escalation only its category (which the timer worker keeps in memory and passes in).
//! A ticket an organization holds runs on the organization's calendar where it names one.

use time::OffsetDateTime;
use wuzhang_domain::category::Category;
use wuzhang_domain::clocks::{ClockEffect, ClockInputs};
use wuzhang_domain::deadline::Calendars;
use wuzhang_domain::event::EventKind;
use wuzhang_domain::ticket::Ticket;
use wuzhang_domain::timer::Timer;

use crate::{Result, Store};

/// What was read for one effect; [`inputs`](Self::inputs) lends it to the domain.
#[derive(Debug, Clone, Default)]
pub struct ClockReadings {
    pub category: Option<Category>,
    pub standing: Option<Vec<Timer>>,
    pub paused_at: Option<OffsetDateTime>,
}

impl ClockReadings {
    /// Reads what `effect` needs for `ticket` (after its command). `category` is the
    /// ticket's category when the caller already has it.
    pub async fn read(
        store: &dyn Store,
        ticket: &Ticket,
        effect: &ClockEffect,
        category: Option<Category>,
    ) -> Result<Self> {
        let needs = effect.needs();
        let mut out = Self::default();
        if needs.category {
            let category = match category {
                Some(c) => c,
                None => store.get_category(&ticket.report.category_code).await?,
            };
            // An organization's clocks run on its own calendar, where it names one.
            let held_by = ticket
                .assignment
                .as_ref()
                .and_then(|a| a.organization.as_ref());
            out.category = Some(match held_by {
                Some(code) => {
                    let all = store.organizations().await?;
                    match all.iter().find(|o| &o.code == code) {
                        Some(o) => o.clocks_for(&category),
                        None => category,
                    }
                }
                None => category,
            });
        }
        if needs.standing {
            out.standing = Some(store.list_timers(&ticket.id).await?);
        }
        if needs.paused_at {
            out.paused_at = Some(paused_at(store, ticket).await?);
        }
        Ok(out)
    }

    /// The domain's view of what was read.
    pub fn inputs<'a>(&'a self, calendars: &'a Calendars, warn_share: f64) -> ClockInputs<'a> {
        ClockInputs {
            calendars,
            warn_share,
            category: self.category.as_ref(),
            standing: self.standing.as_deref(),
            paused_at: self.paused_at,
        }
    }
}

/// When the ticket's current pause began: its latest approval (the ticket's last change
/// if the log has none, which only a hand-edited store can produce).
async fn paused_at(store: &dyn Store, ticket: &Ticket) -> Result<OffsetDateTime> {
    let events = store.list_events(&ticket.id, 0, 100_000).await?;
    Ok(events
        .iter()
        .rev()
        .find(|e| e.event.kind == EventKind::PauseApproved)
        .map_or(ticket.updated_at, |e| e.event.at))
}
