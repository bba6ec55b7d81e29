//! Switching a subdistrict's emergency mode (战时, of 平战结合) and carrying its open
//! tickets over to the new clock rate: the rule is the domain's
//! (`wuzhang_domain::emergency`), this is how it is written.
//!
//! A switch is written first (the mode, its log entry and the reference counter, in one
//! transaction), then every open ticket of the subdistrict whose rate differs is changed
//! one by one with a `SetClockRate` command (its event, its rescaled timers), in pages
//! read again until none is left. That makes the carry-over resumable: a switch that
//! stopped half way (a crash, a lost race, a ticket that kept changing) is finished by
//! switching again to the same mode, which writes a new log entry and carries over
//! whatever is left. After the first pass it waits for the processes' reference check
//! interval and passes once more: a ticket written meanwhile by a process that had not
//! yet seen the switch started at the old rate, and is carried over then.

use std::time::Duration;

use wuzhang_domain::area::AreaCode;
use wuzhang_domain::emergency::EmergencyMode;
use wuzhang_domain::ticket::Command;
use wuzhang_store::Store;

use crate::ApiError;
use crate::command::TicketCommands;

/// Tickets read per page of the carry-over.
const PAGE: u32 = 500;

/// Pages in a row that carried nothing over (every ticket on them moved meanwhile)
/// before the switch gives up and says so.
const STUCK_PAGES: u32 = 3;

/// Switches `sub` to `mode` and carries its open tickets over to the mode's rate;
/// returns how many were carried over. `settle` is how long other processes may take to
/// see a switch (their reference cache's check interval).
pub async fn switch_emergency_mode(
    store: &dyn Store,
    commands: &TicketCommands,
    sub: &AreaCode,
    mode: &EmergencyMode,
    settle: Duration,
) -> Result<u64, ApiError> {
    store.switch_emergency_mode(sub, mode).await?;
    let mut carried = carry_over(store, commands, sub, mode).await?;
    tokio::time::sleep(settle).await;
    carried += carry_over(store, commands, sub, mode).await?;
    Ok(carried)
}

/// Changes every open ticket of `sub` not at `mode`'s rate to it.
async fn carry_over(
    store: &dyn Store,
    commands: &TicketCommands,
    sub: &AreaCode,
    mode: &EmergencyMode,
) -> Result<u64, ApiError> {
    let note = if mode.is_on() {
        format!("emergency mode at {}: {}", mode.rate, mode.reason)
    } else {
        format!("back to peacetime: {}", mode.reason)
    };
    let mut carried = 0;
    let mut stuck = 0;
    loop {
        let page = store.tickets_off_rate(sub, mode.rate, PAGE).await?;
        if page.is_empty() {
            return Ok(carried);
        }
        let before = carried;
        for ticket in page {
            let command = Command::SetClockRate {
                from: ticket.clock_rate,
                to: mode.rate,
            };
            if commands
                .apply_system(ticket, command, &mode.switched_by, &note)
                .await?
                .is_some()
            {
                carried += 1;
            }
        }
        if carried == before {
            stuck += 1;
            if stuck >= STUCK_PAGES {
                return Err(ApiError::Unavailable(format!(
                    "the open tickets of {sub} kept changing while their clocks were \
                     rescaled ({carried} done); switch again to the same mode to finish"
                )));
            }
        } else {
            stuck = 0;
        }
    }
}
