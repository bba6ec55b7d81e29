//! The rules of wuzhang, with no I/O: the tree of areas, the five-chief chain, tickets and
//! the state machine that every change must pass, the events that record those changes,
//! and the categories that set levels and deadlines. Everything above this crate (store,
//! services, binary) asks it what is allowed rather than deciding for itself, so the rules
//! live in one place and are tested without a database.
//!
//! Layout:
//! - [`access`]: the authenticated caller ([`access::Principal`]) and its scope checks.
//! - [`area`]: area codes, levels and the tree they form.
//! - [`chief`]: chief levels, persons and posts (who holds which area).
//! - [`chain`]: the posts above a ticket, who acts for each, and who is next.
//! - [`category`]: incident categories and their deadline rules.
//! - [`taxonomy`]: the default categories a fresh installation starts with.
//! - [`organization`]: departments, property companies and alliance units that hold
//!   tickets beside the chain (条块协同).
//! - [`campaign`]: campaigns (专项行动) fanned out as tasks to chiefs, and task results.
//! - [`calendar`]: working days, working hours and deadlines counted on them.
//! - [`clocks`]: what every command does to a ticket's timers, decided in one place.
//! - [`deadline`]: the calendars and the clocks of an assignment.
//! - [`point`]: coordinates and coordinate systems as reported.
//! - [`ticket`]: tickets, commands and the state machine.
//! - [`event`]: the append-only history of a ticket.
//! - [`evaluation`]: 考评 figures as a fold over each ticket's events.
//! - [`timer`]: deadlines kept in the store.
//! - [`clock`]: injected time.

pub mod access;
pub mod area;
pub mod calendar;
pub mod campaign;
pub mod category;
pub mod chain;
pub mod chief;
pub mod clock;
pub mod clocks;
pub mod deadline;
pub mod emergency;
pub mod evaluation;
pub mod event;
pub mod organization;
pub mod point;
pub mod taxonomy;
#[cfg(test)]
mod testing;
pub mod ticket;
pub mod timer;

/// A value that failed validation, naming the field and why. Edges turn it into a
/// `google.rpc.BadRequest` field violation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The same error nested under a parent field, e.g. `location` + `lat` → `location.lat`.
    pub fn within(self, parent: &str) -> Self {
        Self {
            field: format!("{parent}.{}", self.field),
            reason: self.reason,
        }
    }
}
