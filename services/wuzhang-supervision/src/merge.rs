//! Folding a duplicate into another open ticket: the duplicate is MERGED (its clocks stop,
//! `duplicate_of` names the other), the other gains the duplicate's reporter as a follower,
//! both in one transaction, once per request id.

use wuzhang_app::ApiError;
use wuzhang_app::command::stale;
use wuzhang_app::idempotency::{Key, Recording, once};
use wuzhang_domain::access::Principal;
use wuzhang_domain::ticket::{Command, TicketId};
use wuzhang_proto::convert::{self, PhoneVisibility};
use wuzhang_proto::v1 as pb;
use wuzhang_store::{StoreError, TicketChange};

use crate::Supervision;

/// What a merge needs from the request, checked at the edge.
pub(crate) struct Merge<'a> {
    pub(crate) duplicate: TicketId,
    pub(crate) into: TicketId,
    pub(crate) expected_version: i64,
    pub(crate) note: &'a str,
}

impl Supervision {
    /// Merges `m.duplicate` into `m.into` (see the module docs); answers with the
    /// duplicate as it now stands.
    pub(crate) async fn merge(
        &self,
        caller: &Principal,
        key: &Key,
        m: Merge<'_>,
    ) -> Result<pb::Ticket, ApiError> {
        once(
            self.store.as_ref(),
            key,
            Recording::WithTheEffect,
            || async {
                let mut duplicate = self.in_command(caller, &m.duplicate).await?;
                if m.expected_version != 0 && duplicate.version != m.expected_version {
                    return Err(stale(&duplicate));
                }
                let mut into = self.in_command(caller, &m.into).await?;
                if into.subdistrict_code != duplicate.subdistrict_code {
                    return Err(ApiError::FailedPrecondition(format!(
                        "ticket {} is of subdistrict {}, the duplicate of {}: merge within one \
                     subdistrict",
                        into.id, into.subdistrict_code, duplicate.subdistrict_code
                    )));
                }
                if !into.state.is_open() {
                    return Err(ApiError::FailedPrecondition(format!(
                        "ticket {} is {}: only an open ticket takes in a duplicate",
                        into.id, into.state
                    )));
                }
                let now = self.clock.now();
                let merged = duplicate.apply(
                    Command::Merge { into: into.id },
                    &caller.subject,
                    m.note,
                    now,
                )?;
                let joined = into.apply(
                    Command::JoinReporter,
                    &caller.subject,
                    &format!("ticket {} merged into this one", duplicate.id),
                    now,
                )?;
                // The duplicate's clocks stop; the other ticket's run on (the domain's rule).
                let merged_timers = self
                    .commands
                    .clocks(&mut duplicate, &merged.clocks, now)
                    .await?;
                let joined_timers = self.commands.clocks(&mut into, &joined.clocks, now).await?;
                let answer = convert::ticket(&duplicate, PhoneVisibility::Full, now);
                let reporter = duplicate.report.reporter_id.clone();
                let changes = [
                    TicketChange {
                        ticket: duplicate,
                        events: vec![merged.event],
                        timers: merged_timers,
                        idempotency: Some(key.record(&answer, now)),
                        add_follower: None,
                        task_result: None,
                    },
                    TicketChange {
                        ticket: into,
                        events: vec![joined.event],
                        timers: joined_timers,
                        idempotency: None,
                        add_follower: Some(reporter),
                        task_result: None,
                    },
                ];
                let stored = match self.store.update_tickets(&changes).await {
                    Ok(mut stored) => stored.remove(0),
                    Err(StoreError::Conflict { .. }) => {
                        let current = self.store.get_ticket(&m.duplicate).await?;
                        return Err(stale(&current));
                    }
                    Err(e) => return Err(e.into()),
                };
                self.commands.changed();
                Ok(convert::ticket(&stored, PhoneVisibility::Full, now))
            },
        )
        .await
    }
}
